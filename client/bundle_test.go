package client_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

// testBundle returns a valid bundle (as a map, to be broken field by field)
// with one monitor and one opening.
func testBundle(t testing.TB) map[string]any {
	t.Helper()
	l := testonly.NewFakeLog(t, "example.test/log")
	_, mvkey, err := note.GenerateKey(rand.Reader, "monitor.example")
	if err != nil {
		t.Fatal(err)
	}
	commitment, opening := event.Commit([]byte("State Department of Health"))
	return map[string]any{
		"type":      client.BundleType,
		"log":       "https://log.example",
		"custodian": "npi:1234567893",
		"key":       hex.EncodeToString(event.NewTagKey()),
		"policy":    "log " + l.VKey + "\nquorum none\n",
		"monitors":  []any{map[string]any{"url": "https://monitor.example/", "vkey": mvkey}},
		"openings": []any{map[string]any{"commitment": commitment, "value": "State Department of Health",
			"opening": hex.EncodeToString(opening)}},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPatientBundleRoundTrip(t *testing.T) {
	m := testBundle(t)
	b, err := client.ParsePatientBundle(mustJSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(m["key"].(string))
	tag, err := b.Tag()
	if err != nil || tag != event.PatientTag(key, "npi:1234567893") {
		t.Errorf("Tag() = %q, %v; want the patient's tag at the custodian", tag, err)
	}
	if p, err := b.ParsedPolicy(); err != nil || len(p.Logs) != 1 {
		t.Errorf("ParsedPolicy() = %v, %v", p, err)
	}
	c := m["openings"].([]any)[0].(map[string]any)["commitment"].(string)
	if v, ok := b.Opening(c); !ok || v != "State Department of Health" {
		t.Errorf("Opening = %q, %v", v, ok)
	}
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.ParsePatientBundle(out)
	if err != nil {
		t.Fatalf("Marshal's output does not parse: %v", err)
	}
	if string(mustJSON(t, again)) != string(out) {
		t.Errorf("round trip changed the bundle:\n%s\n%s", mustJSON(t, again), out)
	}
	// Without monitors and openings the fields are left out (the QR form).
	b.Monitors, b.Openings = nil, nil
	out, err = b.Marshal()
	if err != nil || strings.Contains(string(out), "openings") || strings.Contains(string(out), "monitors") {
		t.Errorf("short form = %s, %v", out, err)
	}
}

func TestPatientBundleRejects(t *testing.T) {
	opening := func(m map[string]any) map[string]any { return m["openings"].([]any)[0].(map[string]any) }
	monitor := func(m map[string]any) map[string]any { return m["monitors"].([]any)[0].(map[string]any) }
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
		raw    func(b []byte) []byte
		want   string
	}{
		{name: "type", mutate: func(m map[string]any) { m["type"] = "htlog-patient-bundle/v2" }, want: "type"},
		{name: "unknown field", mutate: func(m map[string]any) { m["extra"] = 1 }, want: "unknown field"},
		{name: "log not a URL", mutate: func(m map[string]any) { m["log"] = "log.example" }, want: "log"},
		{name: "log ftp", mutate: func(m map[string]any) { m["log"] = "ftp://log.example" }, want: "log"},
		{name: "log with query", mutate: func(m map[string]any) { m["log"] = "https://log.example/?a=b" }, want: "query"},
		{name: "custodian check digit", mutate: func(m map[string]any) { m["custodian"] = "npi:1234567890" }, want: "custodian"},
		{name: "key short", mutate: func(m map[string]any) { m["key"] = "abcd" }, want: "key"},
		{name: "key upper case", mutate: func(m map[string]any) { m["key"] = strings.ToUpper(m["key"].(string)) }, want: "key"},
		{name: "key not hex", mutate: func(m map[string]any) { m["key"] = strings.Repeat("g", 64) }, want: "key"},
		{name: "policy garbage", mutate: func(m map[string]any) { m["policy"] = "log nonsense\n" }, want: "policy"},
		{name: "policy no log", mutate: func(m map[string]any) { m["policy"] = "quorum none\n" }, want: "no log"},
		{name: "monitor URL", mutate: func(m map[string]any) { monitor(m)["url"] = "/relative" }, want: "monitor 1"},
		{name: "monitor vkey", mutate: func(m map[string]any) { monitor(m)["vkey"] = "monitor+00000000+AAAA" }, want: "vkey"},
		{name: "monitor unknown field", mutate: func(m map[string]any) { monitor(m)["x"] = "y" }, want: "unknown field"},
		{name: "commitment", mutate: func(m map[string]any) { opening(m)["commitment"] = "commit:v1:00" }, want: "commitment"},
		{name: "opening hex", mutate: func(m map[string]any) { opening(m)["opening"] = "zz" }, want: "opening 1"},
		{name: "opening wrong value", mutate: func(m map[string]any) { opening(m)["value"] = "someone else" }, want: "does not open"},
		{name: "trailing data", raw: func(b []byte) []byte { return append(b, []byte(" {}")...) }, want: "after"},
		{name: "duplicate field", raw: func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"type":`, `"key":"`+strings.Repeat("0", 64)+`","type":`, 1))
		}, want: "twice"},
		{name: "not an object", raw: func([]byte) []byte { return []byte(`[1,2]`) }, want: "JSON"},
		{name: "too large", raw: func(b []byte) []byte { return append(b, make([]byte, client.MaxBundleSize)...) }, want: "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testBundle(t)
			if tc.mutate != nil {
				tc.mutate(m)
			}
			b := mustJSON(t, m)
			if tc.raw != nil {
				b = tc.raw(b)
			}
			_, err := client.ParsePatientBundle(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePatientBundle: err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzParsePatientBundle: whatever parses marshals to a bundle that parses
// to the same thing, and the parser never panics.
func FuzzParsePatientBundle(f *testing.F) {
	f.Add(mustJSON(f, testBundle(f)))
	f.Add([]byte(`{"type":"htlog-patient-bundle/v1"}`))
	f.Add([]byte(`{"a":{"a":{"a":[[[[1]]]]}}}`))
	f.Add([]byte(`{"type":1,"type":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := client.ParsePatientBundle(data)
		if err != nil {
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("parsed bundle does not marshal: %v", err)
		}
		again, err := client.ParsePatientBundle(out)
		if err != nil {
			t.Fatalf("marshalled bundle does not parse: %v", err)
		}
		if string(mustJSON(t, again)) != string(out) {
			t.Fatalf("round trip changed the bundle")
		}
	})
}
