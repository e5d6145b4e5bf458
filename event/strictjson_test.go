package event

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
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

// refDecodeStrict is decodeStrict with the token walk in place of
// checkJSON (and the same case-sensitive key check after decoding).
func refDecodeStrict(data []byte, v any) error {
	return decodeChecked(refCheckNoDuplicateKeys, data, v)
}

// refParseEnvelope is ParseEnvelope as it was: the reference decoder and
// the same field checks, without the canonical fast path.
func refParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, ErrMalformed
	}
	var e Envelope
	if err := refDecodeStrict(data, &e); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// strictParseEnvelope is ParseEnvelope without its fast paths: the strict
// decoder and the same field checks, so the same errors, to the message.
func strictParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope is %d bytes, at most %d allowed", ErrMalformed, len(data), MaxEnvelopeSize)
	}
	var e Envelope
	if err := decodeStrict(data, &e); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// strictParseEvent is ParseEvent without its fast path: the strict decoder
// and the same field checks.
func strictParseEvent(payload []byte) (*Event, error) {
	var ev Event
	if err := decodeStrict(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return &ev, nil
}

func testEnvelope(t testing.TB) []byte {
	_, k, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 64)))
	id, _ := KeyID(k.Public())
	p := fmt.Appendf(nil, `{"kind":"access","version":1,"submitter":{"org":"npi:1234567893","key_id":%q},"occurred_at":"2026-11-23T10:00:00+01:00","body":{"patient":"tag:v1:%s","agent":{"who":"tag:v1:%[2]s","role":{"system":"x","code":"PCP"}},"n":[1,2.5e3,-0,true,false,null]}}`, id, strings.Repeat("ab", 32))
	env, err := Sign(p, k)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

var checkJSONTests = []struct {
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
	{strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth), ""},
	{strings.Repeat("[", maxNestingDepth+1) + strings.Repeat("]", maxNestingDepth+1), "syntax"},
	{strings.Repeat(`{"a":`, maxNestingDepth) + "1" + strings.Repeat("}", maxNestingDepth), ""},
}

