package schemas

import (
	"fmt"
	"regexp"
	"strings"
)

// Codings of large terminologies: a version 3 trial names conditions,
// interventions and outcome measures by codes of terminologies too large to
// bundle (ICD-10, SNOMED CT, MeSH, LOINC, ATC, RxNorm, UNII). A schema names
// the kind of coding with the format "htlog-coding:<kind>" on a {system,
// code} object; the validator checks that the system is one the kind
// allows and that the code has that terminology's syntax. It cannot check
// that the code exists: a registry or a reader looks it up.

// FormatCodingPrefix starts the name of the format that asserts a coding of
// a named terminology: "htlog-coding:" + the kind (condition, intervention,
// measure).
const FormatCodingPrefix = "htlog-coding:"

// terminologies maps a code system URI to the syntax of its codes.
var terminologies = map[string]*regexp.Regexp{
	"http://hl7.org/fhir/sid/icd-10":              regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$`),
	"http://hl7.org/fhir/sid/icd-10-cm":           regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$`),
	"http://snomed.info/sct":                      regexp.MustCompile(`^[1-9][0-9]{5,17}$`),
	"http://id.nlm.nih.gov/mesh":                  regexp.MustCompile(`^[DC][0-9]{6,9}$`),
	"http://loinc.org":                            regexp.MustCompile(`^[1-9][0-9]{0,6}-[0-9]$`),
	"http://www.whocc.no/atc":                     regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`),
	"http://www.nlm.nih.gov/research/umls/rxnorm": regexp.MustCompile(`^[1-9][0-9]{0,8}$`),
	"http://fdasis.nlm.nih.gov":                   regexp.MustCompile(`^[0-9A-Z]{10}$`),
}

// codingKinds maps a kind of coding to the terminologies it allows.
var codingKinds = map[string][]string{
	"condition":    {"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm", "http://snomed.info/sct", "http://id.nlm.nih.gov/mesh"},
	"intervention": {"http://www.whocc.no/atc", "http://www.nlm.nih.gov/research/umls/rxnorm", "http://fdasis.nlm.nih.gov", "http://snomed.info/sct"},
	"measure":      {"http://loinc.org", "http://snomed.info/sct", "http://id.nlm.nih.gov/mesh"},
}

// IsTerminologyCode reports whether code has the syntax of a code of the
// terminology system, one of those the "htlog-coding" formats allow.
func IsTerminologyCode(system, code string) bool {
	re, ok := terminologies[system]
	return ok && re.MatchString(code)
}

// IsAnyTerminologyCode reports whether code has the syntax of a code of any
// terminology the "htlog-coding" formats allow: the admission check's scan
// skips such a value where a coding's code belongs.
func IsAnyTerminologyCode(code string) bool {
	for _, re := range terminologies {
		if re.MatchString(code) {
			return true
		}
	}
	return false
}

// codingFormat is the format checker of a kind of coding: an object must
// hold a string system the kind allows and a code of its syntax. Other
// types pass (the schema's "type" constrains them).
func codingFormat(kind string, systems []string) func(any) error {
	return func(v any) error {
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		system, _ := t["system"].(string)
		code, _ := t["code"].(string)
		for _, s := range systems {
			if s == system && IsTerminologyCode(system, code) {
				return nil
			}
		}
		return fmt.Errorf("not a %s coding", kind)
	}
}

// codingReason completes a ValidationError about a coding format.
func codingReason(kind string) string {
	return "is not a " + kind + " code of " + strings.Join(codingKinds[kind], ", ") + " with that terminology's syntax"
}
