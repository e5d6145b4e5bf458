// Package ident checks the syntax and check digits of every identifier htlog
// allows in clear: organisations (GLN, NPI, OID), sites (SGLN and PGLN EPC
// URIs), products (GTIN, SSCC) and clinical trials (registry ids).
//
// An event may carry these strings because they name institutions, products
// and studies, never people. The admission check of the log and the verdict of
// the monitor both call this package, so the two sides of the wire agree on
// what is allowed; internal/phi calls it too, to leave these identifiers out of
// its scan for record numbers.
//
// Every function is pure, safe for concurrent use, and never allocates on
// inputs it rejects by length.
package ident

import (
	"regexp"
	"strings"
)

// NPI reports whether s is a US National Provider Identifier: ten digits, the
// first 1 or 2, whose last digit is the Luhn check digit computed over the
// prefix "80840" followed by the first nine digits (CMS NPI standard).
func NPI(s string) bool {
	if len(s) != 10 || (s[0] != '1' && s[0] != '2') || !allDigits(s) {
		return false
	}
	// Luhn over the 15 digits "80840"+s, doubling every second digit from
	// the right. In those positions the prefix's digits are 8, 0, 8, 4 (doubled
	// to 8), 0, so it adds a constant 24 to the sum.
	sum := 24
	for i := 0; i < 10; i++ {
		d := int(s[9-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// GS1 reports whether s is a GS1 key of 8, 12, 13, 14 or 18 digits (GTIN-8,
// GTIN-12, GLN or GTIN-13, GTIN-14, SSCC) whose last digit is its GS1 mod-10
// check digit.
func GS1(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14, 18:
	default:
		return false
	}
	if !allDigits(s) {
		return false
	}
	return gs1Check(s[:len(s)-1]) == s[len(s)-1]
}

// gs1Check returns the GS1 mod-10 check digit of body, as an ASCII digit:
// weights 3, 1, 3, ... from the rightmost digit of body.
func gs1Check(body string) byte {
	sum := 0
	for i := 0; i < len(body); i++ {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// GLN reports whether s is a 13-digit GS1 Global Location Number with a valid
// check digit.
func GLN(s string) bool { return len(s) == 13 && GS1(s) }

// GTIN reports whether s is a 14-digit GS1 Global Trade Item Number with a
// valid check digit. Shorter GTINs must be padded with leading zeros.
func GTIN(s string) bool { return len(s) == 14 && GS1(s) }

// SSCC reports whether s is an 18-digit GS1 Serial Shipping Container Code
// with a valid check digit.
func SSCC(s string) bool { return len(s) == 18 && GS1(s) }

// maxOrgID bounds the length of an organisation identifier.
const maxOrgID = 128

// OrgID reports whether s identifies an organisation in one of the three
// forms htlog accepts: "gln:" followed by a GLN, "npi:" followed by an NPI,
// or "urn:oid:" followed by an OID (arcs separated by dots, the first 0, 1
// or 2, no leading zeros, at least two arcs). s is at most 128 bytes.
func OrgID(s string) bool {
	if len(s) > maxOrgID {
		return false
	}
	switch {
	case strings.HasPrefix(s, "gln:"):
		return GLN(s[len("gln:"):])
	case strings.HasPrefix(s, "npi:"):
		return NPI(s[len("npi:"):])
	case strings.HasPrefix(s, "urn:oid:"):
		return OID(s[len("urn:oid:"):])
	}
	return false
}

// OID reports whether s is a dotted object identifier matching
// [0-2](\.(0|[1-9][0-9]*))+.
func OID(s string) bool {
	if len(s) < 3 || s[0] < '0' || s[0] > '2' || s[1] != '.' {
		return false
	}
	arcStart := 2
	for i := 2; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			arc := s[arcStart:i]
			if arc == "" || (len(arc) > 1 && arc[0] == '0') {
				return false
			}
			arcStart = i + 1
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// GLNOfEPC returns the 13-digit GLN named by an EPC pure identity URI of a
// site or a party (GS1 EPC Tag Data Standard):
//
//	urn:epc:id:sgln:<CompanyPrefix>.<LocationReference>.<Extension>
//	urn:epc:id:pgln:<CompanyPrefix>.<PartyReference>
//
// where the company prefix has 6 to 12 digits and prefix and reference
// together have 12; the GLN is those 12 digits followed by their check digit.
// The SGLN extension is 1 to 20 characters of the URI's GS1 character set
// (or %-escapes). ok is false when the URI is not of either form.
func GLNOfEPC(uri string) (gln string, ok bool) {
	var rest string
	sgln := false
	switch {
	case strings.HasPrefix(uri, "urn:epc:id:sgln:"):
		rest, sgln = uri[len("urn:epc:id:sgln:"):], true
	case strings.HasPrefix(uri, "urn:epc:id:pgln:"):
		rest = uri[len("urn:epc:id:pgln:"):]
	default:
		return "", false
	}
	prefix, rest, found := strings.Cut(rest, ".")
	if !found {
		return "", false
	}
	ref := rest
	if sgln {
		var ext string
		ref, ext, found = strings.Cut(rest, ".")
		if !found || !epcExtension(ext) {
			return "", false
		}
	}
	if len(prefix) < 6 || len(prefix) > 12 || len(prefix)+len(ref) != 12 ||
		!allDigits(prefix) || (ref != "" && !allDigits(ref)) {
		return "", false
	}
	body := prefix + ref
	return body + string(gs1Check(body)), true
}

// epcExtension reports whether ext is a valid SGLN extension: 1 to 20
// characters from the EPC URI's GS3A3 set, a %-escape counting as one.
func epcExtension(ext string) bool {
	n := 0
	for i := 0; i < len(ext); i++ {
		c := ext[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case strings.IndexByte("!'()*+,-.:;=_", c) >= 0:
		case c == '%' && i+2 < len(ext) && isHex(ext[i+1]) && isHex(ext[i+2]):
			i += 2
		default:
			return false
		}
		n++
	}
	return n >= 1 && n <= 20
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// A registry is one clinical trial registry and the form of its ids.
type registry struct {
	name string
	re   *regexp.Regexp
}

// registries lists the WHO ICTRP primary registries and the other common
// registries whose ids an event may carry, each with the exact form of its
// ids. The forms are case-sensitive, as the registries print them.
var registries = []registry{
	{"ClinicalTrials.gov", regexp.MustCompile(`^NCT[0-9]{8}$`)},
	{"EU CT (CTIS)", regexp.MustCompile(`^20(?:19|[2-9][0-9])-5[0-9]{5}-[0-9]{2}-[0-9]{2}$`)},
	{"EudraCT", regexp.MustCompile(`^20[0-9]{2}-[0-9]{6}-[0-9]{2}$`)},
	{"EU Clinical Trials Register", regexp.MustCompile(`^EUCTR20[0-9]{2}-[0-9]{6}-[0-9]{2}(?:-[A-Z]{2,3})?$`)},
	{"ISRCTN", regexp.MustCompile(`^ISRCTN[0-9]{8}$`)},
	{"ANZCTR", regexp.MustCompile(`^ACTRN[0-9]{14}$`)},
	{"ChiCTR", regexp.MustCompile(`^ChiCTR(?:[0-9]{10}|-[A-Z]{2,5}-[0-9]{8})$`)},
	{"CTRI", regexp.MustCompile(`^CTRI/20[0-9]{2}/(?:0[1-9]|1[0-2])/[0-9]{6}$`)},
	{"DRKS", regexp.MustCompile(`^DRKS[0-9]{8}$`)},
	{"jRCT", regexp.MustCompile(`^(?:JPRN-)?jRCT(?:[0-9]{10}|s[0-9]{9})$`)},
	{"UMIN-CTR", regexp.MustCompile(`^JPRN-UMIN[0-9]{9}$`)},
	{"CRIS", regexp.MustCompile(`^KCT[0-9]{7}$`)},
	{"IRCT", regexp.MustCompile(`^IRCT[0-9]{6,16}N[0-9]{1,3}$`)},
	{"PACTR", regexp.MustCompile(`^PACTR[0-9]{15}$`)},
	{"WHO UTN", regexp.MustCompile(`^U1111-[0-9]{4}-[0-9]{4}$`)},
	{"NTR", regexp.MustCompile(`^NTR[0-9]{1,5}$`)},
	{"ReBEC", regexp.MustCompile(`^RBR-[0-9a-z]{6,8}$`)},
	{"SLCTR", regexp.MustCompile(`^SLCTR/20[0-9]{2}/[0-9]{3}$`)},
	{"TCTR", regexp.MustCompile(`^TCTR[0-9]{11}$`)},
	{"LBCTR", regexp.MustCompile(`^LBCTR[0-9]{10}$`)},
}

// maxTrialID bounds the length of a trial registry id; the longest form,
// IRCT, is under 30 bytes.
const maxTrialID = 32

// TrialID reports whether s is the id of a clinical trial in one of the
// registries TrialRegistry knows.
func TrialID(s string) bool {
	_, ok := TrialRegistry(s)
	return ok
}

// TrialRegistry returns the name of the registry whose id form s matches:
// ClinicalTrials.gov (NCT + 8 digits), EU CT (YYYY-5NNNNN-NN-NN, 2019-2099),
// EudraCT (YYYY-NNNNNN-NN) and its EUCTR form, ISRCTN, ANZCTR (ACTRN),
// ChiCTR, CTRI, DRKS, jRCT, UMIN-CTR, CRIS (KCT), IRCT, PACTR, the WHO
// Universal Trial Number, NTR, ReBEC (RBR-), SLCTR, TCTR and LBCTR. ok is
// false when s matches none.
func TrialRegistry(s string) (name string, ok bool) {
	if len(s) < 4 || len(s) > maxTrialID {
		return "", false
	}
	for _, r := range registries {
		if r.re.MatchString(s) {
			return r.name, true
		}
	}
	return "", false
}
