package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/finding"
)

func TestWrite(t *testing.T) {
	fs := []finding.Finding{{Rule: "r", Severity: finding.High, Index: 4, EventIDs: []string{"sha256:a", "sha256:b"}, Detail: "x, \"y\"", Time: time.Unix(0, 0)},
		{Rule: "split_view", Index: finding.NoIndex, Evidence: "e"}}
	var b bytes.Buffer
	if err := Write(&b, fs, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][3] != "4" || rows[1][7] != "x, \"y\"" || rows[2][3] != "" {
		t.Fatalf("csv: %v %v", rows, err)
	}
	b.Reset()
	if err := Write(&b, fs, "json"); err != nil {
		t.Fatal(err)
	}
	var back []finding.Finding
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 2 || back[0].EventIDs[1] != "sha256:b" {
		t.Fatalf("json: %v %v", back, err)
	}
	if Write(&b, fs, "xml") == nil {
		t.Fatal("xml accepted")
	}
}

// TestWriteHTML: the printable report names the organisations, escapes
// details and says which events it covers.
func TestWriteHTML(t *testing.T) {
	fs := []finding.Finding{{Rule: "access_without_consent", Severity: finding.High, Index: 4, Submitter: "npi:1234567893",
		Detail: "<script>x</script>", EventTime: time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC), State: finding.StateOpen}}
	r := Report{Title: "General Hospital", Origin: "log.example", Org: "npi:1234567893", Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		OrgName: func(string) string { return "General Hospital" }}
	var b bytes.Buffer
	if err := r.Write(&b, fs, "html"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Findings report: General Hospital", "2026-05-03 10:00 UTC", "access without consent",
		"&lt;script&gt;", "Events from 2026-01-01 00:00 UTC to now", "1 findings: 1 high;", `<th scope="col">Event time</th>`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "<script>") {
		t.Fatal("detail not escaped")
	}
	if FileName("npi:1/../x") != "npi_1_.._x" || FileName("") != "log" {
		t.Fatal(FileName("npi:1/../x"))
	}
}
