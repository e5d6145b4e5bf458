package event_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/htlog/htlog/event"
)

// TestTagsOfVersion3Bodies: the lookup index (Tags) finds every tag a
// version 3 body carries, wherever the new fields put it: each agent, the
// encounter and the patient of an access, the person of a consent
// provision, the packages of a transformation.
func TestTagsOfVersion3Bodies(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // JSON pointers of the tags
	}{
		{"access/valid-delegated-read.json", []string{"/agents/0/who", "/agents/1/who", "/agents/2/who", "/patient", "/encounter"}},
		{"consent/valid-treatment-grant-deny-one-person.json", []string{"/patient", "/provisions/1/actors/0/person"}},
		{"custody/valid-transformation-repackaging.json", []string{"/input_products/0/serial", "/output_products/0/serial"}},
		{"custody/valid-aggregation-packing.json", []string{"/products/0/serial", "/products/1/serial"}},
	} {
		body, err := os.ReadFile(filepath.Join("..", "schemas", "examples", "v3", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		got := event.Tags(body)
		for _, ptr := range tc.want {
			tag := at(doc, ptr)
			if !event.IsTag(tag) || !slices.Contains(got, tag) {
				t.Errorf("%s: the tag at %s is not indexed (%v)", tc.file, ptr, got)
			}
		}
	}
}

// at returns the string at a JSON pointer of simple tokens.
func at(doc any, ptr string) string {
	var tok []byte
	cur := doc
	step := func() {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[string(tok)]
		case []any:
			i := 0
			for _, c := range tok {
				i = 10*i + int(c-'0')
			}
			if i < len(v) {
				cur = v[i]
			}
		}
		tok = tok[:0]
	}
	for i := 1; i < len(ptr); i++ {
		if ptr[i] == '/' {
			step()
			continue
		}
		tok = append(tok, ptr[i])
	}
	step()
	s, _ := cur.(string)
	return s
}
