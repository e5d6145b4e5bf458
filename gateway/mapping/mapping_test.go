package mapping

import (
	"testing"

	"github.com/htlog/htlog/event"
)

func TestMinute(t *testing.T) {
	for in, want := range map[string]string{
		"2013-06-20T23:42:24Z":          "2013-06-20T23:42:00Z",
		"2012-10-25T22:04:27+11:00":     "2012-10-25T11:04:00Z",
		"2005-04-03T20:33:31.116-06:00": "2005-04-04T02:33:00Z",
	} {
		if got, err := Minute("x", in); err != nil || got != want {
			t.Errorf("Minute(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"2013-06-20", "2013-06-20T23:42:24", "yesterday"} {
		if _, err := Minute("x", bad); err == nil {
			t.Errorf("Minute(%s) accepted", bad)
		}
	}
}

func TestParseCode(t *testing.T) {
	c, ok := ParseCode("http://terminology.hl7.org/CodeSystem/practitioner-role|doctor")
	if !ok || c.System != "http://terminology.hl7.org/CodeSystem/practitioner-role" || c.Code != "doctor" || !InValueSet("agent-role", c.System, c.Code) {
		t.Errorf("ParseCode = %v %v", c, ok)
	}
	for _, bad := range []string{"doctor", "|doctor", "http://x|"} {
		if _, ok := ParseCode(bad); ok {
			t.Errorf("ParseCode(%q) accepted", bad)
		}
	}
}

func TestCommitter(t *testing.T) {
	var c Committer
	cm := c.Commit("Patient/1", "Practitioner/2")
	if len(c.Openings) != 1 || c.Openings[0].Commitment != cm || c.Openings[0].Patient != "Patient/1" ||
		!event.VerifyCommitment(cm, c.Openings[0].Opening, []byte("Practitioner/2")) || len(c.Openings[0].OpeningHex()) != 64 {
		t.Errorf("openings %+v", c.Openings)
	}
	if AsError(Unmappable("a.b", "why")).Status != 422 || AsError(Malformed("", "x")).Status != 400 || AsError(errTest{}).Status != 500 {
		t.Error("AsError")
	}
}

type errTest struct{}

func (errTest) Error() string { return "x" }
