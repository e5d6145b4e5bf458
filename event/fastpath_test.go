package event

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"github.com/htlog/htlog/internal/strictjson"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// strictParseEnvelope is ParseEnvelope without its fast paths: the strict
// decoder and the same field checks, so the same errors, to the message.
func strictParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope is %d bytes, at most %d allowed", ErrMalformed, len(data), MaxEnvelopeSize)
	}
	var e Envelope
	if err := strictjson.Decode(data, &e); err != nil {
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
	if err := strictjson.Decode(payload, &ev); err != nil {
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
		deep(strictjson.MaxDepth - 2), deep(strictjson.MaxDepth - 1),
	} {
		differential(t, in)
	}
	if n := testing.AllocsPerRun(100, func() { parseCanonicalEnvelope(env) }); n > 5 {
		t.Errorf("parseCanonicalEnvelope allocates %v times per call", n)
	}
}

// differential compares ParseEnvelope and ParseEvent, and their fast
// paths, with the strict path (strictjson.Decode and the same field
// checks) on data. strictjson's own tests compare Decode with
// encoding/json/v2 and the token walk it replaced.
func differential(t *testing.T, data []byte) {
	t.Helper()
	// The fast paths: when they succeed, the strict path agrees.
	if e, ok := parseCanonicalEnvelope(data); ok {
		var ref Envelope
		if err := strictjson.Decode(data, &ref); err != nil || !reflect.DeepEqual(e, &ref) || !bytes.Equal(ref.Marshal(), data) {
			t.Fatalf("%q: parseCanonicalEnvelope = %+v, reference %+v (%v)", data, e, &ref, err)
		}
	}
	if ev, ok := parseEventFast(data); ok {
		var ref Event
		if err := strictjson.Decode(data, &ref); err != nil || !reflect.DeepEqual(ev, &ref) {
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
	gb, eb := strictParseEnvelope(data)
	if !sameError(ea, eb) {
		t.Fatalf("%q: ParseEnvelope = %v, strict path = %v", data, ea, eb)
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

// FuzzFastPaths is the differential test of the fast paths: on any input,
// ParseEnvelope and ParseEvent accept, refuse (to the message) and decode
// exactly as the strict path does.
//
//	go test -run '^$' -fuzz FuzzFastPaths -fuzztime 60s ./event/
func FuzzFastPaths(f *testing.F) {
	for _, in := range []string{`{}`, `[]`, `{"a":1,"a":2}`, `{"kind":"access","kind":"trial"}`, `{"KIND":"access"}`} {
		f.Add([]byte(in))
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

func BenchmarkParseEnvelopeVariants(b *testing.B) {
	env := testEnvelope(b)
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Envelope
			if err := strictjson.Decode(env, &e); err != nil {
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