func TestCheckJSON(t *testing.T) {
	for _, tc := range checkJSONTests {
		name := tc.in
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		err := checkJSON([]byte(tc.in))
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
}

// TestFastPathsTaken: the envelopes and payloads htlog logs take the fast
// paths (the differential test only shows they are right when taken).
func TestFastPathsTaken(t *testing.T) {
	env := testEnvelope(t)
	e, ok := parseCanonicalEnvelope(env)
	if !ok {
		t.Fatal("parseCanonicalEnvelope gave up on a canonical envelope")
	}
	if _, ok := parseEventFast(e.Payload); !ok {
		t.Fatalf("parseEventFast gave up on %s", e.Payload)
	}
	withSupersedes := bytes.Replace(e.Payload, []byte(`"body"`), []byte(`"supersedes":["sha256:`+strings.Repeat("0", 64)+`"],"body"`), 1)
	if ev, ok := parseEventFast(withSupersedes); !ok || len(ev.Supersedes) != 1 {
		t.Fatalf("parseEventFast gave up on %s", withSupersedes)
	}
	// Edges the fast event path must refuse as the strict one does.
	deep := func(n int) []byte {
		return []byte(`{"body":{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
	}
	for _, in := range [][]byte{
		bytes.Replace(e.Payload, []byte(`"version":1`), []byte(`"version":1,"kind":"access"`), 1),
		bytes.Replace(e.Payload, []byte(`"org":`), []byte(`"key_id":"x","org":`), 1),
		bytes.Replace(e.Payload, []byte(`"body":{`), []byte(`"body":{"n":1,"n":2,`), 1),
		append(bytes.Clone(e.Payload), `{}`...),
		deep(maxNestingDepth - 2), deep(maxNestingDepth - 1),
	} {
		differential(t, in)
	}
	if n := testing.AllocsPerRun(100, func() { parseCanonicalEnvelope(env) }); n > 5 {
		t.Errorf("parseCanonicalEnvelope allocates %v times per call", n)
	}
}

func TestCheckJSONErrors(t *testing.T) {
	if err := checkJSON([]byte(`{"a":1,"\u0061":2}`)); err == nil || err.Error() != `duplicate key "a"` {
		t.Errorf("duplicate: %v", err)
	}
	var se *json.SyntaxError
	if err := checkJSON([]byte(`{"a":x}`)); !errors.As(err, &se) {
		t.Errorf("syntax: %v, want encoding/json's *SyntaxError", err)
	}
}

func TestCheckJSONAllocs(t *testing.T) {
	env := testEnvelope(t)
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{env, e.Payload} {
		if n := testing.AllocsPerRun(100, func() {
			if err := checkJSON(in); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("checkJSON allocates %v times per call", n)
		}
	}
}

// differential compares checkJSON, decodeStrict and ParseEnvelope with the
// token-walk reference on data.
func differential(t *testing.T, data []byte) {
	t.Helper()
	got, ref := checkJSON(data), refCheckNoDuplicateKeys(data)
	if json.Valid(data) {
		// On one valid value both must agree, to the message.
		if (got == nil) != (ref == nil) || got != nil && got.Error() != ref.Error() {
			t.Fatalf("%q: checkJSON = %v, reference = %v", data, got, ref)
		}
	} else if got == nil {
		t.Fatalf("%q: checkJSON accepted what json.Valid refuses", data)
	}
	if got != nil && strings.HasPrefix(got.Error(), "duplicate key") && ref == nil {
		t.Fatalf("%q: checkJSON found a duplicate the reference did not: %v", data, got)
	}
	// What matters: decodeStrict accepts exactly what it did, and decodes
	// the same value.
	for _, mk := range []func() any{
		func() any { return new(Envelope) },
		func() any { return new(Event) },
		func() any { return new(map[string]any) },
	} {
		a, b := mk(), mk()
		ea, eb := decodeStrict(data, a), refDecodeStrict(data, b)
		if (ea == nil) != (eb == nil) {
			t.Fatalf("%q into %T: decodeStrict = %v, reference = %v", data, a, ea, eb)
		}
		if ea == nil && !reflect.DeepEqual(a, b) {
			t.Fatalf("%q into %T: decoded %+v, reference %+v", data, a, a, b)
		}
	}
	// The fast paths: when they succeed, the strict path agrees.
	if e, ok := parseCanonicalEnvelope(data); ok {
		var ref Envelope
		if err := refDecodeStrict(data, &ref); err != nil || !reflect.DeepEqual(e, &ref) || !bytes.Equal(ref.Marshal(), data) {
			t.Fatalf("%q: parseCanonicalEnvelope = %+v, reference %+v (%v)", data, e, &ref, err)
		}
	}
	if ev, ok := parseEventFast(data); ok {
		var ref Event
		if err := refDecodeStrict(data, &ref); err != nil || !reflect.DeepEqual(ev, &ref) {
			t.Fatalf("%q: parseEventFast = %+v, reference %+v (%v)", data, ev, &ref, err)
		}
	}
	ev, err := ParseEvent(data)
	refEv, refErr := strictParseEvent(data)
	if !sameError(err, refErr) {
		t.Fatalf("%q: ParseEvent = %v, reference = %v", data, err, refErr)
	}
	if err == nil && !reflect.DeepEqual(ev, refEv) {
		t.Fatalf("%q: ParseEvent = %+v, reference %+v", data, ev, refEv)
	}
	ga, canonical, ea := ParseEnvelopeCanonical(data)
	gb, eb := refParseEnvelope(data)
	if (ea == nil) != (eb == nil) {
		t.Fatalf("%q: ParseEnvelope = %v, reference = %v", data, ea, eb)
	}
	if _, es := strictParseEnvelope(data); !sameError(ea, es) {
		t.Fatalf("%q: ParseEnvelope = %v, strict path = %v", data, ea, es)
	}
	if ea == nil && !reflect.DeepEqual(ga, gb) {
		t.Fatalf("%q: ParseEnvelope = %+v, reference %+v", data, ga, gb)
	}
	if ea == nil && canonical != bytes.Equal(gb.Marshal(), data) {
		t.Fatalf("%q: canonical = %v, wrong", data, canonical)
	}
}

// caseSensitiveKey is checkExactKeys's error, whose key is whichever wrong
// key it meets first in a map: any of them, from one run to the next.
var caseSensitiveKey = regexp.MustCompile(`unknown field ".*" \(field names are case-sensitive\)`)

// sameError reports whether a and b are both nil or say the same thing, up
// to the key a case-sensitivity error names.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return caseSensitiveKey.ReplaceAllString(a.Error(), "…") == caseSensitiveKey.ReplaceAllString(b.Error(), "…")
}

// FuzzCheckJSON is the differential test: on any input, checkJSON agrees
// with the token walk it replaced (on one valid JSON value), refuses what
// json.Valid refuses, and decodeStrict and ParseEnvelope accept and decode
// exactly what they did with the token walk.
//
//	go test -run '^$' -fuzz FuzzCheckJSON -fuzztime 60s ./event/
func FuzzCheckJSON(f *testing.F) {
	for _, tc := range checkJSONTests {
		if len(tc.in) < 1000 {
			f.Add([]byte(tc.in))
		}
	}
	env := testEnvelope(f)
	f.Add(env)
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		f.Fatal(err)
	}
	f.Add(e.Payload)
	f.Add(bytes.Replace(env, []byte(`"payloadType"`), []byte(`"payload":"e30=","payloadType"`), 1))
	f.Add(bytes.Replace(env, []byte(`"payloadType"`), []byte(`"PayloadType":"x","payloadType"`), 1))
	f.Add(bytes.Replace(env, []byte(`"sig"`), []byte(`"\u0073ig"`), 1))
	f.Add(bytes.Replace(e.Payload, []byte(`"kind"`), []byte(`"kin\u0064"`), 1))
	f.Add(bytes.Replace(e.Payload, []byte(`"body":{`), []byte(`"body":{"patient":1,`), 1))
	f.Add(append(bytes.Clone(env), ' ', '\n'))
	f.Add(bytes.Replace(e.Payload, []byte(`"version":1`), []byte(`"version":1.0`), 1))
	f.Add(bytes.Replace(e.Payload, []byte(`"body"`), []byte(`"supersedes":[],"body"`), 1))
	f.Add(bytes.Replace(e.Payload, []byte(`"body"`), []byte(`"supersedes":null,"body"`), 1))
	f.Add(bytes.Replace(e.Payload, []byte(`"kind":"access"`), []byte(`"kind":"acc\u0065ss"`), 1))
	f.Add(bytes.Replace(env, []byte(`"payloadType":"`), []byte(`"payloadType":"<`), 1))
	f.Add(bytes.Replace(env, []byte(`","signatures"`), []byte(`\n","signatures"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		differential(t, data)
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	env := testEnvelope(b)
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"envelope", env}, {"payload", e.Payload}} {
		b.Run("scanner/"+bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := checkJSON(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("tokenwalk/"+bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := refCheckNoDuplicateKeys(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseEnvelopeVariants(b *testing.B) {
	env := testEnvelope(b)
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Envelope
			if err := decodeStrict(env, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Envelope
			if err := json.Unmarshal(env, &e); err != nil || !bytes.Equal(e.Marshal(), env) {
				b.Fatal(err)
			}
		}
	})
	b.Run("fastest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseCanonicalEnvelope(env); !ok {
				b.Fatal("not canonical")
			}
		}
	})
	var e Envelope
	json.Unmarshal(env, &e)
	b.Run("parseevent-strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := strictParseEvent(e.Payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parseevent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseEvent(e.Payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
