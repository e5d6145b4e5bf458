package phi

import (
	"strings"
	"testing"
)

// planted holds identifiers that Scan must find, alone and inside longer
// strings, with the kind it must report.
var planted = []struct {
	s    string
	kind Kind
}{
	{"123-45-6789", SSN},
	{"123 45 6789", SSN},
	{"SSN 123456789", SSN},
	{"ssn:123456789", SSN},
	{"555-123-4567", Phone},
	{"(555) 123-4567", Phone},
	{"555.123.4567", Phone},
	{"+1 555 123 4567", Phone},
	{"+15551234567", Phone},
	{"tel 5551234567", Phone},
	{"phone: 5551234567", Phone},
	{"ph 5551234567", Phone},
	{"mobile 5551234567", Phone},
	{"cell:15551234567", Phone},
	{"+44 20 7946 0958", Phone},
	{"020 7946 0958", Phone},
	{"jane.doe@example.org", Email},
	{"JANE.DOE@EXAMPLE.ORG", Email},
	{"x@y.io", Email},
	{"oncology/jane.doe@example.org/notes", Email},
	{"MRN 1234567", RecordNumber},
	{"mrn:1234567", RecordNumber},
	{"MRN#1234567", RecordNumber},
	{"MR# 00123456", RecordNumber},
	{"mrn:00123456", RecordNumber},
	{"MRN 12345", RecordNumber},
	{"chart 1234567", RecordNumber},
	{"patient id 1234567", RecordNumber},
	{"patient id 123456", RecordNumber},
	{"acct 12345678", RecordNumber},
	{"medical record 1234567", RecordNumber},
	{"1234567", RecordNumber},
	{"123456789", RecordNumber},
	{"ABC1234567", RecordNumber},
	{"gln:0614141000013", RecordNumber}, // wrong check digit: not a GLN
	{"npi:1234567890", RecordNumber},
	{"DOB 1970-03-02", BirthDate},
	{"dob:19700302", BirthDate},
	{"born 2 March 1970", BirthDate},
	{"date of birth 03/02/1970", BirthDate},
	{"b. 1970-03-02", BirthDate},
	{"DOB 3/2/70", BirthDate},
	{"1970-03-02", BirthDate},
	{"03/02/1970", BirthDate},
	{"2/3/1970", BirthDate},
	{"19700302", BirthDate},
	{"2 March 1970", BirthDate},
	{"March 2, 1970", BirthDate},
	{"2nd Mar 1970", BirthDate},
	{"02MAR1970", BirthDate},
	{"31.12.1999", BirthDate},
	{"29/02/2000", BirthDate},
	{"123 Main Street", Address},
	{"42 Elm St.", Address},
	{"1600 Pennsylvania Ave NW", Address},
	{"10 Downing St", Address},
	{"221B Baker Street", Address},
	{"PO Box 1234", Address},
	{"P.O. Box 1234", Address},
	{"Apt 4B", Address},
	{"apt. 12", Address},
	{"12345-6789", Address},
	{"Springfield, IL 62704", Address},
	{"springfield, il 62704", Address},
	{"SW1A 2AA", Address},
	{"sw1a 2aa", Address},
	{"M1 1AE", Address},
	{"EC1A1BB", Address},
	{"Opened chart of Jane Roe, HIV clinic", Name},
	{"Pt John Smith", Name},
	{"SMITH", Name},
	{"smith", Name},
	{"maria.garcia", Name},
	{"García", Name},
	{"GARCÍA", Name},
	{"Garci\u0301a", Name}, // decomposed accent
	{"Łukasz", Name},
	{"Dr Smith", Name},
	{"Dr_Smith", Name},
	{"Mr. X", Name},
	{"Mrs Xyzzy", Name},
	{"Ms Qwerty", Name},
	{"Prof. Zed", Name},
	{"Jane Roe HIV clinic", Name},
	{"Lee", Name},
	{"Nguyen", Name},
	{"Müller", Name},
	{"O'Brien", Name},
	{"roe-jane", Name},
	{"Johnson", Name},
	{"patient 44054006", RecordNumber},
}

// combined strings must be refused, whatever kind is reported first.
var combined = []string{
	"Dr Smith, jane.doe@example.org, MRN 1234567, 555-123-4567",
	"oncology-ehr/patients/roe-jane-dob-19700302",
	"roe-jane-dob-19700302",
	"note: seen on 2 March 1970",
	"ship to 123 Main Street, Springfield, IL 62704",
}

