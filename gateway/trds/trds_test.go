package trds

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/schemas"
)

var commitRE = regexp.MustCompile(`commit:v1:[0-9a-f]{64}`)

// mapAndCompare maps the TRDS document in, validates the body under its
// schema and compares it with the schema example want, every commitment
// counted as equal to every other; it returns the item.
func mapAndCompare(t *testing.T, in []byte, version int, want string) mapping.Item {
	t.Helper()
	now := time.Date(2026, 12, 2, 10, 17, 33, 0, time.UTC)
	it, err := MapVersion(in, now, version)
	if err != nil {
		t.Fatal(err)
	}
	if it.Version != version {
		t.Fatalf("version %d, want %d", it.Version, version)
	}
	b, _ := json.Marshal(it.Body)
	v, _ := schemas.NewValidator()
	got, err := v.ValidateDecoded(it.Kind, it.Version, b)
	if err != nil {
		t.Fatalf("not valid under trial v%d: %v\n%s", it.Version, err, b)
	}
	wantB, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	if err := json.Unmarshal(wantB, &w); err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(got)
	if a, b := commitRE.ReplaceAllString(string(gb), "C"), commitRE.ReplaceAllString(string(wb), "C"); a != b {
		t.Errorf("mapped\n%s\nwant\n%s", a, b)
	}
	if it.OccurredAt != "2026-12-02T10:17:00Z" || it.Subject != "trial:NCT06123456" {
		t.Errorf("occurred_at %s subject %s", it.OccurredAt, it.Subject)
	}
	return it
}

