package schemas

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var decodeBodies = []string{
	`{}`,
	` {"a":1} `,
	"\t{\"a\" :\n[1, -0, 2.5e-3, 1E+2, true, false, null, \"x\", {}, []]}\r\n",
	`{"a":{"b":{"c":[{"d":"é"}]}},"e":"\u00e9","f":"x\"y"}`,
	`{"a":1,"a":2}`,
	`{"a":1,"b":{"a":1,"a":1}}`,
	`{"a":1}{}`,
	`{"a":1} x`,
	`{"a":01}`,
	`{"a":1.}`,
	`{"a":-}`,
	`{"a":tru}`,
	`{"a":[1,]}`,
	`{"a":1,}`,
	"{\"a\":\"\x01\"}",
	"{\"a\":\"\xff\"}",
	`[]`,
	`"s"`,
	``,
	`{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`,
	`{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`,
	`{"a":` + strings.Repeat(`{"b":`, 15) + "1" + strings.Repeat("}", 15) + `}`,
}

// checkDecodeFast asserts decodeFast's contract on body: when it succeeds,
// decodeObject succeeds too, with an equal value.
func checkDecodeFast(t *testing.T, body []byte) {
	t.Helper()
	got, ok := decodeFast(body)
	if !ok {
		return
	}
	want, err := decodeObject(body)
	if err != nil {
		t.Fatalf("%q: decodeFast accepted what decodeObject refuses: %v", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodeFast = %#v, decodeObject = %#v", body, got, want)
	}
}

func TestDecodeFast(t *testing.T) {
	for _, b := range decodeBodies {
		checkDecodeFast(t, []byte(b))
	}
	// The fast path must actually take the bodies htlog logs.
	files, _ := filepath.Glob(filepath.Join("examples", "*", "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeFast(t, b)
		if _, ok := decodeFast(b); !ok && !strings.Contains(string(b), `\`) {
			t.Errorf("%s: decodeFast gave up on a plain body", f)
		}
	}
}

// FuzzDecodeFast checks decodeFast's one-sided contract against
// decodeObject, the reference it shortcuts:
//
//	go test -run '^$' -fuzz FuzzDecodeFast -fuzztime 30s ./schemas/
func FuzzDecodeFast(f *testing.F) {
	for _, b := range decodeBodies {
		f.Add([]byte(b))
	}
	files, _ := filepath.Glob(filepath.Join("examples", "*", "*.json"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodeFast(t, body)
	})
}

// BenchmarkValidate measures Validate on an example body, and its parts:
//
//	go test -run '^$' -bench BenchmarkValidate -benchmem ./schemas/
func BenchmarkValidate(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("examples", "access", "valid-routine-read.json"))
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := v.Validate("access", 1, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeFast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeFast(body); !ok {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("decodeObject", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeObject(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	obj, _ := decodeFast(body)
	sch := v.compiled["access"][1]
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := sch.Validate(obj); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBadEscapes: a \u0000 escape or an unpaired surrogate escape in any
// string or member name of a body is refused on every path, with the
// member named; paired surrogates and other escapes are kept.
func TestBadEscapes(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"a":"x\u0000"}`, "/a"},
		{`{"a":"\ud800"}`, "/a"},
		{`{"a":"\uDBFF x"}`, "/a"},
		{`{"a":"\udc00"}`, "/a"},
		{`{"a":"\ud800\u0041"}`, "/a"},
		{`{"a":"\ud800\ud800"}`, "/a"},
		{`{"a":"\\\ud800"}`, "/a"},
		{`{"a":{"b~/":["ok","\u0000"]}}`, "/a/b~0~1/1"},
		{`{"x\u0000":1}`, "(body)"},
		{`{"a":[{"\udfff":1}]}`, "/a/0"},
	} {
		_, err := decodeObject([]byte(tc.body))
		if !errors.Is(err, ErrMalformedBody) || !strings.Contains(err.Error(), tc.field+": ") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want a malformed body naming %s", tc.body, err, tc.field)
		}
		if _, ok := decodeFast([]byte(tc.body)); ok {
			t.Errorf("%s: the fast path accepted it", tc.body)
		}
		for _, kind := range Kinds {
			for version := 1; version <= Latest(kind); version++ {
				if _, err := v.ValidateDecoded(kind, version, []byte(tc.body)); !errors.Is(err, ErrMalformedBody) {
					t.Errorf("%s v%d %s: err = %v, want a malformed body", kind, version, tc.body, err)
				}
			}
		}
	}
	for _, ok := range []string{
		`{"a":"\ud83d\ude00"}`, `{"a":"\u0001\ufffd\u00e9"}`, `{"a":"\\u0000"}`, `{"a":"\\\\ud800"}`, `{"\ud83d\ude00":["\u2028"]}`,
	} {
		if _, err := decodeObject([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// A free-text field of a valid trial registration (version 2).
	body, err := os.ReadFile(filepath.Join("examples", "trial", "valid-registration.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, esc := range []string{`\u0000`, `\ud800`} {
		bad := strings.Replace(string(body), `"Overall survival"`, `"Overall survival`+esc+`"`, 1)
		err := v.Validate("trial", 2, []byte(bad))
		if !errors.Is(err, ErrMalformedBody) || !strings.Contains(err.Error(), "/secondary_outcomes/0/measure: string holds") {
			t.Errorf("%s in a trial's outcome measure: err = %v", esc, err)
		}
	}
	if err := v.Validate("trial", 2, body); err != nil {
		t.Fatal(err)
	}
}
