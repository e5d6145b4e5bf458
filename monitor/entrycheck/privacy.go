package entrycheck

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"

	"github.com/htlog/htlog/internal/event"
)

// Identifier shapes that must never appear in clear in an event body. The
// schemas already force patients, agents and serials to be tags; these
// catch identifiers smuggled into free-form fields (codings, displays,
// reasons, measures).
//
// Each pattern has a cheap test, may, that every match needs (a byte or a
// word the expression cannot match without), so most strings never reach
// the expression; FuzzPrivacyProblems compares with the expressions alone.
var identifierPatterns = []struct {
	name string
	re   *regexp.Regexp
	may  func(s []byte) bool
}{
	{"an e-mail address", regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`),
		func(s []byte) bool { return bytes.IndexByte(s, '@') >= 0 }},
	{"a US social security number", regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`),
		func(s []byte) bool { return bytes.IndexByte(s, '-') >= 0 }},
	{"a phone number", regexp.MustCompile(`(\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b`),
		func(s []byte) bool { return bytes.ContainsAny(s, " .-") }},
	{"a medical record number", regexp.MustCompile(`(?i)\bMRN[:# ]*\d{4,}`), containsMRN},
}

// containsMRN reports whether s contains "mrn" in any ASCII case, which is
// every way (?i)MRN can match: no other character folds to m, r or n.
func containsMRN(s []byte) bool {
	for i := 0; i+3 <= len(s); i++ {
		if s[i]|0x20 == 'm' && s[i+1]|0x20 == 'r' && s[i+2]|0x20 == 'n' {
			return true
		}
	}
	return false
}

// privacyProblems lists, without quoting them, the identifiers in clear
// found in body's string values. It walks body's bytes once (no decoding
// into maps); a body that is not JSON has none.
func privacyProblems(body json.RawMessage) []string {
	var found []string
	err := event.WalkStrings(body, func(path, value []byte) {
		if !suspicious(value) {
			return
		}
		for _, p := range identifierPatterns {
			if p.may(value) && p.re.Match(value) {
				f := "body field " + string(path) + " holds what looks like " + p.name + " in clear"
				if !slices.Contains(found, f) {
					found = append(found, f)
				}
			}
		}
	})
	if err != nil {
		return nil
	}
	slices.Sort(found)
	return found
}

// suspicious is a cheap prefilter: every pattern needs an '@' or at least
// four digits, and tags, commitments, event ids and URIs are never in clear.
func suspicious(s []byte) bool {
	for _, p := range clearPrefixes {
		if bytes.HasPrefix(s, p) {
			return false
		}
	}
	digits := 0
	for _, c := range s {
		switch {
		case c == '@':
			return true
		case c >= '0' && c <= '9':
			digits++
		}
	}
	return digits >= 4
}

var clearPrefixes = [][]byte{[]byte("tag:v1:"), []byte("commit:v1:"), []byte("sha256:"), []byte("urn:"), []byte("http")}
