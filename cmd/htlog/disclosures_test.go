package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// demoDisclosures is the demo patient's history as the accounting sees it:
// a consent, a treatment access, a break-glass access, and disclosures
// under every kind of basis, one before the period, one without an opening
// and one whose opening does not match.
type demoEvent struct {
	at          time.Time
	kind        string
	purpose     string
	basis       string // "-": not a disclosure
	recipient   string
	description string
}

func demoHistory(t *testing.T) ([]client.Event, []client.BundleOpening, map[string]string) {
	base := time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC)
	hist := []demoEvent{
		{base.AddDate(-7, 0, 0), "access", "PUBHLTH", "public-health", "County health office", "immunisation record"}, // 0: before the six years
		{base, "consent", "", "-", "", ""},
		{base.Add(time.Hour), "access", "TREAT", "-", "", ""},
		{base.Add(2 * time.Hour), "access", "ETREAT", "-", "", ""},
		{base.Add(3 * time.Hour), "access", "PUBHLTH", "public-health", "State health department", "laboratory result"}, // 4: listed
		{base.Add(4 * time.Hour), "access", "TREAT", "tpo", "City Cardiology", "discharge summary"},                     // 5: (i)
		{base.Add(5 * time.Hour), "access", "PATRQT", "to-patient", "the patient", "full record"},                       // 6: (ii)
		{base.Add(6 * time.Hour), "access", "HRESCH", "authorization", "Trial sponsor", "study data"},                   // 7: (iv)
		{base.Add(7 * time.Hour), "access", "HLEGAL", "law-enforcement", "County sheriff", "injury report"},             // 8: listed
		{base.Add(8 * time.Hour), "access", "HRESCH", "research-waiver", "University registry", "diagnosis codes"},      // 9: listed, no opening
		{base.Add(9 * time.Hour), "access", "HPAYMT", "", "Insurer", "claim"},                                           // 10: no basis, TPO purpose: (i)
		{base.Add(10 * time.Hour), "access", "PUBHLTH", "abuse-neglect", "Social services", "injury report"},            // 11: listed, bad opening
	}
	var events []client.Event
	var openings []client.BundleOpening
	values := map[string]string{}
	for i, h := range hist {
		var body map[string]any
		switch h.kind {
		case "consent":
			body = map[string]any{"status": "active"}
		default:
			body = map[string]any{"purpose_of_use": h.purpose}
		}
		if h.basis != "-" {
			rc, ro := event.Commit([]byte(h.recipient))
			dc, do := event.Commit([]byte(h.description))
			d := map[string]any{"flag": true, "recipient": rc, "description": dc}
			if h.basis != "" {
				d["basis"] = h.basis
			}
			body["disclosure"] = d
			values[rc], values[dc] = h.recipient, h.description
			switch i {
			case 9: // no opening in the bundle
			case 11:
				openings = append(openings, client.BundleOpening{Commitment: rc, Value: "Someone else", Opening: hex.EncodeToString(ro)},
					client.BundleOpening{Commitment: dc, Value: h.description, Opening: hex.EncodeToString(do)})
			default:
				openings = append(openings, client.BundleOpening{Commitment: rc, Value: h.recipient, Opening: hex.EncodeToString(ro)},
					client.BundleOpening{Commitment: dc, Value: h.description, Opening: hex.EncodeToString(do)})
			}
		}
		raw, _ := json.Marshal(body)
		events = append(events, client.Event{Index: uint64(i), ID: "sha256:" + strings.Repeat(string(rune('a'+i)), 64),
			Event: &event.Event{Kind: h.kind, Version: 2, Submitter: event.Submitter{Org: "npi:1234567893"},
				OccurredAt: h.at.Format(time.RFC3339), Body: raw}})
	}
	return events, openings, values
}

