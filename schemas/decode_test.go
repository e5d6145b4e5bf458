package schemas

import (
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
