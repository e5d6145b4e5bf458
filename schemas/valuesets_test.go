package schemas_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/htlog/htlog/schemas"
)

func TestValueSets(t *testing.T) {
	names := schemas.ValueSetNames()
	if len(names) < 7 {
		t.Fatalf("%d value sets: %v", len(names), names)
	}
	for _, n := range names {
		vs, ok := schemas.LookupValueSet(n)
		if !ok || vs.Name != n || vs.Title == "" || vs.Source == "" || len(vs.Concepts) == 0 {
			t.Fatalf("%s: %+v", n, vs)
		}
		for _, c := range vs.Concepts {
			if !vs.Has(c.System, c.Code) || vs.Display(c.System, c.Code) != c.Display || !schemas.IsCodeSystem(c.System) {
				t.Errorf("%s: %s|%s not found", n, c.System, c.Code)
			}
		}
		if vs.Has("http://example.org", vs.Concepts[0].Code) {
			t.Errorf("%s: a code matched under another system", n)
		}
	}
	pou, _ := schemas.LookupValueSet("purpose-of-use")
	if pou.Display("", "ETREAT") == "" || pou.Has("", "CURIOSITY") {
		t.Error("purpose-of-use lookup by code alone")
	}
}

// TestFormatsAreKnown walks every version 2 and 3 schema: each "format" must be
// one the validator asserts (an unknown format would silently check
// nothing), and each value set a format names must exist.
func TestFormatsAreKnown(t *testing.T) {
	known := []string{"date", "date-time", "uri", schemas.FormatTag, schemas.FormatCommitment,
		"htlog-org-id", "htlog-gln", "htlog-gtin", "htlog-sscc", "htlog-epc-gln", "htlog-trial-id"}
	for _, kv := range kindVersions() {
		kind := kv.kind
		b, _ := schemas.Schema(kind, kv.version)
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		count := 0
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if f, ok := x["format"].(string); ok {
					count++
					if kind, ok := strings.CutPrefix(f, schemas.FormatCodingPrefix); ok {
						if !slices.Contains([]string{"condition", "intervention", "measure"}, kind) {
							t.Errorf("%s%s: unknown coding %q", kv, path, kind)
						}
					} else if set, ok := strings.CutPrefix(f, schemas.FormatCodePrefix); ok {
						if _, ok := schemas.LookupValueSet(set); !ok {
							t.Errorf("%s%s: unknown value set %q", kind, path, set)
						}
					} else if !slices.Contains(known, f) {
						t.Errorf("%s%s: unknown format %q", kind, path, f)
					}
				}
				for k, e := range x {
					walk(path+"/"+k, e)
				}
			case []any:
				for i, e := range x {
					walk(fmt.Sprintf("%s/%d", path, i), e)
				}
			}
		}
		walk("", doc)
		if count < 5 {
			t.Errorf("%s: only %d formats", kv, count)
		}
	}
}

// kv is one schema: a kind and a version.
type kv struct {
	kind    string
	version int
}

func (k kv) String() string { return fmt.Sprintf("%s v%d", k.kind, k.version) }

// kindVersions lists the schemas of the admitted versions, 2 and 3.
func kindVersions() []kv {
	var out []kv
	for _, kind := range schemas.Kinds {
		for v := 2; v <= schemas.Latest(kind); v++ {
			out = append(out, kv{kind, v})
		}
	}
	return out
}

// TestVersion2HasNoFreeText walks every version 2 and 3 schema: every
// string property is constrained by an enum, a const, a format or a
// pattern, or, in version 2 only, is trial text the law makes public
// (bounded by maxLength). Version 3 has no such exception: titles,
// conditions, interventions and outcomes are codes or commitments.
func TestVersion2HasNoFreeText(t *testing.T) {
	for _, k := range kindVersions() {
		kind := k.kind
		b, _ := schemas.Schema(kind, k.version)
		var doc any
		json.Unmarshal(b, &doc)
		var walk func(path string, v any, coded bool)
		walk = func(path string, v any, coded bool) {
			switch x := v.(type) {
			case map[string]any:
				if x["type"] == "string" && !coded {
					_, enum := x["enum"]
					_, format := x["format"]
					_, pattern := x["pattern"]
					_, bounded := x["maxLength"]
					publicText := kind == "trial" && k.version == 2 && bounded && strings.Contains(fmt.Sprint(x["description"]), "Public by law")
					if !enum && !format && !pattern && !publicText {
						t.Errorf("%s%s: a string with no enum, format or pattern", k, path)
					}
				}
				// A {system, code} object whose format names a value set
				// constrains both members.
				_, objFormat := x["format"]
				for k, e := range x {
					walk(path+"/"+k, e, coded || (objFormat && x["type"] == "object" && k == "properties"))
				}
			case []any:
				for i, e := range x {
					walk(fmt.Sprintf("%s/%d", path, i), e, coded)
				}
			}
		}
		walk("", doc, false)
	}
}
