package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Value sets: every code a version 2 body carries in clear comes from one
// of the value sets bundled here (schemas/valuesets/<name>.json). A schema
// names the set with the format "htlog-code:<name>" on a string (the code
// alone, for sets of one code system) or on a {system, code} object.
// Display text never travels on the log: clients render a code through
// [ValueSet.Display].

//go:embed valuesets/*.json
var valueSetFiles embed.FS

// Concept is one code of a value set.
type Concept struct {
	// System is the code system's URI.
	System string `json:"system"`
	// Code is the code, as it appears on the log.
	Code string `json:"code"`
	// Display is the plain-language text a client shows for the code.
	Display string `json:"display"`
}

// ValueSet is a named list of codes.
type ValueSet struct {
	// Name is the file name without .json, as schemas cite it.
	Name string `json:"name"`
	// Title says what the set is for.
	Title string `json:"title"`
	// Source names the standard the codes come from.
	Source string `json:"source"`
	// Concepts are the codes, in the file's order.
	Concepts []Concept `json:"concepts"`

	byPair map[[2]string]int // (system, code) -> index in Concepts
	byCode map[string]int    // code -> index, for codes unique in the set
}

// FormatCodePrefix starts the name of the format that asserts membership of
// a value set: "htlog-code:" + the set's name.
const FormatCodePrefix = "htlog-code:"

var valueSets = loadValueSets()

func loadValueSets() map[string]*ValueSet {
	out := map[string]*ValueSet{}
	names, _ := fs.Glob(valueSetFiles, "valuesets/*.json")
	for _, name := range names {
		b, _ := valueSetFiles.ReadFile(name)
		vs := new(ValueSet)
		if err := json.Unmarshal(b, vs); err != nil {
			panic("schemas: " + name + ": " + err.Error())
		}
		if want := strings.TrimSuffix(path.Base(name), ".json"); vs.Name != want {
			panic("schemas: " + name + ": name must be " + want)
		}
		vs.byPair, vs.byCode = map[[2]string]int{}, map[string]int{}
		dupCode := map[string]bool{}
		for i, c := range vs.Concepts {
			if c.System == "" || c.Code == "" || c.Display == "" {
				panic(fmt.Sprintf("schemas: %s: concept %d lacks system, code or display", name, i))
			}
			vs.byPair[[2]string{c.System, c.Code}] = i
			if _, seen := vs.byCode[c.Code]; seen {
				dupCode[c.Code] = true
			}
			vs.byCode[c.Code] = i
		}
		for c := range dupCode {
			delete(vs.byCode, c)
		}
		out[vs.Name] = vs
	}
	return out
}

// codeSystems holds every code system URI of the bundled value sets.
var codeSystems = func() map[string]bool {
	out := map[string]bool{}
	for _, vs := range valueSets {
		for _, c := range vs.Concepts {
			out[c.System] = true
		}
	}
	for system := range terminologies {
		out[system] = true
	}
	return out
}()

// IsCodeSystem reports whether uri is the code system of a bundled value
// set's codes or a terminology an "htlog-coding" format allows.
func IsCodeSystem(uri string) bool { return codeSystems[uri] }

// fixedValues holds every string a schema fixes: the codes and code systems
// of the value sets, and every string of an "enum" or "const" of any
// embedded schema.
var fixedValues = func() map[string]bool {
	out := map[string]bool{}
	for _, vs := range valueSets {
		for _, c := range vs.Concepts {
			out[c.System], out[c.Code] = true, true
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				switch k {
				case "enum":
					if list, ok := e.([]any); ok {
						for _, x := range list {
							if s, ok := x.(string); ok {
								out[s] = true
							}
						}
					}
				case "const":
					if s, ok := e.(string); ok {
						out[s] = true
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	for _, versions := range raw {
		for _, b := range versions {
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				panic("schemas: " + err.Error())
			}
			walk(doc)
		}
	}
	return out
}()

// IsFixedValueBytes reports whether b is a value some schema or value set
// fixes (a code, a code system, an enum member): a string that cannot carry
// an identifier, which the admission check's scan can skip. It makes no
// copy of b.
func IsFixedValueBytes(b []byte) bool { return fixedValues[string(b)] }

// ValueSetNames returns the names of the bundled value sets, sorted.
func ValueSetNames() []string {
	names := make([]string, 0, len(valueSets))
	for n := range valueSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// LookupValueSet returns the bundled value set called name. The result is
// shared: callers must not modify it.
func LookupValueSet(name string) (*ValueSet, bool) {
	vs, ok := valueSets[name]
	return vs, ok
}

// Has reports whether (system, code) is in the set; an empty system matches
// a code that only one system of the set defines.
func (vs *ValueSet) Has(system, code string) bool {
	_, ok := vs.index(system, code)
	return ok
}

// Display returns the plain-language text of (system, code), or "" when
// the code is not in the set.
func (vs *ValueSet) Display(system, code string) string {
	if i, ok := vs.index(system, code); ok {
		return vs.Concepts[i].Display
	}
	return ""
}

func (vs *ValueSet) index(system, code string) (int, bool) {
	if system == "" {
		i, ok := vs.byCode[code]
		return i, ok
	}
	i, ok := vs.byPair[[2]string{system, code}]
	return i, ok
}

// codeFormat is the format checker of value set vs: a string must be a
// code of the set, an object must hold a string system and code that are.
// Other types pass (the schema's "type" constrains them).
func codeFormat(vs *ValueSet) func(any) error {
	return func(v any) error {
		switch t := v.(type) {
		case string:
			if !vs.Has("", t) {
				return fmt.Errorf("not a code of value set %s", vs.Name)
			}
		case map[string]any:
			system, _ := t["system"].(string)
			code, _ := t["code"].(string)
			if system == "" || code == "" || !vs.Has(system, code) {
				return fmt.Errorf("not a code of value set %s", vs.Name)
			}
		}
		return nil
	}
}
