// Package phicorpus generates the privacy probe corpus: event bodies that
// are valid examples of the schemas except for one personal identifier
// (a name, a social security number, a phone number, an e-mail address, a
// medical record number, a date of birth or a postal address) planted in
// one string position, nested or not, either replacing the string or
// embedded in it. Every probe must be refused by the admission check, the
// log's and the monitor's alike; the tests and `make corpus` run it.
package phicorpus

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Kinds of identifiers planted, as the probes name them.
var Kinds = []string{"name", "ssn", "phone", "email", "mrn", "dob", "address"}

// Probe is one body with one identifier planted.
type Probe struct {
	// Kind is the event kind, Example the example the body came from.
	Kind, Example string
	// Path is the JSON pointer of the string that holds the identifier.
	Path string
	// IDKind is one of Kinds; Planted the identifier itself (for the
	// tests' check that no refusal quotes it).
	IDKind, Planted string
	// Body is the probe's body.
	Body []byte
}

// Example is one valid example body.
type Example struct {
	Kind, Name string
	Body       []byte
}

// Generator makes probes from a set of examples, deterministically for a
// seed.
type Generator struct {
	rnd   *rand.Rand
	slots []slot
}

type slot struct {
	ex   Example
	doc  any
	path []any // object keys (string) and array indexes (int)
}

// New returns a Generator over the string positions of examples.
func New(seed uint64, examples []Example) (*Generator, error) {
	g := &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, ex := range examples {
		var doc any
		if err := json.Unmarshal(ex.Body, &doc); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", ex.Kind, ex.Name, err)
		}
		walk(doc, nil, func(path []any) {
			g.slots = append(g.slots, slot{ex: ex, doc: doc, path: slices.Clone(path)})
		})
	}
	if len(g.slots) == 0 {
		return nil, fmt.Errorf("the examples hold no strings")
	}
	return g, nil
}

// Positions returns how many string positions the examples hold.
func (g *Generator) Positions() int { return len(g.slots) }

// walk calls fn with the path of every string in v, in a fixed order.
func walk(v any, path []any, fn func([]any)) {
	switch t := v.(type) {
	case string:
		fn(path)
	case []any:
		for i, e := range t {
			walk(e, append(path, i), fn)
		}
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			walk(t[k], append(path, k), fn)
		}
	}
}

// Probe returns the i-th probe: position i mod Positions, identifier kind
// (i / Positions) mod len(Kinds), with a fresh identifier, replacing the
// string or embedded in it.
func (g *Generator) Probe(i int) Probe {
	s := g.slots[i%len(g.slots)]
	idKind := Kinds[(i/len(g.slots))%len(Kinds)]
	planted := g.identifier(idKind)
	doc := clone(s.doc)
	old := get(doc, s.path).(string)
	value := planted
	switch g.rnd.IntN(3) {
	case 1:
		value = old + " " + planted
	case 2:
		value = planted + " (" + old + ")"
	}
	set(doc, s.path, value)
	body, _ := json.Marshal(doc)
	return Probe{Kind: s.ex.Kind, Example: s.ex.Name, Path: pointer(s.path), IDKind: idKind, Planted: planted, Body: body}
}

func clone(v any) any {
	switch t := v.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = clone(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = clone(e)
		}
		return out
	}
	return v
}

func get(v any, path []any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func set(v any, path []any, value string) {
	parent := get(v, path[:len(path)-1])
	switch k := path[len(path)-1].(type) {
	case string:
		parent.(map[string]any)[k] = value
	case int:
		parent.([]any)[k] = value
	}
}

func pointer(path []any) string {
	var b strings.Builder
	for _, p := range path {
		fmt.Fprintf(&b, "/%v", p)
	}
	return b.String()
}

var (
	givenNames = []string{"Jane", "John", "Maria", "Mohammed", "Wei", "Aisha", "Carlos", "Olga", "Priya", "James",
		"Fatima", "Liam", "Sofia", "Noah", "Emma", "Hiroshi", "Chloe", "Mateo", "Amara", "Lucas"}
	surnames = []string{"Roe", "Smith", "Garcia", "Nguyen", "Kowalski", "Okafor", "Johnson", "Müller", "Rossi", "Patel",
		"Williams", "Brown", "Martinez", "Kim", "Silva", "Novak", "Andersson", "Dubois", "Hernandez", "Jones"}
	streets   = []string{"Main Street", "Elm St.", "Oak Avenue", "Pennsylvania Ave NW", "Maple Road", "High Street", "Cedar Lane"}
	months    = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	mrnLabels = []string{"MRN %d", "mrn:%d", "MRN#%d", "MR# %08d", "chart %d", "patient id %d", "medical record %d"}
)

func (g *Generator) identifier(kind string) string {
	r := g.rnd
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	d := func(n int) int { // n random digits, no leading zero
		x := 1 + r.IntN(9)
		for range n - 1 {
			x = x*10 + r.IntN(10)
		}
		return x
	}
	switch kind {
	case "name":
		switch r.IntN(4) {
		case 0:
			return pick(givenNames) + " " + pick(surnames)
		case 1:
			return strings.ToLower(pick(surnames) + "-" + pick(givenNames))
		case 2:
			return "Dr " + pick(surnames)
		default:
			return strings.ToLower(pick(givenNames) + "." + pick(surnames))
		}
	case "ssn":
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%03d-%02d-%04d", 100+r.IntN(800), 10+r.IntN(89), 1000+r.IntN(9000))
		}
		return fmt.Sprintf("SSN %09d", d(9))
	case "phone":
		switch r.IntN(3) {
		case 0:
			return fmt.Sprintf("%03d-%03d-%04d", 200+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
		case 1:
			return fmt.Sprintf("(%03d) %03d-%04d", 200+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
		default:
			return fmt.Sprintf("+1 %03d %03d %04d", 200+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
		}
	case "email":
		return strings.ToLower(pick(givenNames)+"."+pick(surnames)) + "@example.org"
	case "mrn":
		return fmt.Sprintf(pick(mrnLabels), d(7))
	case "dob":
		y, m, day := 1930+r.IntN(90), 1+r.IntN(12), 1+r.IntN(28)
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("DOB %04d-%02d-%02d", y, m, day)
		case 1:
			return fmt.Sprintf("%02d/%02d/%04d", m, day, y)
		case 2:
			return fmt.Sprintf("born %d %s %d", day, months[m-1], y)
		default:
			return fmt.Sprintf("dob-%04d%02d%02d", y, m, day)
		}
	case "address":
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%d %s", 1+r.IntN(9999), pick(streets))
		}
		return fmt.Sprintf("Springfield, IL %05d", 10000+r.IntN(89999))
	}
	panic("phicorpus: unknown identifier kind " + kind)
}
