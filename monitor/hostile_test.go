package monitor_test

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
)

// hostileCase is one entry of the hostile corpus: an entry a dishonest log
// could serve, which the monitor must turn into a finding (hostile), or an
// odd one at the limits of the format that it must admit without one.
type hostileCase struct {
	name    string
	entry   []byte
	hostile bool
}

// payloadJSON writes an event payload by hand, so that occurred_at and the
// body can be anything at all.
func payloadJSON(sub *montest.Submitter, kind string, version int, occurredAt, body string) []byte {
	return fmt.Appendf(nil, `{"kind":%q,"version":%d,"submitter":{"org":%q,"key_id":%q},"occurred_at":%q,"body":%s}`,
		kind, version, sub.Org, sub.KeyID, occurredAt, body)
}

// signWith signs payload with key, whatever it holds, and returns the
// canonical envelope.
func signWith(t *testing.T, key crypto.Signer, payload []byte) []byte {
	t.Helper()
	env, err := event.Sign(payload, key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

func readExample(t *testing.T, parts ...string) string {
	t.Helper()
	return readCompact(t, filepath.Join(append([]string{"..", "schemas", "examples"}, parts...)...))
}

func readCompact(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// hostileCorpus returns the hostile entries, each signed by sub (a
// registered submitter) unless the case is about the signature or the
// submitter. registration is a valid trial registration the far-future
// amendment follows.
func hostileCorpus(t *testing.T, sub *montest.Submitter) []hostileCase {
	t.Helper()
	access := func(agent string) string {
		b, _ := json.Marshal(montest.Access(sub.Org, agent, "p-hostile", "TREAT", ""))
		return string(b)
	}
	signed := func(kind string, version int, at, body string) []byte {
		return signWith(t, sub.Key, payloadJSON(sub, kind, version, at, body))
	}
	var cs []hostileCase
	add := func(hostile bool, name string, entry []byte) {
		cs = append(cs, hostileCase{name: name, entry: entry, hostile: hostile})
	}

	// Times at the limits of the format, and past them.
	for _, at := range []string{
		"0001-01-01T00:00:00Z", "1969-12-31T23:59:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:00Z",
		"9999-12-31T23:59:00-23:59", "9999-12-31T23:59:59.999999999Z", "2999-01-01T00:00:00+23:59",
		"2026-03-01T09:00:00.123456789Z", "2026-03-01T09:00:00.000000001+23:59", "2026-03-01T23:59:60Z",
		"2026-06-30T23:59:60Z", "2026-03-01T09:00:00+24:00", "2026-03-01T09:00:00", "2026-03-01 09:00:00Z",
		"2026-03-01t09:00:00z", "2026-02-30T09:00:00Z", "+12026-03-01T09:00:00Z", "", "now", "1e9",
		"2026-03-01T09:00:00.1234567891Z", "2026-03-01T09:00:00\u0000Z",
		"2026-03-01T09:00:00-24:00", "2026-03-01T09:00:00+23:60", "2026-03-01T09:00:00+24:59",
	} {
		add(true, "occurred_at "+at, signed("access", 2, at, access("dr-time")))
	}
	// A version 1 TRIAL event (fractions allowed) far in the future.
	add(true, "trial v1 in 9999", signed("trial", 1, "9999-12-31T23:59:59.999999999Z", readExample(t, "v1", "trial", "valid-results.json")))

	// Every invalid example, under its schema version.
	for _, kind := range schemas.Kinds {
		for version, dir := range map[int][]string{2: {kind}, 3: {"v3", kind}, 1: {"v1", kind}} {
			files, _ := filepath.Glob(filepath.Join(append([]string{"..", "schemas", "examples"}, dir...)...) + "/invalid-*.json")
			if len(files) == 0 {
				t.Fatalf("no invalid examples in %v", dir)
			}
			for _, f := range files {
				add(true, fmt.Sprintf("%s v%d %s", kind, version, filepath.Base(f)),
					signed(kind, version, "2026-03-01T10:00:00Z", readCompact(t, f)))
			}
		}
	}

	// Huge and deep bodies, and entries up to the bundle's 64 KiB.
	reg := readExample(t, "trial", "valid-registration.json")
	huge := strings.Replace(reg, `"Overall survival"`, `"`+strings.Repeat("Overall survival ", 2600)+`"`, 1)
	add(true, "44 KB outcome measure", signed("trial", 2, "2026-03-01T10:00:00Z", huge))
	add(true, "envelope over 60 KiB", signed("trial", 2, "2026-03-01T10:00:00Z",
		strings.Replace(reg, `"Overall survival"`, `"`+strings.Repeat("x", 46000)+`"`, 1)))
	add(true, "64 KiB of garbage", bytes.Repeat([]byte{0xff}, 65535))
	// Version 3 bodies at and past their bounds: 257 packages, a quantity
	// past the limit, a version 2 body under version 3.
	custody3 := readExample(t, "v3", "custody", "valid-shipping-serialised.json")
	var many []string
	for i := range 257 {
		many = append(many, fmt.Sprintf(`{"gtin":"00361414567894","serial":"tag:v1:%064x","lot":"A1","expiry":"2027-06-30"}`, i))
	}
	add(true, "custody v3 with 257 packages", signed("custody", 3, "2026-03-01T10:00:00Z",
		strings.Replace(custody3, `"products":[`, `"products":[`+strings.Join(many, ",")+`,`, 1)))
	add(true, "custody v3 quantity 1e300", signed("custody", 3, "2026-03-01T10:00:00Z",
		strings.Replace(readExample(t, "v3", "custody", "valid-lot-recall.json"), `"quantity":10000`, `"quantity":1e300`, 1)))
	add(true, "trial v2 body as version 3", signed("trial", 3, "2026-03-01T10:00:00Z", reg))
	add(true, "body nested 5,000 deep", signed("access", 2, "2026-03-01T10:00:00Z",
		`{"a":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`))
	add(true, "body nested 12,000 deep", signed("access", 2, "2026-03-01T10:00:00Z",
		`{"a":`+strings.Repeat("[", 12000)+strings.Repeat("]", 12000)+`}`))
	add(true, "body objects nested 40 deep", signed("access", 2, "2026-03-01T10:00:00Z",
		strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40)))

	// Signatures and submitters.
	good := signed("access", 2, "2026-03-01T10:01:00Z", access("dr-sig"))
	env, err := event.ParseEnvelope(good)
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Sig[3] ^= 1
	add(true, "flipped signature bit", env.Marshal())
	other := montest.NewSubmitter(t, sub.Org)
	add(true, "signed by another key under the registered key id", signWith(t, other.Key, payloadJSON(sub, "access", 2, "2026-03-01T10:02:00Z", access("dr-sig"))))
	add(true, "unregistered key of a registered organisation", signWith(t, other.Key, payloadJSON(other, "access", 2, "2026-03-01T10:03:00Z", access("dr-sig"))))
	stranger := montest.NewSubmitter(t, "npi:1999999992")
	add(true, "unknown organisation", signWith(t, stranger.Key, payloadJSON(stranger, "access", 2, "2026-03-01T10:04:00Z", access("dr-sig"))))
	mismatch := *sub
	mismatch.KeyID = other.KeyID
	add(true, "payload key id differs from the signature's", signWith(t, sub.Key, payloadJSON(&mismatch, "access", 2, "2026-03-01T10:05:00Z", access("dr-sig"))))
	env, _ = event.ParseEnvelope(good)
	env.Signatures[0].Sig = nil
	add(true, "empty signature", env.Marshal())

	// Non-canonical and ambiguous JSON.
	nc := signed("access", 2, "2026-03-01T10:06:00Z", access("dr-nc"))
	add(true, "envelope with white space", bytes.Replace(nc, []byte(`","payload":"`), []byte(`", "payload" : "`), 1))
	e2, _ := event.ParseEnvelope(nc)
	add(true, "envelope members reordered", fmt.Appendf(nil, `{"payload":%q,"payloadType":%q,"signatures":[{"keyid":%q,"sig":%q}]}`,
		base64.StdEncoding.EncodeToString(e2.Payload), event.PayloadType, e2.Signatures[0].KeyID, base64.StdEncoding.EncodeToString(e2.Signatures[0].Sig)))
	add(true, "envelope with trailing data", append(append([]byte(nil), nc...), "{}"...))
	add(true, "envelope with a duplicate payload", bytes.Replace(nc, []byte(`,"signatures"`), []byte(`,"payload":"e30=","signatures"`), 1))
	add(true, "payload with a duplicate kind", signWith(t, sub.Key, bytes.Replace(payloadJSON(sub, "access", 2, "2026-03-01T10:07:00Z", access("dr-dup")),
		[]byte(`"kind":"access"`), []byte(`"kind":"access","kind":"trial"`), 1)))
	add(true, "body with a duplicate member", signed("access", 2, "2026-03-01T10:08:00Z", strings.Replace(access("dr-dup"), `"action":"R"`, `"action":"R","action":"D"`, 1)))
	add(true, "body with an escaped duplicate member", signed("access", 2, "2026-03-01T10:09:00Z", strings.Replace(access("dr-dup"), `"action":"R"`, `"action":"R","\u0061ction":"D"`, 1)))
	add(true, "body with a member differing in case", signed("access", 2, "2026-03-01T10:10:00Z", strings.Replace(access("dr-dup"), `"action":"R"`, `"action":"R","ACTION":"D"`, 1)))

	// Escapes: NUL and lone surrogates, in free text and in codes.
	for _, esc := range []string{`\u0000`, `\ud800`, `\udfff`, `\ud800\u0041`} {
		add(true, "trial outcome measure with "+esc, signed("trial", 2, "2026-03-01T10:11:00Z",
			strings.Replace(reg, `"Overall survival"`, `"Overall survival`+esc+`"`, 1)))
		add(true, "access member name with "+esc, signed("access", 2, "2026-03-01T10:12:00Z", strings.Replace(access("dr-esc"), `"outcome"`, `"outcome`+esc+`"`, 1)))
	}
	add(true, "trial v1 title with a NUL", signed("trial", 1, "2026-03-01T10:13:00Z",
		strings.Replace(readExample(t, "v1", "trial", "valid-registration.json"), `"measure":"Progre`, `"measure":"Progre\u0000`, 1)))

	// Numbers an honest body never holds.
	for _, n := range []string{"NaN", "Infinity", "-Infinity", "1e999", "-0.0", "1.5", "9223372036854775808", "100000001", "-1", `"640"`, "null", "0x10"} {
		add(true, "sample size "+n, signed("trial", 2, "2026-03-01T10:14:00Z", strings.Replace(reg, `"n":640`, `"n":`+n, 1)))
	}

	// Empty and garbage entries.
	for _, g := range []string{"", " ", "null", "{}", "[]", "0", `"x"`, "\xff\xfe", "\x00", "not an envelope",
		`{"payloadType":"application/vnd.htlog.event+json","payload":"","signatures":[]}`,
		`{"payloadType":"application/vnd.htlog.event+json","payload":"e30=","signatures":[{"keyid":"","sig":""}]}`,
	} {
		add(true, fmt.Sprintf("garbage %q", g), []byte(g))
	}
	add(true, "truncated envelope", nc[:len(nc)/2])
	return cs
}

// TestHostileEntries feeds a corpus of hostile entries, interleaved with
// valid events, to the monitor through a log that checks nothing: the
// monitor must replay to the log's size, record a finding for every
// hostile entry and none for the valid ones, keep the rules' clock where
// the valid events put it (a trial completing in 2028 raises no
// missing_trial_results), and save and restore the rules' state.
func TestHostileEntries(t *testing.T) {
	e := newEnv(t, store.NewMem())
	sub := e.sub
	corpus := hostileCorpus(t, sub)

	var valid []hostileCase
	addValid := func(name string, entry []byte) { valid = append(valid, hostileCase{name: name, entry: entry}) }
	// A trial registration completing on 2028-12-31, timed to the
	// nanosecond (trials may be), whose results are due in 2030: a clock
	// moved past that raises missing_trial_results.
	reg := readExample(t, "trial", "valid-registration.json")
	addValid("registration", signWith(t, sub.Key, payloadJSON(sub, "trial", 2, "2026-03-01T08:59:59.123456789Z", reg)))
	// Odd but valid times: offsets at the limits, the epoch.
	for i, at := range []string{"2026-03-01T09:00:00+23:59", "2026-03-01T09:00:00-23:59", "1970-01-01T00:00:00Z", "2026-03-01T09:00:00.000000000Z"} {
		b, _ := json.Marshal(montest.Access(sub.Org, fmt.Sprintf("dr-odd-%d", i), "p", "TREAT", ""))
		addValid("access at "+at, signWith(t, sub.Key, payloadJSON(sub, "access", 2, at, string(b))))
	}
	for i := range 300 {
		raw, _ := sub.Sign(t, "access", t0.Add(time.Duration(i)*time.Minute), montest.Access(sub.Org, fmt.Sprintf("dr-%d", i%50), "p", "TREAT", ""))
		addValid(fmt.Sprintf("access %d", i), raw)
	}
	// Every valid version 3 example of custody and consent, and the
	// access examples that cite no consent: they reach the rules and
	// raise nothing.
	for i, name := range []string{"custody/valid-shipping-serialised", "custody/valid-class-level-receiving", "custody/valid-aggregation-packing",
		"custody/valid-shipping-logistic-unit", "custody/valid-transformation-repackaging", "custody/valid-illegitimate-product-quarantined",
		"custody/valid-lot-recall", "consent/valid-research-grant", "consent/valid-treatment-grant-deny-one-person",
		"access/valid-disclosure-to-public-health", "access/valid-failed-forbidden"} {
		kind, file, _ := strings.Cut(name, "/")
		at := t0.Add(time.Duration(400+i) * time.Minute)
		body := readExample(t, "v3", kind, file+".json")
		if kind == "access" {
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			m["recorded"] = at.Add(time.Minute).Format(time.RFC3339)
			b, _ := json.Marshal(m)
			body = string(b)
		}
		addValid("v3 "+name, signWith(t, sub.Key, payloadJSON(sub, kind, 3, at.Format(time.RFC3339), body)))
	}

	// Interleave: the registration first, then one hostile entry after
	// every valid one while both last, the far-future amendment of the
	// registered trial among them.
	amend := readExample(t, "trial", "valid-amendment.json")
	corpus = append(corpus,
		hostileCase{name: "far-future amendment", hostile: true, entry: signWith(t, sub.Key, payloadJSON(sub, "trial", 2, "9999-12-31T23:59:59Z", amend))},
		hostileCase{name: "amendment a year ahead", hostile: true, entry: signWith(t, sub.Key, payloadJSON(sub, "trial", 2, time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339Nano), amend))})
	var all []hostileCase
	for i := 0; i < len(valid) || i < len(corpus); i++ {
		if i < len(valid) {
			all = append(all, valid[i])
		}
		if i < len(corpus) {
			all = append(all, corpus[i])
		}
	}
	for _, c := range all {
		if len(c.entry) > 65535 {
			t.Fatalf("%s: %d bytes do not fit an entry bundle", c.name, len(c.entry))
		}
		e.log.Append(c.entry)
	}

	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatalf("a follow round over hostile entries failed: %v", err)
	}
	if got, want := e.mon.Confirmed().Size, e.log.Size(); got != want {
		t.Fatalf("confirmed size %d, want the log's %d", got, want)
	}
	checkHostileFindings(t, e, all)
	checkRulesClock(t, e)

	// A restart over the same store restores the rules' state and goes on.
	e.restart(t)
	before := len(e.findings(t, ""))
	oldSize := int64(e.log.Size())
	more := []hostileCase{{name: "hostile after restart", hostile: true, entry: signWith(t, sub.Key, payloadJSON(sub, "access", 2, "9999-12-31T23:59:00Z", `{}`))}}
	for i := range 5 {
		raw, _ := sub.Sign(t, "access", t0.Add(time.Duration(400+i)*time.Minute), montest.Access(sub.Org, "dr-late", "p", "TREAT", ""))
		more = append(more, hostileCase{name: fmt.Sprintf("access after restart %d", i), entry: raw})
	}
	for _, c := range more {
		e.log.Append(c.entry)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatalf("the follow round after a restart failed: %v", err)
	}
	if got, want := e.mon.Confirmed().Size, e.log.Size(); got != want {
		t.Fatalf("after the restart: confirmed size %d, want %d", got, want)
	}
	n := 0
	for _, f := range e.findings(t, "") {
		if f.Index < oldSize {
			n++
		}
	}
	if n != before {
		t.Fatalf("after the restart: %d findings about the entries replayed before it, want %d", n, before)
	}
	checkHostileFindings(t, e, append(all, more...))
	checkRulesClock(t, e)
}

