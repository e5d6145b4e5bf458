package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// refCheckNoDuplicateKeys is the token walk checkJSON replaced, kept as the
// reference the differential fuzz test compares against. It walks every
// value in data (a stream) and fails on a syntax error or a repeated key.
func refCheckNoDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys   map[string]bool
		object bool
		expect bool // next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, object: true, expect: true})
			case '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.object && top.expect {
				if top.keys[t] {
					return fmt.Errorf("duplicate key %q", t)
				}
				top.keys[t] = true
				top.expect = false
				continue
			}
		}
		if top != nil && top.object {
			top.expect = true
		}
	}
}

var checkTests = []struct {
	in  string
	err string // "" valid; "dup" a duplicate key; "syntax" any other error
}{
	{`{}`, ""},
	{` {"a":1} `, ""},
	{`[]`, ""},
	{`"s"`, ""},
	{`-0.5e+7`, ""},
	{`{"a":{"a":{"a":[{"a":1},{"a":2}]}}}`, ""},
	{`{"a":1,"b":{"a":1},"c":[{"a":1,"b":2}]}`, ""},
	{`{"a":1,"a":2}`, "dup"},
	{`{"a":1,"\u0061":2}`, "dup"},
	{`{"\u0041":1,"A":2}`, "dup"},
	{`{"a":1,"A":2}`, ""}, // the same field to encoding/json, but not the same key
	{`{"\/":1,"/":2}`, "dup"},
	{`{"\n":1,"\u000a":2}`, "dup"},
	{`{"é":1,"\u00e9":2}`, "dup"},
	{`{"😀":1,"\ud83d\ude00":2}`, "dup"},
	{"{\"\xff\":1,\"\\ufffd\":2}", "dup"}, // invalid UTF-8 decodes to U+FFFD
	{"{\"\xff\":1,\"\xfe\":2}", "dup"},
	{`{"\ud800":1,"\udc00":2}`, "dup"}, // lone surrogates decode to U+FFFD
	{`{"\ud800x":1,"\ufffdx":2}`, "dup"},
	{`{"\ud800\u0041":1,"\ufffdA":2}`, "dup"},
	{`{"x":{"b":1,"b":2}}`, "dup"},
	{`[{"b":1},{"c":1,"c":1}]`, "dup"},
	{`{"a":[1,{"k":1,"k":2}]}`, "dup"},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"\u0063":19}`, "dup"},
	{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19}`, ""},
	{``, "syntax"},
	{` `, "syntax"},
	{`{`, "syntax"},
	{`{"a"`, "syntax"},
	{`{"a":`, "syntax"},
	{`{"a":1`, "syntax"},
	{`{"a":1,}`, "syntax"},
	{`{,}`, "syntax"},
	{`[1,]`, "syntax"},
	{`{}]`, "syntax"},
	{`{}}`, "syntax"},
	{`{}{}`, "syntax"},
	{`{} x`, "syntax"},
	{`{"a" 1}`, "syntax"},
	{`{1:1}`, "syntax"},
	{`{"a":01}`, "syntax"},
	{`{"a":1.}`, "syntax"},
	{`{"a":.5}`, "syntax"},
	{`{"a":1e}`, "syntax"},
	{`{"a":-}`, "syntax"},
	{`{"a":tru}`, "syntax"},
	{`{"a":nul}`, "syntax"},
	{`{"a":"\x"}`, "syntax"},
	{`{"a":"\'"}`, "syntax"},
	{`{"a":"\u12"}`, "syntax"},
	{`{"a":"\u12g4"}`, "syntax"},
	{"{\"a\":\"\x01\"}", "syntax"},
	{"{\"a\":\"x", "syntax"},
	{`["a":1]`, "syntax"},
	{`{"a":1]`, "syntax"},
	{`[1}`, "syntax"},
	{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), ""},
	{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), "syntax"},
	{strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth), ""},
}

// sample is a document of the shape htlog logs: a DSSE envelope around an
// event with a nested body.
const sample = `{"payloadType":"application/vnd.htlog.event+json","payload":"eyJraW5kIjoiYWNjZXNzIn0=","signatures":[{"keyid":"8f4c8b3c25a0e0b0e6b1c0c6f3e5d1a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4","sig":"c2lnbmF0dXJl"}],"body":{"patient":"tag:v1:abab","agent":{"who":"tag:v1:cdcd","role":{"system":"x","code":"PCP"}},"n":[1,2.5e3,-0,true,false,null]}}`

// record is a struct to decode into: exact names, a nested struct, a slice
// and a raw value, as the envelope and event have.
type record struct {
	Kind  string          `json:"kind"`
	Inner *inner          `json:"inner"`
	Tags  []string        `json:"tags"`
	Body  json.RawMessage `json:"body"`
}

type inner struct {
	Code string `json:"code"`
}