// clean holds real trial text, codes and ids that Scan must let through.
var clean = []string{
	"A Phase 3 Study of Drug X Versus Placebo in Adults With Moderate to Severe Plaque Psoriasis",
	"Change From Baseline in HbA1c at Week 26",
	"Overall Survival",
	"Progression-Free Survival per RECIST 1.1",
	"Time to First Exacerbation Over 52 Weeks",
	"Hamilton Depression Rating Scale (HAM-D17) total score at week 8",
	"Montgomery-Asberg Depression Rating Scale (MADRS) Total Score",
	"Beck Depression Inventory-II",
	"Kaplan-Meier estimate of overall survival",
	"Modified Rankin Scale at Day 90",
	"Number of Participants With Treatment-Emergent Adverse Events",
	"Parkinson Disease",
	"Crohn Disease",
	"Crohn's Disease Activity Index (CDAI)",
	"Hodgkin Lymphoma",
	"Alzheimer Disease",
	"Type 2 Diabetes Mellitus",
	"Non-Small Cell Lung Cancer",
	"COVID-19",
	"Semaglutide 2.4 mg once weekly",
	"Pembrolizumab 200 mg IV every 3 weeks",
	"Up to 24 months",
	"Baseline and week 12",
	"12 weeks",
	"Day 28",
	"2026",
	"Year 2026",
	"A1B2C3",
	"LOT2026A",
	"24B117",
	"X9Y8Z7",
	"ABC12345",
	"ed-triage-01",
	"elr-gateway",
	"epic-prod-2",
	"v2.1",
	"1.0",
	"Stevens-Johnson Syndrome",
	"Wilson Disease",
	"Graves Disease",
	"Down Syndrome",
	"Guillain-Barre Syndrome",
	"Duchenne Muscular Dystrophy",
	"Turner Syndrome",
	"Cushing's Syndrome",
	"Hashimoto Thyroiditis",
	"Kawasaki Disease",
	"Charcot-Marie-Tooth Disease",
	"Glasgow Coma Scale",
	"Karnofsky Performance Status",
	"Barthel Index",
	"Oswestry Disability Index",
	"Charlson Comorbidity Index",
	"Wilcoxon rank-sum test",
	"Mann-Whitney U test",
	"Fisher's exact test",
	"Cox proportional hazards model",
	"Harris Hip Score at 12 months",
	"Roland-Morris Disability Questionnaire",
	"Yale-Brown Obsessive Compulsive Scale",
	"Fugl-Meyer Assessment of upper extremity",
	"Berg Balance Scale",
	"Child-Pugh class B cirrhosis",
	"Young Mania Rating Scale",
	"Gleason score 7",
	"McDonald criteria",
	"Cohen's kappa",
	"Tanner stage",
	"Markov model",
	"Eli Lilly and Company",
	"Hoffmann-La Roche",
	"Bristol-Myers Squibb",
	"Percentage of Participants Achieving ACR20 Response at Week 24",
	"Incidence of Grade 3 or Higher Neutropenia",
	"Mean Change in Systolic Blood Pressure",
	"Annualized Relapse Rate",
	"Pharmacokinetics: Cmax and AUC0-inf of Drug X",
	"Serum ANA titer",
	"TIM-3 and LAG-3 expression",
	"Ang II levels",
	"DAS28-CRP remission",
	"Relapsing MS",
	"MS Functional Composite",
	"DR severity scale",
	"MRS lactate peak",
	"pH 7.4",
	"30 min after dosing",
	"5 ng/mL",
	"Fall Risk Assessment",
	"Burns Unit",
	"Colon Cancer Screening",
	"Time to Grade 2 or Worse Peripheral Neuropathy Over 104 Weeks",
	"Open-label extension, 2 years",
	"Double-blind, placebo-controlled, 1:1 randomisation",
	"Proportion with HbA1c < 7.0% at Week 52",
	"Dose 0.5 mg/kg twice daily for 14 days",
	"NCT01234567",
	"ISRCTN12345678",
	"2022-500014-26-00",
	"EudraCT 2015-001314-10",
	"CTRI/2020/05/025048",
	"jrct2031200001",
	"gln:0614141000012",
	"npi:1234567893",
	"urn:oid:2.16.840.1.113883.3.72",
	"urn:epc:id:sgln:0614141.00001.0",
	"sha256:" + strings.Repeat("0123456789abcdef", 4),
	"tag:v1:" + strings.Repeat("0123456789abcdef", 4),
	"commit:v1:" + strings.Repeat("19700302", 8),
	"GTIN 00614141123452",
	"gtin:00614141123452",
	"GLN 0614141000012",
	"site gln:0614141000012 in trial NCT01234567",
	"Week 12, 24 and 48",
	"Days 1, 8 and 15 of each 21-day cycle",
	"CD4 count",
	"CD4 2nd line",
	"IL-6 and TNF-alpha",
	"Visit 3 (Month 6)",
	"March 2026",
	"12 May",
	"Q2 2025",
	"Version 2.3.1",
	"Protocol Amendment 4",
	"NASH",
	"SNOMED CT 44054006",
	"http://snomed.info/sct/44054006",
	"MD Anderson Cancer Center",
	"Memorial Sloan Kettering Cancer Center",
	"Dana-Farber Cancer Institute",
	"St. George's Respiratory Questionnaire total score",
	"Unified Parkinson's Disease Rating Scale Part III",
	"Harvey-Bradshaw Index",
	"Mayo Score",
	"New York Heart Association class",
	"Ginger extract",
	"Six-minute walk distance",
	"Blood pressure 120/80 mmHg",
	"LOINC 2345-7",
	"NDC 0002-7597-01",
	"HL7 v2.5.1 ORU^R01",
	"Sponsor: Boehringer Ingelheim",
	"Sponsor: Novo Nordisk A/S",
}

