package entrycheck

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// refPrivacyProblems is the map-walking privacyProblems the single-pass
// walk replaced, kept as the reference for FuzzPrivacyProblems.
func refPrivacyProblems(body json.RawMessage) []string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	found := map[string]bool{}
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch t := x.(type) {
		case string:
			if !suspicious([]byte(t)) {
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

var privacyBodies = []string{
	`{"patient":"tag:v1:` + strings.Repeat("ab", 32) + `","reason":"call 555-123-4567"}`,
	`{"a":{"b":["x@example.com",{"c":"MRN 123456"}]},"ssn":"123-45-6789"}`,
	`{"\u0061":"x\u0040example.com","n":[1,true,null,"1234"]}`,
	`{"a":"x@example.com","b":"y@example.com","c":["x@example.com"]}`,
	`{"url":"https://x@example.com","id":"urn:uuid:1234-5678"}`,
	"{\"bad\xff\":\"\xff 123-45-6789\"}",
	`{"a":1,}`,
	`[]`,
}

func TestPrivacyProblems(t *testing.T) {
	got := privacyProblems(json.RawMessage(privacyBodies[1]))
	want := []string{
		"body field /a/b[] holds what looks like an e-mail address in clear",
		"body field /a/b[]/c holds what looks like a medical record number in clear",
		"body field /ssn holds what looks like a US social security number in clear",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, b := range privacyBodies {
		if got, ref := privacyProblems(json.RawMessage(b)), refPrivacyProblems(json.RawMessage(b)); !slices.Equal(got, ref) {
			t.Errorf("%s: got %q, reference %q", b, got, ref)
		}
	}
}

// FuzzPrivacyProblems checks the single-pass walk against the reference on
// bodies without duplicate keys (ParseEvent refuses the others).
func FuzzPrivacyProblems(f *testing.F) {
	for _, b := range privacyBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if hasDuplicateKeys(body) {
			return
		}
		got, ref := privacyProblems(body), refPrivacyProblems(body)
		if !slices.Equal(got, ref) {
			t.Fatalf("%q: got %q, reference %q", body, got, ref)
		}
	})
}

// hasDuplicateKeys reports whether an object in body repeats a key (the
// token walk internal/event used before its scanner).
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	type frame struct {
		keys   map[string]bool
		object bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, object: t == '{', expect: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.expect {
				if top.keys[t] {
					return true
				}
				top.keys[t], top.expect = true, false
				continue
			}
		}
		if top != nil && top.object {
			top.expect = true
		}
	}
}