func TestCheck(t *testing.T) {
	for _, tc := range checkTests {
		name := tc.in
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		err := Check([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v, want valid", name, err)
		case tc.err == "dup" && (err == nil || !strings.HasPrefix(err.Error(), "duplicate key")):
			t.Errorf("%q: %v, want a duplicate key", name, err)
		case tc.err == "syntax" && (err == nil || strings.HasPrefix(err.Error(), "duplicate key")):
			t.Errorf("%q: %v, want a syntax error", name, err)
		}
		if valid := json.Valid([]byte(tc.in)); valid != (tc.err != "syntax") {
			t.Errorf("%q: json.Valid = %v: the table is wrong", name, valid)
		}
		differential(t, []byte(tc.in))
	}
	differential(t, []byte(sample))
}

func TestCheckErrors(t *testing.T) {
	if err := Check([]byte(`{"a":1,"\u0061":2}`)); err == nil || err.Error() != `duplicate key "a"` {
		t.Errorf("duplicate: %v", err)
	}
	var se *json.SyntaxError
	if err := Check([]byte(`{"a":x}`)); !errors.As(err, &se) {
		t.Errorf("syntax: %v, want encoding/json's *SyntaxError", err)
	}
}

func TestCheckAllocs(t *testing.T) {
	data := []byte(sample)
	if n := testing.AllocsPerRun(100, func() {
		if err := Check(data); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Check allocates %v times per call", n)
	}
}

// TestDecodeExactKeys: a key that matches a field only by ignoring case is
// refused at every level, as encoding/json/v2 refuses it by default.
func TestDecodeExactKeys(t *testing.T) {
	for _, in := range []string{`{"KIND":"x"}`, `{"inner":{"Code":"x"}}`, `{"kind":"x","Tags":[]}`} {
		var r record
		if err := Decode([]byte(in), &r); err == nil {
			t.Errorf("%s: accepted", in)
		}
		differential(t, []byte(in))
	}
	var r record
	if err := Decode([]byte(`{"kind":"x","inner":{"code":"y"},"tags":["a"],"body":{"k":1}}`), &r); err != nil || r.Inner.Code != "y" {
		t.Errorf("exact keys refused: %v", err)
	}
}

// comparableWithV2 reports whether encoding/json/v2's defaults and Check
// are meant to agree on data: they differ by design only on invalid UTF-8
// and lone UTF-16 surrogates, which v2 refuses (RFC 7493) and Check, like
// encoding/json, reads as U+FFFD (event parsing refuses them elsewhere).
func comparableWithV2(data []byte) bool {
	return utf8.Valid(data) && !bytes.Contains(bytes.ToLower(data), []byte(`\ud`))
}

// differential compares Check and Decode with two references on data: the
// token walk Check replaced (on one valid JSON value, to the message), and
// the strict decoder of github.com/go-json-experiment/json, whose defaults
// refuse duplicate names and match names case-sensitively.
func differential(t *testing.T, data []byte) {
	t.Helper()
	got, ref := Check(data), refCheckNoDuplicateKeys(data)
	if json.Valid(data) {
		if (got == nil) != (ref == nil) || got != nil && got.Error() != ref.Error() {
			t.Fatalf("%q: Check = %v, token walk = %v", data, got, ref)
		}
	} else if got == nil {
		t.Fatalf("%q: Check accepted what json.Valid refuses", data)
	}
	if !comparableWithV2(data) {
		return
	}
	if v2 := jsontext.Value(data).IsValid(); v2 != (got == nil) {
		t.Fatalf("%q: Check = %v, but encoding/json/v2 valid = %v", data, got, v2)
	}
	for _, mk := range []func() any{
		func() any { return new(record) },
		func() any { return new(map[string]any) },
	} {
		a, b, c := mk(), mk(), mk()
		ea := Decode(data, a)
		if eb := decodeChecked(refCheckNoDuplicateKeys, data, b); (ea == nil) != (eb == nil) {
			t.Fatalf("%q into %T: Decode = %v, with the token walk = %v", data, a, ea, eb)
		}
		ec := jsonv2.Unmarshal(data, c, jsonv2.RejectUnknownMembers(true))
		if (ea == nil) != (ec == nil) {
			t.Fatalf("%q into %T: Decode = %v, encoding/json/v2 = %v", data, a, ea, ec)
		}
		if ea == nil && !reflect.DeepEqual(a, c) {
			t.Fatalf("%q into %T: decoded %+v, encoding/json/v2 %+v", data, a, a, c)
		}
	}
}

// FuzzCheck is the differential test of [Check] and [Decode] against the
// token walk and encoding/json/v2 (see differential).
//
//	go test -run '^$' -fuzz FuzzCheck -fuzztime 60s ./internal/strictjson/
func FuzzCheck(f *testing.F) {
	for _, tc := range checkTests {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	f.Add([]byte(sample))
	f.Add([]byte(`{"kind":"x","inner":{"code":"y"},"tags":["a"],"body":{"k":1}}`))
	f.Add([]byte(`{"kind":"x","inner":null,"tags":null,"body":null}`))
	f.Add([]byte(`{"KIND":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		differential(t, data)
	})
}

func BenchmarkCheck(b *testing.B) {
	data := []byte(sample)
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := Check(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tokenwalk", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := refCheckNoDuplicateKeys(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonv2", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if !jsontext.Value(data).IsValid() {
				b.Fatal("invalid")
			}
		}
	})
}