// TestRegistration maps the TRDS form of the schema's version 3
// registration example back to it: every TRDS 1.3.1 item reaches the body,
// text as commitments the gateway can open.
func TestRegistration(t *testing.T) {
	in, err := os.ReadFile("../testdata/trds/registration.json")
	if err != nil {
		t.Fatal(err)
	}
	it := mapAndCompare(t, in, 3, "../../schemas/examples/v3/trial/valid-registration.json")
	if it2, err := Map(in, time.Now()); err != nil || it2.Version != 3 {
		t.Errorf("Map maps to version %d (%v), want 3", it2.Version, err)
	}
	var r map[string]any
	json.Unmarshal(in, &r)
	ethics := r["ethics_review"].(map[string]any)
	elig := r["eligibility"].(map[string]any)
	opens := func(commitment any, value string) bool {
		for _, o := range it.Openings {
			if o.Commitment == commitment && o.Patient == "" && o.Value == value && event.VerifyCommitment(o.Commitment, o.Opening, []byte(value)) {
				return true
			}
		}
		return false
	}
	b := it.Body
	for name, c := range map[string][2]any{
		"public_title":       {b["public_title"], r["public_title"]},
		"scientific_title":   {b["scientific_title"], r["scientific_title"]},
		"acronym":            {b["acronym"], r["acronym"]},
		"contacts[0]":        {b["contacts"].([]any)[0], r["contacts"].([]any)[0]},
		"funding_sources[1]": {b["funding_sources"].([]any)[1].(map[string]any)["name"], "National Cancer Research Fund"},
		"secondary_sponsors": {b["secondary_sponsors"].([]any)[0].(map[string]any)["name"], "European Thoracic Oncology Group"},
		"interventions[1]":   {b["interventions"].([]any)[1].(map[string]any)["name"], "Docetaxel 75 mg/m2 IV every 3 weeks"},
		"criteria":           {b["eligibility"].(map[string]any)["criteria"], elig["criteria"]},
		"ethics committee":   {b["ethics_review"].(map[string]any)["committee"], ethics["committee"]},
		"ethics approval":    {b["ethics_review"].(map[string]any)["approval"], ethics["approval"]},
		"outcome wording":    {b["primary_outcomes"].([]any)[0].(map[string]any)["text"], `{"measure":"Progression-free survival (RECIST 1.1)","time_frame":"Up to 36 months"}`},
	} {
		if !opens(c[0], c[1].(string)) {
			t.Errorf("%s: no opening of %v to the input's text", name, c[0])
		}
	}
	if len(it.Openings) != 12 {
		t.Errorf("%d openings, want 12", len(it.Openings))
	}
	if strings.Contains(string(mustJSON(b)), "Drug X") {
		t.Error("a title or name is in clear in the body")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestRegistrationV2 keeps version 2: the TRDS form of the v2 example maps
// back to it, and items only v3 carries are refused rather than dropped.
func TestRegistrationV2(t *testing.T) {
	in, err := os.ReadFile("../testdata/trds/registration-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	mapAndCompare(t, in, 2, "../../schemas/examples/trial/valid-registration.json")
	v3, _ := os.ReadFile("../testdata/trds/registration.json")
	_, err = MapVersion(v3, time.Now(), 2)
	if me, ok := err.(*mapping.Error); !ok || me.Status != 422 || me.Path == "" {
		t.Errorf("v3 items mapped to v2: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	in, _ := os.ReadFile("../testdata/trds/registration.json")
	for name, c := range map[string][3]string{
		"unknown item":         {`"phase": "phase_3",`, `"phase": "phase_3", "participant_names": ["x"],`, ""},
		"unknown sub-item":     {`"metric": "time_to_event", "aggregation": "median",`, `"metric": "time_to_event", "patient": "x",`, ""},
		"no sponsor":           {`"primary_sponsor": "gln:0614141123452",`, ``, "primary_sponsor"},
		"wrong JSON type":      {`"n": 640`, `"n": "640"`, ""},
		"condition text only":  {`{"text": "Non-Small Cell Lung Cancer", "code": {"system": "http://hl7.org/fhir/sid/icd-10", "code": "C34.9"}}`, `"Non-Small Cell Lung Cancer"`, "conditions[0].code"},
		"condition not ICD":    {`"code": "C34.9"`, `"code": "lung cancer"`, "conditions[0]"},
		"no duration":          {`"duration": {"value": 36, "unit": "month", "anchor": "randomization"}`, `"metric": "count"`, "primary_outcomes[0].duration"},
		"unknown country":      {`"countries": ["US", "DE", "FR"]`, `"countries": ["US", "XX"]`, "countries[1]"},
		"no countries":         {`"countries": ["US", "DE", "FR"],`, ``, ""},
		"no ethics review":     {`"ethics_review"`, `"x_ethics_review"`, ""},
		"approved, no date":    {`"status": "approved", "date": "2024-12-01",`, `"status": "approved",`, "ethics_review"},
		"party both":           {`{"organization": "gln:0614141123452"}, {"name"`, `{"organization": "gln:0614141123452", "name": "A"}, {"name"`, "funding_sources[0]"},
		"intervention no type": {`{"type": "drug", "code": {"system": "http://www.whocc.no/atc", "code": "L01XC"},`, `{"code": {"system": "http://www.whocc.no/atc", "code": "L01XC"},`, "interventions[0].type"},
	} {
		s := strings.Replace(string(in), c[0], c[1], 1)
		if s == string(in) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		_, err := Map([]byte(s), time.Now())
		me, ok := err.(*mapping.Error)
		if !ok || me.Status/100 != 4 || strings.Contains(me.Reason, "participant") || strings.Contains(me.Reason, "lung") || strings.Contains(me.Error(), "XX") {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c[2] != "" && !strings.HasPrefix(me.Path, c[2]) {
			t.Errorf("%s: refused at %q, want %q (%v)", name, me.Path, c[2], err)
		}
	}
}

// TestNoPrimaryOutcome: TRDS item 20 is required.
func TestNoPrimaryOutcome(t *testing.T) {
	in, _ := os.ReadFile("../testdata/trds/registration.json")
	var r map[string]any
	if err := json.Unmarshal(in, &r); err != nil {
		t.Fatal(err)
	}
	r["primary_outcomes"] = []any{}
	_, err := Map(mustJSON(r), time.Now())
	if me, ok := err.(*mapping.Error); !ok || me.Path != "primary_outcomes" {
		t.Errorf("no primary outcome: %v", err)
	}
}

func FuzzMap(f *testing.F) {
	for _, p := range []string{"../testdata/trds/registration.json", "../testdata/trds/registration-v2.json"} {
		in, _ := os.ReadFile(p)
		f.Add(in)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"conditions": ["a", {"text": "b"}], "interventions": [{"type": 1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, version := range []int{2, 3} {
			it, err := MapVersion(b, time.Now(), version)
			if err != nil {
				if _, ok := err.(*mapping.Error); !ok {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			if it.Kind != "trial" || it.Version != version || it.Body["subtype"] != "registration" || it.Body["registry_id"] == "" {
				t.Fatalf("item %+v", it)
			}
		}
	})
}
