package schemas

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions IsTag and IsCommitment check by hand.
var (
	tagRE    = regexp.MustCompile(`^tag:v1:[0-9a-f]{64}$`)
	commitRE = regexp.MustCompile(`^commit:v1:[0-9a-f]{64}$`)
)

var formatInputs = []string{
	"tag:v1:" + strings.Repeat("0123456789abcdef", 4),
	"commit:v1:" + strings.Repeat("0123456789abcdef", 4),
	"tag:v1:" + strings.Repeat("0123456789ABCDEF", 4),
	"tag:v1:" + strings.Repeat("a", 63),
	"tag:v1:" + strings.Repeat("a", 65),
	"tag:v1:" + strings.Repeat("a", 64) + "\n",
	"tag:v1:" + strings.Repeat("a", 63) + "\xff",
	"tag:v1:" + strings.Repeat("a", 63) + "g",
	"Tag:v1:" + strings.Repeat("a", 64),
	"commit:v1:",
	"",
}

func checkFormats(t *testing.T, s string) {
	t.Helper()
	if got, want := IsTag(s), tagRE.MatchString(s); got != want {
		t.Fatalf("IsTag(%q) = %v, the expression says %v", s, got, want)
	}
	if got, want := IsCommitment(s), commitRE.MatchString(s); got != want {
		t.Fatalf("IsCommitment(%q) = %v, the expression says %v", s, got, want)
	}
}

// TestIsTagRegexp holds IsTag and IsCommitment to the regular expressions
// they replaced.
func TestIsTagRegexp(t *testing.T) {
	for _, s := range formatInputs {
		checkFormats(t, s)
	}
}

// FuzzIsTag compares IsTag and IsCommitment with the regular expressions:
//
//	go test -run '^$' -fuzz FuzzIsTag -fuzztime 30s ./schemas/
func FuzzIsTag(f *testing.F) {
	for _, s := range formatInputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFormats(t, s)
	})
}
