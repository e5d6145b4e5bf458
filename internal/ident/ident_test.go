package ident

import (
	"strings"
	"testing"
)

func TestNPI(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"1234567893", true}, // CMS example
		{"1245319599", true},
		{"1234567890", false}, // wrong check digit
		{"3234567893", false}, // first digit must be 1 or 2
		{"123456789", false},
		{"12345678930", false},
		{"123456789a", false},
		{"", false},
		{" 1234567893", false},
	} {
		if got := NPI(tt.s); got != tt.want {
			t.Errorf("NPI(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestGS1(t *testing.T) {
	for _, tt := range []struct {
		s                    string
		gs1, gln, gtin, sscc bool
	}{
		// Examples from GS1 General Specifications and GS1 US documents.
		{"0614141000012", true, true, false, false},
		{"0614141000005", true, true, false, false},
		{"0614141123452", true, true, false, false},
		{"00614141123452", true, false, true, false},
		{"106141412345678908", true, false, false, true},
		{"614141123452", true, false, false, false}, // GTIN-12
		{"96385074", true, false, false, false},     // GTIN-8
		{"4006381333931", true, true, false, false},
		{"5901234123457", true, true, false, false},
		// Wrong check digits.
		{"0614141000013", false, false, false, false},
		{"00614141123453", false, false, false, false},
		{"106141412345678909", false, false, false, false},
		{"96385075", false, false, false, false},
		// Wrong lengths and characters.
		{"061414100001", false, false, false, false},
		{"0614141000012 ", false, false, false, false},
		{"06141410000l2", false, false, false, false},
		{"", false, false, false, false},
		{"1234567", false, false, false, false},
	} {
		if got := GS1(tt.s); got != tt.gs1 {
			t.Errorf("GS1(%q) = %v, want %v", tt.s, got, tt.gs1)
		}
		if got := GLN(tt.s); got != tt.gln {
			t.Errorf("GLN(%q) = %v, want %v", tt.s, got, tt.gln)
		}
		if got := GTIN(tt.s); got != tt.gtin {
			t.Errorf("GTIN(%q) = %v, want %v", tt.s, got, tt.gtin)
		}
		if got := SSCC(tt.s); got != tt.sscc {
			t.Errorf("SSCC(%q) = %v, want %v", tt.s, got, tt.sscc)
		}
	}
}

func TestOrgID(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"gln:0614141000012", true},
		{"npi:1234567893", true},
		{"urn:oid:2.16.840.1.113883.3.72", true},
		{"urn:oid:1.2", true},
		{"urn:oid:0.0", true},
		{"gln:0614141000013", false},
		{"npi:1234567890", false},
		{"GLN:0614141000012", false},
		{"gln:", false},
		{"urn:oid:3.1", false},
		{"urn:oid:1", false},
		{"urn:oid:1.", false},
		{"urn:oid:1..2", false},
		{"urn:oid:1.02", false},
		{"urn:oid:1.2.", false},
		{"urn:oid:1.2a", false},
		{"urn:oid:" + "1" + strings.Repeat(".1", 59), true},  // 127 bytes
		{"urn:oid:" + "1" + strings.Repeat(".1", 60), false}, // 129 bytes
		{"0614141000012", false},
		{"", false},
	} {
		if got := OrgID(tt.s); got != tt.want {
			t.Errorf("OrgID(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestGLNOfEPC(t *testing.T) {
	for _, tt := range []struct {
		uri, gln string
		ok       bool
	}{
		{"urn:epc:id:sgln:0614141.00001.0", "0614141000012", true},
		{"urn:epc:id:sgln:0614141.12345.400", "0614141123452", true},
		{"urn:epc:id:sgln:0614141.12345.ab%2Fc", "0614141123452", true},
		{"urn:epc:id:pgln:0614141.00001", "0614141000012", true},
		{"urn:epc:id:pgln:061414112345.", "0614141123452", true},
		{"urn:epc:id:sgln:061414112345..0", "0614141123452", true},
		{"urn:epc:id:sgln:0614141.00001", "", false},       // no extension
		{"urn:epc:id:sgln:0614141.00001.", "", false},      // empty extension
		{"urn:epc:id:sgln:0614141.0001.0", "", false},      // 11 digits
		{"urn:epc:id:sgln:06141.4100001.0", "", false},     // prefix too short
		{"urn:epc:id:sgln:0614141.0000a.0", "", false},     // not digits
		{"urn:epc:id:sgln:0614141.00001.a/b", "", false},   // bad extension char
		{"urn:epc:id:sgln:0614141.00001.%2", "", false},    // short escape
		{"urn:epc:id:pgln:0614141.00001.0", "", false},     // pgln has no extension
		{"urn:epc:id:sgtin:0614141.112345.400", "", false}, // not a location
		{"urn:epc:id:sgln:0614141.00001." + strings.Repeat("x", 21), "", false},
		{"", "", false},
	} {
		gln, ok := GLNOfEPC(tt.uri)
		if gln != tt.gln || ok != tt.ok {
			t.Errorf("GLNOfEPC(%q) = %q, %v, want %q, %v", tt.uri, gln, ok, tt.gln, tt.ok)
		}
	}
}

func FuzzGLNOfEPC(f *testing.F) {
	for _, s := range []string{
		"urn:epc:id:sgln:0614141.00001.0",
		"urn:epc:id:pgln:0614141.00001",
		"urn:epc:id:sgln:061414112345..%2F",
		"urn:epc:id:pgln:123456.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		gln, ok := GLNOfEPC(uri)
		if ok && !GLN(gln) {
			t.Errorf("GLNOfEPC(%q) = %q, which is not a valid GLN", uri, gln)
		}
		if !ok && gln != "" {
			t.Errorf("GLNOfEPC(%q) returned %q with ok false", uri, gln)
		}
	})
}

func TestTrialRegistry(t *testing.T) {
	for _, tt := range []struct {
		s, registry string
	}{
		{"NCT01234567", "ClinicalTrials.gov"},
		{"NCT04368728", "ClinicalTrials.gov"},
		{"2022-500014-26-00", "EU CT (CTIS)"},
		{"2019-512345-10-01", "EU CT (CTIS)"},
		{"2015-001314-10", "EudraCT"},
		{"EUCTR2015-001314-10-GB", "EU Clinical Trials Register"},
		{"ISRCTN12345678", "ISRCTN"},
		{"ACTRN12620000123456", "ANZCTR"},
		{"ChiCTR2000029308", "ChiCTR"},
		{"ChiCTR-IOR-17013520", "ChiCTR"},
		{"CTRI/2020/05/025048", "CTRI"},
		{"DRKS00012345", "DRKS"},
		{"JPRN-jRCT2031200001", "jRCT"},
		{"jRCT1234567890", "jRCT"},
		{"jRCTs031180001", "jRCT"},
		{"JPRN-UMIN000012345", "UMIN-CTR"},
		{"KCT0001234", "CRIS"},
		{"IRCT20190803044416N1", "IRCT"},
		{"PACTR202001123456789", "PACTR"},
		{"U1111-1234-5678", "WHO UTN"},
		{"NTR4321", "NTR"},
		{"RBR-7z8d6f", "ReBEC"},
		{"RBR-10yrm7nn", "ReBEC"},
		{"SLCTR/2019/012", "SLCTR"},
		{"TCTR20200101001", "TCTR"},
		{"LBCTR2020013456", "LBCTR"},
	} {
		got, ok := TrialRegistry(tt.s)
		if !ok || got != tt.registry {
			t.Errorf("TrialRegistry(%q) = %q, %v, want %q", tt.s, got, ok, tt.registry)
		}
		if !TrialID(tt.s) {
			t.Errorf("TrialID(%q) = false", tt.s)
		}
	}
	for _, s := range []string{
		"", "NCT", "NCT0123456", "NCT012345678", "nct01234567", " NCT01234567",
		"2018-500014-26-00", // EU CT numbers start in 2019
		"2022-400014-26-00", // EU CT sequence starts with 5
		"2022-500014-26-0",
		"1999-001314-10",
		"ISRCTN1234567", "ACTRN1262000012345", "ChiCTR200002930", "ChiCTR-IOR-1701352",
		"CTRI/2020/13/025048", "CTRI/2020/05/25048", "DRKS0001234", "jRCT123456789",
		"JPRN-UMIN00001234", "KCT000123", "IRCT20190803044416", "IRCTN1",
		"PACTR20200112345678", "U1111-123-5678", "U2222-1234-5678", "NTR", "NTR123456",
		"RBR-7Z8D6F", "RBR-7z8d6", "SLCTR/2019/12", "TCTR2020010100", "LBCTR202001345",
		"Phase 3", "1234567", "jane.doe@example.org",
	} {
		if name, ok := TrialRegistry(s); ok {
			t.Errorf("TrialRegistry(%q) = %q, want no registry", s, name)
		}
	}
}