// checkHostileFindings requires at least one entry finding at the index of
// each hostile entry of all (the log in order) and no finding at all at a
// valid one.
func checkHostileFindings(t *testing.T, e *env, all []hostileCase) {
	t.Helper()
	fs := e.findings(t, "")
	at := map[int64][]finding.Finding{}
	for _, f := range fs {
		at[f.Index] = append(at[f.Index], f)
	}
	entryRules := map[string]bool{entrycheck.RuleMalformed: true, entrycheck.RuleNotCanonical: true, entrycheck.RuleSubmitter: true,
		entrycheck.RuleSignature: true, entrycheck.RuleSchema: true, entrycheck.RulePrivacy: true, entrycheck.RuleIdentity: true, entrycheck.RuleTime: true}
	for i, c := range all {
		got := at[int64(i)]
		if !c.hostile {
			if len(got) != 0 {
				t.Errorf("entry %d (valid: %s) has findings: %+v", i, c.name, got)
			}
			continue
		}
		ok := false
		for _, f := range got {
			ok = ok || entryRules[f.Rule]
			if strings.Contains(f.Detail, "\n") {
				t.Errorf("entry %d (%s): a finding of more than one line: %q", i, c.name, f.Detail)
			}
		}
		if !ok {
			t.Errorf("entry %d (hostile: %s) has no entry finding: %+v", i, c.name, got)
		}
	}
	if fs := e.findings(t, "missing_trial_results"); len(fs) != 0 {
		t.Errorf("a hostile entry moved the rules' clock: %+v", fs)
	}
}

// checkRulesClock reads the saved rules' state and requires every clock in
// it to lie no later than the monitor's own clock allows (MaxAhead, 5m).
func checkRulesClock(t *testing.T, e *env) {
	t.Helper()
	state := map[string]any{}
	err := e.st.LoadRules(e.ctx, func(r store.RulesRow) error {
		var v any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return err
		}
		state[r.Table+" "+r.Key] = v
		return nil
	})
	if err != nil {
		t.Fatalf("the saved rules' state: %v", err)
	}
	limit := time.Now().Add(10 * time.Minute)
	clocks := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(path+"/"+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, v); err == nil && strings.HasSuffix(path, "/clock") {
				clocks++
				if ts.After(limit) {
					t.Errorf("the rules' clock %s is at %s", path, v)
				}
			}
		}
	}
	walk("", state)
	if clocks == 0 {
		t.Fatalf("no clock in the rules' state: %v", state)
	}
}
