package client_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/schemas"
)

// TestWebPlainLanguage holds web/htlog.js to Go's plain language: for the
// project's example events (access, break-glass, disclosure, consent,
// revocation, custody; versions 2 and 3) the page's describe, verdictText
// and inLogText must give exactly the text of client.Describe, VerdictText
// and InLogText, in two time zones, with and without a verified registry.
// The page's words come from the value sets as the log serves them, so
// this also checks that the page says what the value sets say.
func TestWebPlainLanguage(t *testing.T) {
	node := testonly.LookPath(t, "node", "nodejs")
	recipient, ropen := event.Commit([]byte("State Department of Health"))
	description, dopen := event.Commit([]byte("immunisation record"))
	bundle := &client.PatientBundle{Openings: []client.BundleOpening{
		{Commitment: recipient, Value: "State Department of Health", Opening: hex.EncodeToString(ropen)},
		{Commitment: description, Value: "immunisation record", Opening: hex.EncodeToString(dopen)},
	}}
	disclosure := map[string]any{"action": "E", "outcome": "0", "purpose_of_use": "PUBHLTH",
		"agent":      map[string]any{"role": map[string]string{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150"}, "organization": "npi:1245319599"},
		"disclosure": map[string]any{"flag": true, "recipient": recipient, "description": description, "basis": "public-health"}}
	discBody, _ := json.Marshal(disclosure)
	type ev struct {
		name string
		kind string
		ver  int
		body []byte
	}
	example := func(kind, file string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "schemas", "examples", kind, file))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	events := []ev{
		{"routine read", "access", 2, example("access", "valid-routine-read.json")},
		{"break-glass", "access", 2, example("access", "valid-break-glass.json")},
		{"disclosure example", "access", 2, example("access", "valid-disclosure-to-public-health.json")},
		{"disclosure opened", "access", 2, discBody},
		{"failed read", "access", 2, []byte(`{"action":"R","outcome":"8","purpose_of_use":"TREAT","agent":{"role":{"system":"http://terminology.hl7.org/CodeSystem/practitioner-role","code":"ict"},"organization":"npi:1234567893"}}`)},
		{"consent", "consent", 2, example("consent", "valid-treatment-grant.json")},
		{"revocation", "consent", 2, example("consent", "valid-revocation.json")},
		{"custody", "custody", 2, example("custody", "valid-pharmacy-dispensing.json")},
	}
	for _, name := range []string{"valid-rest-read.json", "valid-delegated-read.json", "valid-disclosure-to-public-health.json"} {
		if b, err := os.ReadFile(filepath.Join("..", "schemas", "examples", "v3", "access", name)); err == nil {
			events = append(events, ev{"v3 " + name, "access", 3, b})
		}
	}
	reg := &client.Registry{Submitters: []client.RegistrySubmitter{{Org: "npi:1234567893", Name: "General Hospital"}, {Org: "npi:1245319599", Name: ""}}}
	consentAt := time.Date(2026, 5, 2, 22, 30, 0, 0, time.UTC)
	verdicts := []client.EntryVerdict{
		{Status: client.VerdictAllowed, ConsentAt: &consentAt}, {Status: client.VerdictAllowed},
		{Status: client.VerdictPermittedDisclosure}, {Status: client.VerdictUnderReview},
		{Status: client.VerdictFlagged, Findings: []client.VerdictFinding{{Rule: "access_without_consent", State: "open", Summary: "x"}}},
		{Status: client.VerdictFlagged, Findings: []client.VerdictFinding{{Rule: "r", State: "resolved", Summary: "old"}, {Rule: "access_volume", State: "acknowledged", Summary: "Many records."}}},
		{Status: client.VerdictNoFinding}, {Status: client.VerdictNotCheckedYet},
	}
	type want struct {
		When, Sentence, Disclosure string
		BreakGlass                 bool
	}
	type jsCase struct {
		Event    map[string]any `json:"event"`
		Named    bool           `json:"named"`
		TZ       string         `json:"tz"`
		Want     want           `json:"-"`
		Name     string         `json:"name"`
		Openings bool           `json:"openings"`
	}
	var cases []jsCase
	for _, tz := range []string{"UTC", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range events {
			at := "2026-05-03T23:45:00+02:00"
			evt := &event.Event{Kind: e.kind, Version: e.ver, Submitter: event.Submitter{Org: "npi:1234567893", KeyID: strings.Repeat("0", 64)}, OccurredAt: at, Body: e.body}
			named := i%3 != 2
			r := reg
			if !named {
				r = nil
			}
			d := client.Describe(uint64(i), evt, "", r, bundle, loc)
			var m map[string]any
			j, _ := json.Marshal(evt)
			json.Unmarshal(j, &m)
			cases = append(cases, jsCase{Event: m, Named: named, TZ: tz, Name: e.name + " " + tz, Openings: true,
				Want: want{When: d.When, Sentence: d.Sentence, Disclosure: d.Disclosure, BreakGlass: d.BreakGlass}})
		}
	}
	sets := map[string]any{}
	for _, n := range []string{"agent-role", "purpose-of-use", "disclosure-basis"} {
		vs, _ := schemas.LookupValueSet(n)
		sets[n] = vs.Concepts
	}
	var goVerdicts []string
	for _, v := range verdicts {
		goVerdicts = append(goVerdicts, client.VerdictText(v, time.UTC), client.VerdictText(v, mustLoc(t, "Asia/Kolkata")))
	}
	fixture, _ := json.Marshal(map[string]any{"cases": cases, "sets": sets, "verdicts": verdicts,
		"openings": map[string]string{recipient: "State Department of Health", description: "immunisation record"},
		"names":    map[string]string{"npi:1234567893": "General Hospital"}})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fixture.json"), fixture, 0o644)
	abs, _ := filepath.Abs("web/htlog.js")
	script := `
const h = require(` + "`" + abs + "`" + `);
const f = require(process.argv[1]);
const openings = new Map(Object.entries(f.openings)), names = new Map(Object.entries(f.names));
const out = {cases: [], verdicts: [], inLog: h.inLogText(12)};
for (const c of f.cases) out.cases.push(h.describe(c.event, c.named ? names : null, openings, f.sets, c.tz));
for (const v of f.verdicts) out.verdicts.push(h.verdictText(v, "UTC"), h.verdictText(v, "Asia/Kolkata"));
console.log(JSON.stringify(out));`
	out, err := exec.Command(node, "-e", script, filepath.Join(dir, "fixture.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Cases []struct {
			When, Sentence, Disclosure string
			BreakGlass                 bool
		}
		Verdicts []string
		InLog    string
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got.Cases) != len(cases) {
		t.Fatalf("node printed %s", out)
	}
	for i, c := range cases {
		g := got.Cases[i]
		if g.When != c.Want.When || g.Sentence != c.Want.Sentence || g.Disclosure != c.Want.Disclosure || g.BreakGlass != c.Want.BreakGlass {
			t.Errorf("%s:\n page %+v\n Go   %+v", c.Name, g, c.Want)
		}
	}
	if strings.Join(got.Verdicts, "|") != strings.Join(goVerdicts, "|") {
		t.Errorf("verdicts:\n page %q\n Go   %q", got.Verdicts, goVerdicts)
	}
	if got.InLog != client.InLogText(12) {
		t.Errorf("in-log text: page %q, Go %q", got.InLog, client.InLogText(12))
	}
	// The words really are the value sets' (not codes that fell through).
	all := ""
	for _, c := range cases {
		all += c.Want.Sentence + c.Want.Disclosure + "\n"
	}
	for _, w := range []string{"A doctor at General Hospital viewed your record, for treatment.", "for emergency treatment (break-glass)",
		"An application at the organisation npi:1245319599 (no name in the log's registry) used your record, for public health.",
		"Disclosed to State Department of Health (immunisation record), on the basis of public health activities (164.512(b)).",
		"An ICT professional at General Hospital tried to use your record (it failed), for treatment.",
		"recorded your consent, for treatment, care management.", "General Hospital recorded that you withdrew a consent.", "(name not verified)"} {
		if !strings.Contains(all, w) {
			t.Errorf("no event reads %q:\n%s", w, all)
		}
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestWebBundle: web/htlog.js accepts the bundles Go's ParsePatientBundle
// accepts, computes the same tag, and refuses the broken ones Go refuses.
func TestWebBundle(t *testing.T) {
	node := testonly.LookPath(t, "node", "nodejs")
	good := testBundle(t)
	var texts []string
	mutate := func(f func(m map[string]any)) {
		m := testBundle(t)
		m["key"], m["policy"] = good["key"], good["policy"]
		f(m)
		texts = append(texts, string(mustJSON(t, m)))
	}
	mutate(func(m map[string]any) {})
	for _, f := range []func(m map[string]any){
		func(m map[string]any) { m["type"] = "htlog-patient-bundle/v2" },
		func(m map[string]any) { m["extra"] = 1 },
		func(m map[string]any) { m["log"] = "ftp://log.example" },
		func(m map[string]any) { m["custodian"] = "npi:1234567890" },
		func(m map[string]any) { m["key"] = strings.ToUpper(m["key"].(string)) },
		func(m map[string]any) { m["policy"] = "quorum none\n" },
		func(m map[string]any) { m["monitors"].([]any)[0].(map[string]any)["vkey"] = "monitor+00000000+AAAA" },
		func(m map[string]any) { m["openings"].([]any)[0].(map[string]any)["value"] = "someone else" },
	} {
		mutate(f)
	}
	for i, text := range texts {
		_, err := client.ParsePatientBundle([]byte(text))
		if (err == nil) != (i == 0) {
			t.Fatalf("Go: bundle %d: %v", i, err)
		}
	}
	dir := t.TempDir()
	fixture, _ := json.Marshal(texts)
	os.WriteFile(filepath.Join(dir, "fixture.json"), fixture, 0o644)
	abs, _ := filepath.Abs("web/htlog.js")
	script := `
const h = require(` + "`" + abs + "`" + `);
const f = require(process.argv[1]);
(async () => {
  const out = [];
  for (const text of f) out.push(await h.parseBundle(text).then((b) => "tag " + b.tag, (e) => "error " + e.message));
  console.log(JSON.stringify(out));
})();`
	out, err := exec.Command(node, "-e", script, filepath.Join(dir, "fixture.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(texts) {
		t.Fatalf("node printed %s", out)
	}
	b, _ := client.ParsePatientBundle([]byte(texts[0]))
	tag, _ := b.Tag()
	if got[0] != "tag "+tag {
		t.Errorf("the page reads the valid bundle as %q, want tag %s", got[0], tag)
	}
	for i, g := range got[1:] {
		if !strings.HasPrefix(g, "error ") {
			t.Errorf("the page accepts broken bundle %d: %s\n%s", i+1, g, texts[i+1])
		}
	}
}
