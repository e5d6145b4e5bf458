package testonly

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/schemas"
)

// The organisations, source systems and locations the schemas' version 2
// examples (schemas/examples) name: a registry entry that should submit
// them must be allowed to act for them.
var (
	// ExampleOrgs are the acting organisations of the examples: the
	// hospital of the ACCESS examples and the sponsor of the TRIAL ones.
	ExampleOrgs = []string{"npi:1234567893", "gln:0614141123452"}
	// ExampleSourceSystems are the ACCESS examples' source systems.
	ExampleSourceSystems = []string{"ehr-fhir", "ed-triage-01", "elr-gateway"}
	// ExampleCompanyPrefixes are the GS1 company prefixes of the CUSTODY
	// examples' locations.
	ExampleCompanyPrefixes = []string{"0361414", "0614141"}
)

// ExampleRights returns the registry YAML lines, indented for an entry
// under "submitters:", that let org submit every example: acts_for (the
// example organisations other than org), source_systems and
// gs1_company_prefixes.
func ExampleRights(org string) string {
	var actsFor []string
	for _, o := range ExampleOrgs {
		if o != org {
			actsFor = append(actsFor, o)
		}
	}
	quoted := make([]string, len(ExampleCompanyPrefixes))
	for i, p := range ExampleCompanyPrefixes {
		quoted[i] = `"` + p + `"`
	}
	return "    acts_for: [" + strings.Join(actsFor, ", ") + "]\n" +
		"    source_systems: [" + strings.Join(ExampleSourceSystems, ", ") + "]\n" +
		"    gs1_company_prefixes: [" + strings.Join(quoted, ", ") + "]\n"
}

// Minute returns the current time, truncated to the minute, moved by
// offset, in RFC 3339: an occurred_at inside the log's admission window
// (whole minutes, as the log requires of ACCESS, CONSENT and CUSTODY
// times), so that tests do not age out of it.
func Minute(offset time.Duration) string {
	return time.Now().UTC().Truncate(time.Minute).Add(offset).Format(time.RFC3339)
}

// NamedExample is one example body of the schemas.
type NamedExample struct {
	Kind, Name string
	Body       []byte
}

// ValidExamples returns every valid example of every kind, in an order a
// log admits them in: kinds in event order, names sorted, except that a
// trial's registration comes before the events that need it.
func ValidExamples(t testing.TB) []NamedExample {
	t.Helper()
	var out []NamedExample
	for _, kind := range schemas.Kinds {
		bodies := Examples(t, kind, "valid-")
		names := make([]string, 0, len(bodies))
		for n := range bodies {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			ra, rb := strings.Contains(a, "registration"), strings.Contains(b, "registration")
			if ra != rb {
				if ra {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		for _, n := range names {
			out = append(out, NamedExample{Kind: kind, Name: n, Body: bodies[n]})
		}
	}
	return out
}

var tagPattern = regexp.MustCompile(`tag:v1:[0-9a-f]{64}`)

// FreshTags returns body with every tag replaced by a fresh random one:
// the same example as a new, distinct event.
func FreshTags(body []byte) []byte {
	return tagPattern.ReplaceAllFunc(body, func([]byte) []byte {
		var b [32]byte
		rand.Read(b[:])
		return []byte("tag:v1:" + hex.EncodeToString(b[:]))
	})
}