// TestAccountingOfDisclosures: of the demo patient's events, exactly the
// disclosures 164.528 requires are listed (public health, law enforcement,
// research under a waiver, abuse and neglect, within six years), with
// recipients and descriptions opened and checked; the others are counted
// with the paragraph that excludes them.
func TestAccountingOfDisclosures(t *testing.T) {
	events, openings, _ := demoHistory(t)
	until := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	name := func(org string) string {
		if org == "npi:1234567893" {
			return "General Hospital"
		}
		return ""
	}
	a := account(events, openings, name, until.AddDate(-6, 0, 0), until)
	var listed []uint64
	for _, d := range a.Disclosures {
		listed = append(listed, d.Index)
	}
	if got := jsonOf(listed); got != "[4,8,9,11]" {
		t.Fatalf("listed entries %s, want 4,8,9,11", got)
	}
	d := a.Disclosures[0]
	if d.Recipient.Value != "State health department" || d.Recipient.Status != openedOK || d.Description.Value != "laboratory result" ||
		d.PurposeText != "public health" || d.BasisText != "public health activities (164.512(b))" || d.DiscloserName != "General Hospital" {
		t.Fatalf("public-health disclosure: %+v", d)
	}
	if r := a.Disclosures[2].Recipient; r.Status != openedMissing || r.Value != "" {
		t.Fatalf("without an opening: %+v", r)
	}
	if r := a.Disclosures[3].Recipient; r.Status != openedMismatch || r.Value != "" {
		t.Fatalf("an opening that does not match: %+v", r)
	}
	if a.Disclosures[3].Description.Status != openedOK {
		t.Fatalf("the matching opening beside it: %+v", a.Disclosures[3].Description)
	}
	var excluded []string
	for _, x := range a.Excluded {
		excluded = append(excluded, x.Reason[:strings.Index(x.Reason, ":")])
	}
	if strings.Join(excluded, " ") != "164.528(a)(1)(i) 164.528(a)(1)(ii) 164.528(a)(1)(iv) 164.528(a)(1)(i)" {
		t.Fatalf("excluded: %v", a.Excluded)
	}

	// The printable forms say the same, and never show a value whose
	// opening did not match.
	var text, page bytes.Buffer
	a.Custodian, a.CustodianName, a.Origin, a.Verified = "npi:1234567893", "General Hospital", "log.example", "checked"
	if err := writeAccountingText(&text, a, time.UTC); err != nil {
		t.Fatal(err)
	}
	if err := acctHTML.Execute(&page, acctView{a, time.UTC}); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), page.String()} {
		for _, want := range []string{"State health department", "County sheriff", "law enforcement (164.512(f))", openedMismatch,
			openedMissing, "Sun 3 May 2026, 12:00", "General Hospital (npi:1234567893)"} {
			if !strings.Contains(out, want) {
				t.Errorf("the accounting lacks %q:\n%s", want, out)
			}
		}
		for _, never := range []string{"Someone else", "City Cardiology", "Trial sponsor", "County health office"} {
			if strings.Contains(out, never) {
				t.Errorf("the accounting shows %q", never)
			}
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBundleWithOpenings: a bundle the strict parser refuses for an
// opening that does not match is read, the opening set aside for the
// accounting to report; any other fault is refused.
func TestBundleWithOpenings(t *testing.T) {
	good := `{"type":"htlog-patient-bundle/v1","log":"http://127.0.0.1:8080","custodian":"npi:1234567893","key":"` +
		strings.Repeat("42", 32) + `","policy":"log ` + testonly.NewFakeLog(t, "log.example").VKey + `\nquorum none\n"`
	c, o := event.Commit([]byte("x"))
	bad := good + `,"openings":[{"commitment":"` + c + `","value":"y","opening":"` + hex.EncodeToString(o) + `"}]}`
	pb, openings, err := bundleWithOpenings([]byte(bad))
	if err != nil || pb == nil || len(openings) != 1 || openField(c, openings).Status != openedMismatch {
		t.Fatalf("bundle with a bad opening: %v %v %v", pb, openings, err)
	}
	if _, _, err := bundleWithOpenings([]byte(strings.Replace(bad, "npi:1234567893", "npi:1234567890", 1))); err == nil {
		t.Fatal("a bad custodian accepted")
	}
}

// FuzzBundleWithOpenings: whatever the bytes, reading a bundle does not
// panic, and a bundle it returns passed the strict parser but for its
// openings, each of which the accounting checks again.
func FuzzBundleWithOpenings(f *testing.F) {
	f.Add([]byte(`{"type":"htlog-patient-bundle/v1"}`))
	f.Add([]byte(`{"openings":[{"commitment":"commit:v1:00","value":"x","opening":"zz"}]}`))
	f.Add([]byte(`{"openings":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pb, openings, err := bundleWithOpenings(b)
		if err != nil {
			return
		}
		if pb == nil {
			t.Fatal("no bundle and no error")
		}
		for _, o := range openings {
			if got := openField(o.Commitment, []client.BundleOpening{o}); got.Status == openedOK && got.Value != o.Value {
				t.Fatalf("opened %q as %q", o.Value, got.Value)
			}
		}
	})
}

// TestDisclosuresAgainstStack: on a real log, a patient's bundle finds
// their events, and the accounting lists exactly the disclosures 164.528
// requires (to public health and to law enforcement), with the recipients
// and descriptions opened, leaving out those for operations and under the
// patient's authorization, and every access that is not a disclosure.
func TestDisclosuresAgainstStack(t *testing.T) {
	testonly.RequireIntegration(t)
	s := testonly.StartStack(t)
	key := bytes.Repeat([]byte{0x5a}, 32)
	tag := event.PatientTag(key, s.Org)
	var openings []client.BundleOpening
	disclosure := func(basis, purpose, recipient, what string) []byte {
		var m map[string]any
		if err := json.Unmarshal(testonly.Example(t, "access", "valid-disclosure-to-public-health.json"), &m); err != nil {
			t.Fatal(err)
		}
		rc, ro := event.Commit([]byte(recipient))
		dc, do := event.Commit([]byte(what))
		openings = append(openings, client.BundleOpening{Commitment: rc, Value: recipient, Opening: hex.EncodeToString(ro)},
			client.BundleOpening{Commitment: dc, Value: what, Opening: hex.EncodeToString(do)})
		m["patient"], m["purpose_of_use"] = tag, purpose
		m["disclosure"] = map[string]any{"flag": true, "recipient": rc, "description": dc, "basis": basis}
		b, _ := json.Marshal(m)
		return b
	}
	routine := func(name string) []byte {
		var m map[string]any
		if err := json.Unmarshal(testonly.Example(t, "access", name), &m); err != nil {
			t.Fatal(err)
		}
		m["patient"] = tag
		b, _ := json.Marshal(m)
		return b
	}
	c := &client.Client{URL: s.URL, Policy: s.Policy}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, body := range [][]byte{
		routine("valid-routine-read.json"),
		disclosure("public-health", "PUBHLTH", "State health department", "laboratory result"),
		disclosure("tpo", "HOPERAT", "Quality registry", "discharge summary"),
		disclosure("authorization", "HRESCH", "Trial sponsor", "study data"),
		routine("valid-break-glass.json"),
		disclosure("law-enforcement", "PUBHLTH", "County sheriff", "injury report"),
	} {
		env := s.Envelope(t, "access", body, testonly.Minute(time.Duration(i-10)*time.Minute))
		if _, err := c.Submit(ctx, env); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	policy, err := os.ReadFile(s.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	bundle := &client.PatientBundle{Type: client.BundleType, Log: s.URL, Custodian: s.Org, Key: hex.EncodeToString(key),
		Policy: string(policy), Openings: openings}
	b, err := bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "disclosures", "--bundle", file, "--format", "json", "--tz", "UTC", "--timeout", "20s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var a Accounting
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, d := range a.Disclosures {
		got = append(got, d.Basis+":"+d.Recipient.Value+":"+d.Description.Value+":"+d.Recipient.Status)
	}
	if strings.Join(got, " | ") != "public-health:State health department:laboratory result:opened | law-enforcement:County sheriff:injury report:opened" {
		t.Fatalf("listed: %v\n%s", got, out)
	}
	if len(a.Excluded) != 2 || a.Excluded[0].Basis != "tpo" || a.Excluded[1].Basis != "authorization" || !strings.Contains(a.Verified, "cosigned by") {
		t.Fatalf("excluded %+v, verified %q", a.Excluded, a.Verified)
	}
	// The printable form, over a period that leaves them all out.
	code, out, errOut = runCLI(t, "disclosures", "--bundle", file, "--until", "2020-01-01", "--tz", "UTC")
	if code != 0 || !strings.Contains(out, "No disclosure to account for in this period.") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}
