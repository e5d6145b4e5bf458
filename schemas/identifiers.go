package schemas

import "github.com/htlog/htlog/internal/ident"

// identifierFormats are the formats of identifiers that version 2 bodies
// carry in clear, each checked for syntax and check digit by package ident.
var identifierFormats = []struct {
	name string
	ok   func(string) bool
	what string // completes "is not ..." in a ValidationError
}{
	{"htlog-org-id", ident.OrgID, "an organisation id with a valid check digit (gln:<GLN>, npi:<NPI> or urn:oid:<OID>)"},
	{"htlog-gln", ident.GLN, "a GS1 GLN with a valid check digit"},
	{"htlog-gtin", ident.GTIN, "a GS1 GTIN-14 with a valid check digit"},
	{"htlog-sscc", ident.SSCC, "a GS1 SSCC with a valid check digit"},
	{"htlog-epc-gln", epcGLN, "an EPC sgln or pgln URI of a 12-digit GS1 key"},
	{"htlog-trial-id", ident.TrialID, "a trial registry id of a WHO primary registry (NCT, EU CT, EudraCT, ISRCTN, ...)"},
}

func epcGLN(s string) bool {
	_, ok := ident.GLNOfEPC(s)
	return ok
}
