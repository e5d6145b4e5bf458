package entrycheck

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/schemas"
)

// accessBodies returns the example ACCESS bodies, valid and invalid.
func accessBodies(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "..", "schemas", "examples", "access", "*.json"))
	if len(files) == 0 {
		t.Fatal("no example ACCESS bodies")
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"action":"R","agent":{"role":{"system":"s","code":"c","display":"d"},"Who":"x"}}`),
		[]byte(`{"ACTION":"R"}`),
		[]byte(`{"action":1}`),
		[]byte(`{"disclosure":null}`),
		[]byte(`{"disclosure":{}}`),
		[]byte(`{"disclosure":{"flag":"true"}}`),
		[]byte(`{"agent":{"role":null}}`),
		[]byte(`{"event_type":[1,{"a":null}],"source_system":2,"data_class":{}}`),
		// Repeated members, which the validator refuses: json.Unmarshal
		// merges a repeated object into the struct, a map keeps the last.
		[]byte(`{"agent":{"who":"a"},"agent":{"organization":"b"}}`),
		[]byte(`{"disclosure":{"flag":true},"disclosure":{"basis":"x"}}`),
		[]byte(`{"agent":{"role":{"code":"c"},"role":{"system":"s"}}}`),
		[]byte(`{"action":"R","\u0061ction":"D"}`),
	)
}

// repeatsMember reports whether an object of the JSON text body repeats a
// member name, at any depth (names compared decoded).
func repeatsMember(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var names []map[string]bool // per open container; nil for an array
	key := []bool{}             // whether the next token of the object is a name
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := len(names) - 1
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if top >= 0 && names[top] != nil {
				key[top] = true
			}
			var m map[string]bool
			if tok == json.Delim('{') {
				m = map[string]bool{}
			}
			names, key = append(names, m), append(key, true)
			continue
		case json.Delim('}'), json.Delim(']'):
			names, key = names[:top], key[:top]
			if top > 0 && names[top-1] != nil {
				key[top-1] = true
			}
			continue
		}
		if top < 0 || names[top] == nil {
			continue
		}
		if key[top] {
			s := tok.(string)
			if names[top][s] {
				return true
			}
			names[top][s] = true
		}
		key[top] = !key[top]
	}
}

// checkAccessFrom asserts accessFrom's contract on body: when it takes the
// body, entry.Decode decodes it to the same Access. A body that repeats a
// member name is outside the contract: the validator, whose decoded map
// accessFrom reads, refuses it.
func checkAccessFrom(t *testing.T, body []byte) {
	t.Helper()
	if repeatsMember(body) {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // the validator's representation
	var obj map[string]any
	if dec.Decode(&obj) != nil || obj == nil {
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		return // trailing data, which the validator refuses
	}
	a, ok := accessFrom(obj)
	if !ok {
		return
	}
	ev := &event.Event{Kind: "access", OccurredAt: "2026-11-23T10:00:00Z", Body: body}
	want, err := entry.Decode(3, "id", ev)
	if err != nil {
		t.Fatalf("%s: accessFrom took a body entry.Decode refuses: %v", body, err)
	}
	if !reflect.DeepEqual(a, want.Access) {
		t.Fatalf("%s: accessFrom = %+v, entry.Decode = %+v", body, a, want.Access)
	}
}

func TestAccessFrom(t *testing.T) {
	for _, b := range accessBodies(t) {
		checkAccessFrom(t, b)
	}
	// Every valid body takes the fast path, and decodeEntry then builds
	// exactly entry.Decode's Entry.
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "schemas", "examples", "access", "valid-*.json"))
	for _, f := range files {
		body, _ := os.ReadFile(f)
		obj, err := v.ValidateDecoded("access", schemas.Default("access"), body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := accessFrom(obj); !ok {
			t.Errorf("%s: accessFrom gave up on a valid body", f)
		}
		ev := &event.Event{Kind: "access", Version: schemas.Default("access"), OccurredAt: "2026-11-23T10:00:00+01:00", Body: body}
		got, err := decodeEntry(5, "id", ev, ev.Time(), obj)
		want, werr := entry.Decode(5, "id", ev)
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decodeEntry = %+v, %v; entry.Decode = %+v, %v", f, got, err, want, werr)
		}
	}
}

// FuzzAccessFrom checks accessFrom against entry.Decode:
//
//	go test -run '^$' -fuzz FuzzAccessFrom -fuzztime 30s ./monitor/entrycheck/
func FuzzAccessFrom(f *testing.F) {
	for _, b := range accessBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAccessFrom(t, body)
	})
}

func TestRepeatsMember(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1,"a":2}`: true, `{"a":{"b":1},"c":{"b":2}}`: false, `{"a":[{"b":1,"b":1}]}`: true,
		`{"a":[1,"a",{"a":1}],"b":"a"}`: false, `{"a":{"x":[]},"b":1,"a":3}`: true, `{"\u0061":1,"a":1}`: true,
		`[{"a":1},{"a":1}]`: false, `{"a":"b","b":"a"}`: false,
	} {
		if got := repeatsMember([]byte(body)); got != want {
			t.Errorf("repeatsMember(%s) = %v", body, got)
		}
	}
}