func TestScanPlanted(t *testing.T) {
	for _, p := range planted {
		for _, s := range []string{p.s, "text " + p.s + " more", "(" + p.s + ")"} {
			k, ok := Scan(s)
			if !ok {
				t.Errorf("Scan(%q) found nothing, want %s", s, p.kind)
			} else if s == p.s && k != p.kind {
				t.Errorf("Scan(%q) = %s, want %s", s, k, p.kind)
			}
		}
	}
	for _, s := range combined {
		if _, ok := Scan(s); !ok {
			t.Errorf("Scan(%q) found nothing", s)
		}
	}
}

func TestScanClean(t *testing.T) {
	for _, s := range clean {
		if k, ok := Scan(s); ok {
			t.Errorf("Scan(%q) = %s, want nothing", s, k)
		}
	}
}

func TestWordLists(t *testing.T) {
	names, stops := 0, 0
	for _, c := range classes {
		if c&cName != 0 {
			names++
		}
		if c&cStop != 0 {
			stops++
		}
	}
	if names < 3000 {
		t.Errorf("names.txt has %d names, want at least 3000", names)
	}
	t.Logf("%d names, %d stop words", names, stops)
}

// TestScanAllocs checks that clean text costs no allocation. Strings with
// an allowed identifier that would otherwise be a finding (a trial id, a
// prefixed GLN) are exempt: checking the identifier may allocate.
func TestScanAllocs(t *testing.T) {
	for _, s := range clean {
		if strings.ContainsAny(s, ":/") || hasDigitRun(s, 7) || strings.Contains(s, "-5000") {
			continue
		}
		if n := testing.AllocsPerRun(10, func() { Scan(s) }); n > 0 {
			t.Errorf("Scan(%q) allocates %v times", s, n)
		}
	}
}

func hasDigitRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func FuzzScan(f *testing.F) {
	for _, p := range planted {
		f.Add(p.s)
	}
	for _, s := range clean[:20] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := Scan(s)
		if ok != (k != "") {
			t.Fatalf("Scan(%q) = %q, %v", s, k, ok)
		}
		// Spaces around the string change nothing.
		if k2, ok2 := Scan("  " + s + " "); k2 != k || ok2 != ok {
			t.Errorf("Scan(%q) = %q but with spaces around it %q", s, k, k2)
		}
	})
}

var benchStrings = []string{
	"ed-triage-01", "elr-gateway", "epic-prod-2", "v2.1", "1.0", "A1B2C3", "LOT2026A", "24B117", "ABC12345",
	"NCT01234567", "gln:0614141000012", "COVID-19", "Overall Survival", "12 weeks", "Day 28",
	"Change From Baseline in HbA1c at Week 26",
	"Hamilton Depression Rating Scale (HAM-D17) total score at week 8",
	"A Phase 3 Study of Drug X Versus Placebo in Adults With Moderate to Severe Plaque Psoriasis",
}

func BenchmarkScan(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Scan(benchStrings[i%len(benchStrings)])
	}
}

func BenchmarkScanShort(b *testing.B) {
	short := benchStrings[:15]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Scan(short[i%len(short)])
	}
}
