package admission_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/phicorpus"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/schemas"
)

// v3Examples returns the version 3 examples of kind whose names start with
// prefix (schemas/examples/v3/<kind>).
func v3Examples(t testing.TB, kind, prefix string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testonly.RepoRoot(), "schemas", "examples", "v3", kind, prefix+"*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s examples of %s: %v", prefix, kind, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// edit decodes body, lets change modify it, and encodes it again.
func edit(t testing.TB, body []byte, change func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordedAfter sets an access's recorded time to d after occurred.
func recordedAfter(t testing.TB, body []byte, occurred string, d time.Duration) []byte {
	at, _ := time.Parse(time.RFC3339, occurred)
	return edit(t, body, func(m map[string]any) {
		if _, ok := m["recorded"]; ok {
			m["recorded"] = at.Add(d).Format(time.RFC3339)
		}
	})
}

// TestVersion3ExamplesAreAdmitted: every valid version 3 example passes the
// whole check, every invalid one gets one 4xx refusal, and version 2 stays
// admitted beside version 3.
func TestVersion3ExamplesAreAdmitted(t *testing.T) {
	f := exampleFixture(t)
	occurred := f.at(-time.Hour)
	for _, kind := range schemas.Kinds {
		for name, body := range v3Examples(t, kind, "valid-") {
			body = recordedAfter(t, body, occurred, time.Minute)
			v := f.checker.Check(f.sign(t, kind, 3, occurred, body), f.now, true)
			if !v.OK() || !v.Authentic || v.Body == nil {
				t.Errorf("%s/%s: refused: %v", kind, name, v.Refusals)
			}
		}
		for name, body := range v3Examples(t, kind, "invalid-") {
			r := f.checker.Check(f.sign(t, kind, 3, occurred, body), f.now, false).First()
			if r == nil || r.Status/100 != 4 || strings.Contains(r.Reason, "\n") {
				t.Errorf("%s/%s: %v, want one 4xx refusal", kind, name, r)
			}
		}
		for name, body := range testonly.Examples(t, kind, "valid-") {
			if v := f.checker.Check(f.sign(t, kind, 2, occurred, body), f.now, false); !v.OK() {
				t.Errorf("%s/%s as version 2 beside version 3: %v", kind, name, v.First())
			}
			break
		}
	}
}

// TestVersion3Checks: the checks version 3 adds, each refusing what it
// must and naming the field.
func TestVersion3Checks(t *testing.T) {
	f := exampleFixture(t)
	occurred := f.at(-time.Hour)
	access := v3Examples(t, "access", "valid-")["valid-delegated-read.json"]
	custody := v3Examples(t, "custody", "valid-")["valid-illegitimate-product-quarantined.json"]
	consent := v3Examples(t, "consent", "valid-")["valid-treatment-grant-deny-one-person.json"]
	trial := v3Examples(t, "trial", "valid-")["valid-registration.json"]
	tests := []struct {
		name, kind string
		body       []byte
		code       string // "" means admitted
		field      string
	}{
		{"recorded a minute after", "access", recordedAfter(t, access, occurred, time.Minute), "", ""},
		{"recorded before occurred_at", "access", recordedAfter(t, access, occurred, -time.Minute), admission.CodeTime, "body/recorded"},
		{"recorded with seconds", "access", recordedAfter(t, access, occurred, 90*time.Second), admission.CodeTime, "body/recorded"},
		{"recorded ahead of the clock", "access", recordedAfter(t, access, occurred, 2*time.Hour), admission.CodeTime, "body/recorded"},
		{"delegating user of another organisation", "access", edit(t, recordedAfter(t, access, occurred, time.Minute), func(m map[string]any) {
			m["agents"].([]any)[1].(map[string]any)["organization"] = "npi:1245319599"
		}), admission.CodeIdentity, "body/agents/1/organization"},
		{"requestor of another organisation", "access", edit(t, recordedAfter(t, access, occurred, time.Minute), func(m map[string]any) {
			m["agents"].([]any)[0].(map[string]any)["organization"] = "npi:1245319599"
		}), admission.CodeIdentity, "body/agents/0/organization"},
		{"undeclared source system", "access", edit(t, recordedAfter(t, access, occurred, time.Minute), func(m map[string]any) {
			m["source_system"] = "ehr-unknown"
		}), admission.CodeIdentity, "body/source_system"},
		{"consent controller of another organisation", "consent", edit(t, consent, func(m map[string]any) {
			m["controller"] = "npi:1245319599"
		}), admission.CodeIdentity, "body/controller"},
		{"FDA notice before the determination", "custody", edit(t, custody, func(m map[string]any) {
			m["illegitimate_product"].(map[string]any)["fda_notified_at"] = "2025-05-02T08:00:00Z"
		}), admission.CodeTime, "body/illegitimate_product/fda_notified_at"},
		{"determination with seconds", "custody", edit(t, custody, func(m map[string]any) {
			m["illegitimate_product"].(map[string]any)["determined_at"] = "2025-05-02T09:00:30Z"
		}), admission.CodeTime, "body/illegitimate_product/determined_at"},
		{"custody location not the submitter's", "custody", edit(t, custody, func(m map[string]any) {
			m["biz_location"] = "urn:epc:id:sgln:0999999.00001.0"
		}), admission.CodeIdentity, "body/biz_location"},
		{"results URL off the allow list", "trial", edit(t, trial, func(m map[string]any) {
			m["summary_results"] = map[string]any{"posted_date": "2029-10-01", "url": "https://example.com/results"}
		}), admission.CodePrivacy, "body/summary_results/url"},
		{"sponsor the submitter may not speak for", "trial", edit(t, trial, func(m map[string]any) {
			m["sponsor"] = "gln:0361414000001"
		}), admission.CodeIdentity, "body/sponsor"},
	}
	for _, tc := range tests {
		r := f.checker.Check(f.sign(t, tc.kind, 3, occurred, tc.body), f.now, false).First()
		switch {
		case tc.code == "" && r != nil:
			t.Errorf("%s: refused: %v", tc.name, r)
		case tc.code != "" && (r == nil || r.Code != tc.code || !strings.HasPrefix(r.Reason, tc.field+":")):
			t.Errorf("%s: got %v, want a %s refusal of %s", tc.name, r, tc.code, tc.field)
		}
	}
}

// TestVersion3CorpusRefused is TestCorpusRefused on the version 3
// examples: an identifier planted in any string position of any valid
// version 3 body is refused, and the refusal does not quote it.
func TestVersion3CorpusRefused(t *testing.T) {
	f := exampleFixture(t)
	occurred := f.at(-time.Hour)
	var examples []phicorpus.Example
	for _, kind := range schemas.Kinds {
		for name, body := range v3Examples(t, kind, "valid-") {
			examples = append(examples, phicorpus.Example{Kind: kind, Name: name, Body: recordedAfter(t, body, occurred, time.Minute)})
		}
	}
	g, err := phicorpus.New(3, examples)
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]int{}
	// Every position twice, each time with another kind of identifier,
	// the kinds rotating over the positions: about 850 probes, seconds
	// under -race (TestCorpusRefused sweeps the version 2 examples with
	// every kind at every position).
	n, np := 0, g.Positions()
	for sweep := range 2 {
		for pos := range np {
			i := pos + np*((pos+3*sweep)%len(phicorpus.Kinds))
			n++
			p := g.Probe(i)
			r := f.checker.Check(f.sign(t, p.Kind, 3, occurred, p.Body), f.now, false).First()
			if r == nil {
				t.Fatalf("probe %d admitted: %s %s at %s in %s/%s", i, p.IDKind, p.Planted, p.Path, p.Kind, p.Example)
			}
			if strings.Contains(r.Reason, p.Planted) {
				t.Fatalf("probe %d: the refusal quotes the identifier: %s", i, r.Reason)
			}
			byCode[r.Code]++
		}
	}
	t.Logf("%d probes over %d string positions, all refused: %v", n, np, byCode)
}
