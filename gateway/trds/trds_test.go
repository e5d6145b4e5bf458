package trds

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/schemas"
)

func TestRegistration(t *testing.T) {
	in, err := os.ReadFile("../testdata/trds/registration.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 10, 17, 33, 0, time.UTC)
	it, err := Map(in, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(it.Body)
	v, _ := schemas.NewValidator()
	got, err := v.ValidateDecoded(it.Kind, it.Version, b)
	if err != nil {
		t.Fatalf("not valid under trial v%d: %v\n%s", it.Version, err, b)
	}
	want, _ := os.ReadFile("../../schemas/examples/trial/valid-registration.json")
	var w map[string]any
	json.Unmarshal(want, &w)
	// The TRDS form of the schema's own registration example maps back to it.
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Errorf("mapped\n%s\nwant\n%s", gb, wb)
	}
	if it.OccurredAt != "2026-12-02T10:17:00Z" || it.Subject != "trial:NCT06123456" {
		t.Errorf("occurred_at %s subject %s", it.OccurredAt, it.Subject)
	}
}

func TestRefusals(t *testing.T) {
	in, _ := os.ReadFile("../testdata/trds/registration.json")
	for name, c := range map[string][2]string{
		"unknown item":    {`"phase": "phase_3",`, `"phase": "phase_3", "participant_names": ["x"],`},
		"no sponsor":      {`"primary_sponsor": "gln:0614141123452",`, ``},
		"no outcomes":     {`"primary_outcomes": [{"measure": "Progression-free survival (RECIST 1.1)", "time_frame": "Up to 36 months"}],`, `"primary_outcomes": [],`},
		"wrong JSON type": {`"n": 640`, `"n": "640"`},
	} {
		_, err := Map([]byte(strings.Replace(string(in), c[0], c[1], 1)), time.Now())
		if me, ok := err.(*mapping.Error); !ok || me.Status != 400 || strings.Contains(me.Reason, "participant") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzMap(f *testing.F) {
	in, _ := os.ReadFile("../testdata/trds/registration.json")
	f.Add(in)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := Map(b, time.Now())
		if err != nil {
			if _, ok := err.(*mapping.Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if it.Kind != "trial" || it.Body["subtype"] != "registration" || it.Body["registry_id"] == "" {
			t.Fatalf("item %+v", it)
		}
	})
}
