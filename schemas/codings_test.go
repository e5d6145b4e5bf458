package schemas_test

import (
	"testing"

	"github.com/htlog/htlog/schemas"
)

func TestTerminologyCodes(t *testing.T) {
	tests := []struct {
		system, code string
		ok           bool
	}{
		{"http://hl7.org/fhir/sid/icd-10", "C34.9", true},
		{"http://hl7.org/fhir/sid/icd-10", "C34", true},
		{"http://hl7.org/fhir/sid/icd-10", "lung cancer", false},
		{"http://hl7.org/fhir/sid/icd-10-cm", "E11.65", true},
		{"http://snomed.info/sct", "281756005", true},
		{"http://snomed.info/sct", "0281756005", false},
		{"http://id.nlm.nih.gov/mesh", "D002289", true},
		{"http://id.nlm.nih.gov/mesh", "MRN0048291", false},
		{"http://loinc.org", "2339-0", true},
		{"http://loinc.org", "2339", false},
		{"http://www.whocc.no/atc", "L01XC", true},
		{"http://www.whocc.no/atc", "L01CD02", true},
		{"http://www.whocc.no/atc", "L01CD023", false},
		{"http://www.nlm.nih.gov/research/umls/rxnorm", "1049502", true},
		{"http://fdasis.nlm.nih.gov", "362O9ITL9D", true},
		{"http://example.org/codes", "C34.9", false},
	}
	for _, tc := range tests {
		if got := schemas.IsTerminologyCode(tc.system, tc.code); got != tc.ok {
			t.Errorf("IsTerminologyCode(%s, %s) = %v, want %v", tc.system, tc.code, got, tc.ok)
		}
	}
	if !schemas.IsAnyTerminologyCode("D002289") || schemas.IsAnyTerminologyCode("Jane Doe") {
		t.Error("IsAnyTerminologyCode")
	}
	if !schemas.IsCodeSystem("http://snomed.info/sct") || !schemas.IsCodeSystem("https://ref.gs1.org/cbv/Disp") {
		t.Error("the terminologies and the CBV are code systems")
	}
}
