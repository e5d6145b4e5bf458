package entrycheck

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/htlog/htlog/internal/event"
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
	)
}

// checkAccessFrom asserts accessFrom's contract on body: when it takes the
// body, entry.Decode decodes it to the same Access.
func checkAccessFrom(t *testing.T, body []byte) {
	t.Helper()
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
		obj, err := v.ValidateDecoded("access", schemas.Latest("access"), body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := accessFrom(obj); !ok {
			t.Errorf("%s: accessFrom gave up on a valid body", f)
		}
		ev := &event.Event{Kind: "access", Version: schemas.Latest("access"), OccurredAt: "2026-11-23T10:00:00+01:00", Body: body}
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
