package entrycheck

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// Identifier shapes that must never appear in clear in an event body. The
// schemas already force patients, agents and serials to be tags; these
// catch identifiers smuggled into free-form fields (codings, displays,
// reasons, measures).
var identifierPatterns = []struct {
	name string
	re   *regexp.Regexp
}{
	{"an e-mail address", regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)},
	{"a US social security number", regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)},
	{"a phone number", regexp.MustCompile(`(\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b`)},
	{"a medical record number", regexp.MustCompile(`(?i)\bMRN[:# ]*\d{4,}`)},
}

// privacyProblems lists, without quoting them, the identifiers in clear
// found in body's string values.
func privacyProblems(body json.RawMessage) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	found := map[string]bool{}
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch t := x.(type) {
		case string:
			if !suspicious(t) {
				return
			}
			for _, p := range identifierPatterns {
				if p.re.MatchString(t) {
					found["body field "+path+" holds what looks like "+p.name+" in clear"] = true
				}
			}
		case []any:
			for _, e := range t {
				walk(path+"[]", e)
			}
		case map[string]any:
			for k, e := range t {
				walk(path+"/"+k, e)
			}
		}
	}
	walk("", v)
	out := make([]string, 0, len(found))
	for k := range found {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suspicious is a cheap prefilter: every pattern needs an '@' or at least
// four digits, and tags, commitments, event ids and URIs are never in clear.
func suspicious(s string) bool {
	if strings.HasPrefix(s, "tag:v1:") || strings.HasPrefix(s, "commit:v1:") || strings.HasPrefix(s, "sha256:") ||
		strings.HasPrefix(s, "urn:") || strings.HasPrefix(s, "http") {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '@':
			return true
		case c >= '0' && c <= '9':
			digits++
		}
	}
	return digits >= 4
}
