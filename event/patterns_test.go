package event

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions isOrgID and isEventID check by hand.
var (
	orgPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,15}:[A-Za-z0-9._-]{1,64}$`)
	idPattern  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

var patternInputs = []string{
	"npi:1234567893", "gln:0614141000005", "urn:oid.1.2", "a1-:x", "ab:" + strings.Repeat("x", 64),
	"ab:" + strings.Repeat("x", 65), "a:x", "abcdefghijklmnop:x", "abcdefghijklmnopq:x", "Npi:1", "1pi:1",
	"npi:", "npi", ":x", "npi:a:b", "npi:a b", "npi:é", "npi:1\n", "np_i:1",
	"sha256:" + strings.Repeat("0a", 32), "sha256:" + strings.Repeat("0A", 32), "sha256:" + strings.Repeat("a", 63),
	"sha256:" + strings.Repeat("a", 64) + "\n", "sha512:" + strings.Repeat("a", 64), "",
}

func checkPatterns(t *testing.T, s string) {
	t.Helper()
	if got, want := isOrgID(s), orgPattern.MatchString(s); got != want {
		t.Fatalf("isOrgID(%q) = %v, the expression says %v", s, got, want)
	}
	if got, want := isEventID(s), idPattern.MatchString(s); got != want {
		t.Fatalf("isEventID(%q) = %v, the expression says %v", s, got, want)
	}
}

// TestPatterns holds isOrgID and isEventID to the regular expressions they
// replaced.
func TestPatterns(t *testing.T) {
	for _, s := range patternInputs {
		checkPatterns(t, s)
	}
}

// FuzzPatterns compares isOrgID and isEventID with the expressions:
//
//	go test -run '^$' -fuzz FuzzPatterns -fuzztime 30s ./event/
func FuzzPatterns(f *testing.F) {
	for _, s := range patternInputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkPatterns(t, s)
	})
}
