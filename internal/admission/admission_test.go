package admission_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/phicorpus"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/schemas"
)

// fixture is a registry with one submitter allowed every example, and a
// checker on it with the server's settings.
type fixture struct {
	key     ed25519.PrivateKey
	keyID   string
	org     string
	reg     *registry.Registry
	checker *admission.Checker
	now     time.Time
}

func newFixture(t testing.TB, org string, extra string) *fixture {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var b strings.Builder
	b.WriteString("submitters:\n  - org: " + org + "\n    kinds: [access, consent, custody, trial]\n" + extra + "    keys:\n      - public_key: |\n")
	for _, l := range strings.Split(strings.TrimSpace(string(pub)), "\n") {
		b.WriteString("          " + l + "\n")
	}
	reg, err := registry.Parse([]byte(b.String()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	c, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := event.KeyID(key.Public())
	return &fixture{key: key, keyID: id, org: org, reg: reg, checker: c, now: time.Now().UTC().Truncate(time.Minute)}
}

func (f *fixture) sign(t testing.TB, kind string, version int, occurred string, body []byte) []byte {
	t.Helper()
	payload, err := json.Marshal(event.Event{Kind: kind, Version: version, Submitter: event.Submitter{Org: f.org, KeyID: f.keyID},
		OccurredAt: occurred, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	env, err := event.Sign(payload, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

func (f *fixture) at(d time.Duration) string { return f.now.Add(d).Format(time.RFC3339) }

func exampleFixture(t testing.TB) *fixture {
	return newFixture(t, "npi:1234567893", testonly.ExampleRights("npi:1234567893"))
}

func TestValidExamplesAreAdmitted(t *testing.T) {
	f := exampleFixture(t)
	for _, ex := range testonly.ValidExamples(t) {
		v := f.checker.Check(f.sign(t, ex.Kind, 2, f.at(-time.Hour), ex.Body), f.now, true)
		if !v.OK() || !v.Authentic || v.Body == nil {
			t.Errorf("%s/%s: refused: %v", ex.Kind, ex.Name, v.Refusals)
		}
	}
}

func TestInvalidExamplesAreRefused(t *testing.T) {
	f := exampleFixture(t)
	for _, kind := range schemas.Kinds {
		for name, body := range testonly.Examples(t, kind, "invalid-") {
			v := f.checker.Check(f.sign(t, kind, 2, f.at(-time.Hour), body), f.now, false)
			r := v.First()
			if r == nil || r.Status/100 != 4 || strings.Contains(r.Reason, "\n") {
				t.Errorf("%s/%s: %v, want one 4xx refusal", kind, name, r)
				continue
			}
			t.Logf("%s/%s: %d %s: %s", kind, name, r.Status, r.Code, r.Reason)
		}
	}
}

// TestVersion1IsNotAdmitted: the server admits only the latest version (no
// free text), a replaying monitor (MinVersion 1) every version.
func TestVersion1IsNotAdmitted(t *testing.T) {
	f := exampleFixture(t)
	body, err := os.ReadFile(filepath.Join(testonly.RepoRoot(), "schemas", "examples", "v1", "access", "valid-break-glass.json"))
	if err != nil {
		t.Fatal(err)
	}
	env := f.sign(t, "access", 1, f.at(-time.Hour), body)
	if r := f.checker.Check(env, f.now, false).First(); r == nil || r.Code != admission.CodeSchema || !strings.Contains(r.Reason, "version 2") {
		t.Fatalf("version 1 on the server: %v, want a schema refusal naming version 2", r)
	}
	v, _ := schemas.NewValidator()
	replay, err := admission.New(admission.Config{Registry: func() *registry.Registry { return f.reg }, Validator: v, MinVersion: 1, MaxBehind: -1})
	if err != nil {
		t.Fatal(err)
	}
	if vd := replay.Check(env, f.now, true); !vd.OK() {
		t.Fatalf("version 1 on replay: %v", vd.Refusals)
	}
}

// TestIssueProbes are the submissions the issue reports as accepted.
func TestIssueProbes(t *testing.T) {
	f := exampleFixture(t)
	bg := testonly.Example(t, "access", "valid-break-glass.json")
	edit := func(body []byte, fn func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(body, &m)
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	reg := testonly.Example(t, "trial", "valid-registration.json")
	other := newFixture(t, "gln:0614141000005", "")
	otherReg := newFixture(t, "npi:1245319599", "    acts_for: [gln:0614141000005]\n")
	for _, tc := range []struct {
		name   string
		f      *fixture
		kind   string
		at     string
		body   []byte
		status int
		code   string
		want   string
	}{
		{"display with identifiers", f, "access", f.at(0), edit(bg, func(m map[string]any) {
			m["agent"].(map[string]any)["role"].(map[string]any)["display"] = "Dr Smith, jane.doe@example.org, MRN 1234567, 555-123-4567"
		}), 400, admission.CodeSchema, "body/agent/role/display: is not allowed"},
		{"source system e-mail", f, "access", f.at(0), edit(bg, func(m map[string]any) { m["source_system"] = "jane.doe@example.org" }), 400, admission.CodeSchema, "body/source_system"},
		{"source system path with name and birth date", f, "access", f.at(0), edit(bg, func(m map[string]any) {
			m["source_system"] = "oncology-ehr/patients/roe-jane-dob-19700302"
		}), 400, admission.CodeSchema, "body/source_system"},
		{"source system name, not declared", f, "access", f.at(0), edit(bg, func(m map[string]any) { m["source_system"] = "roe-jane" }), 400, admission.CodePrivacy, "personal name"},
		{"source system not declared", f, "access", f.at(0), edit(bg, func(m map[string]any) { m["source_system"] = "billing-7" }), 403, admission.CodeIdentity, "source_systems"},
		{"agent organisation not the submitter", f, "access", f.at(0), edit(bg, func(m map[string]any) {
			m["agent"].(map[string]any)["organization"] = "gln:0614141000012"
		}), 403, admission.CodeIdentity, "acts_for"},
		{"NPI check digit", f, "access", f.at(0), edit(bg, func(m map[string]any) { m["agent"].(map[string]any)["organization"] = "npi:1234567890" }), 400, admission.CodeSchema, "check digit"},
		{"far future", f, "access", "9999-12-31T23:59:00Z", bg, 400, admission.CodeTime, "after the log's clock"},
		{"six minutes ahead", f, "access", f.at(6 * time.Minute), bg, 400, admission.CodeTime, "after the log's clock"},
		{"four days late", f, "access", f.at(-96 * time.Hour), bg, 400, admission.CodeTime, "before the log's clock"},
		{"seconds", f, "access", f.now.Add(17 * time.Second).Format(time.RFC3339), bg, 400, admission.CodeTime, "whole minutes"},
		{"trial sponsor not the submitter's", other, "trial", f.at(0), reg, 403, admission.CodeIdentity, "body/sponsor"},
		{"trial for another sponsor, acting for someone else", otherReg, "trial", f.at(0), reg, 403, admission.CodeIdentity, "body/sponsor"},
		{"outcome measure with a name", f, "trial", f.at(0), edit(reg, func(m map[string]any) {
			m["primary_outcomes"].([]any)[0].(map[string]any)["measure"] = "Survival of Jane Roe"
		}), 400, admission.CodePrivacy, "body/primary_outcomes[]/measure: holds what looks like a personal name"},
		{"results URL off the allow list", f, "trial", f.at(0), edit(testonly.Example(t, "trial", "valid-results.json"), func(m map[string]any) {
			m["results_reference"] = "https://evil.example/roe"
		}), 400, admission.CodePrivacy, "allow list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.f.checker.Check(tc.f.sign(t, tc.kind, 2, tc.at, tc.body), f.now, false).First()
			if r == nil || r.Status != tc.status || r.Code != tc.code || !strings.Contains(r.Reason, tc.want) {
				t.Fatalf("got %+v, want %d %s with %q", r, tc.status, tc.code, tc.want)
			}
			for _, secret := range []string{"jane", "Jane", "MRN 1234567", "555-123", "roe-jane", "19700302", "billing-7", "0614141000012"} {
				if strings.Contains(r.Reason, secret) {
					t.Errorf("the refusal quotes the value: %q", r.Reason)
				}
			}
		})
	}
}

func TestCheckTrialOwner(t *testing.T) {
	for _, tc := range []struct {
		subtype, sponsor, owner string
		status                  int
	}{
		{"registration", "gln:0614141123452", "", 0},
		{"registration", "gln:0614141123452", "gln:0614141123452", 0},
		{"registration", "gln:0614141123452", "npi:1234567893", http.StatusConflict},
		{"amendment", "gln:0614141123452", "gln:0614141123452", 0},
		{"amendment", "gln:0614141123452", "", http.StatusConflict},
		{"results", "gln:0614141123452", "npi:1234567893", http.StatusForbidden},
	} {
		r := admission.CheckTrialOwner(tc.subtype, tc.sponsor, admission.TrialClaim{Owner: tc.owner})
		if got := 0; r != nil {
			got = r.Status
			if got != tc.status || r.Code != admission.CodeAuthority {
				t.Errorf("%+v: %v", tc, r)
			}
		} else if tc.status != 0 {
			t.Errorf("%+v: admitted", tc)
		}
	}
}

// corpusSize is the probe corpus size of the unit test (every string
// position with every identifier kind, six times over; make test runs it
// under -race); `make corpus` runs 100,000 against a real log.
func corpusSize() int {
	if testing.Short() {
		return 2_000
	}
	return 8_000
}

// TestCorpusRefused plants one identifier in one string position of a
// valid example, for every position and identifier kind in turn, and
// requires every probe to be refused without the refusal quoting it.
func TestCorpusRefused(t *testing.T) {
	f := exampleFixture(t)
	var examples []phicorpus.Example
	for _, ex := range testonly.ValidExamples(t) {
		examples = append(examples, phicorpus.Example{Kind: ex.Kind, Name: ex.Name, Body: ex.Body})
	}
	g, err := phicorpus.New(1, examples)
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]int{}
	n := corpusSize()
	for i := range n {
		p := g.Probe(i)
		r := f.checker.Check(f.sign(t, p.Kind, 2, f.at(-time.Hour), p.Body), f.now, false).First()
		if r == nil {
			t.Fatalf("probe %d admitted: %s %s at %s in %s/%s: %s", i, p.IDKind, p.Planted, p.Path, p.Kind, p.Example, p.Body)
		}
		if strings.Contains(r.Reason, p.Planted) {
			t.Fatalf("probe %d: the refusal quotes the identifier: %s", i, r.Reason)
		}
		byCode[r.Code]++
	}
	t.Logf("%d probes over %d string positions, all refused: %v", n, g.Positions(), byCode)
}

// TestCheckOwn: a caller that signed an envelope with its registered key is
// spared the signature check and nothing else (a body the schema refuses is
// refused, as are a key the registry does not list and a bad signature from
// any key but the caller's).
func TestCheckOwn(t *testing.T) {
	f := exampleFixture(t)
	body := testonly.Example(t, "access", "valid-routine-read.json")
	good := f.sign(t, "access", 2, f.at(-time.Minute), body)
	if v := f.checker.CheckOwn(good, f.now, f.keyID); !v.OK() {
		t.Fatalf("own envelope refused: %v", v.First().Reason)
	}
	if v := f.checker.CheckOwn(good, f.now, strings.Repeat("0", 64)); !v.OK() {
		t.Fatalf("a good envelope refused when the caller's key is another: %v", v.First().Reason)
	}
	var env map[string]any
	json.Unmarshal(good, &env)
	sigs := env["signatures"].([]any)
	sig := sigs[0].(map[string]any)
	sig["sig"] = "AAAA" + sig["sig"].(string)[4:]
	bad, _ := json.Marshal(env)
	if v := f.checker.CheckOwn(bad, f.now, strings.Repeat("0", 64)); v.OK() || v.First().Code != admission.CodeSignature {
		t.Fatalf("a bad signature by another key than the caller's: %+v", v.First())
	}
	if v := f.checker.CheckOwn(bad, f.now, f.keyID); !v.OK() {
		t.Fatalf("the caller's own signature was verified again: %v", v.First().Reason)
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	m["purpose_of_use"] = "not a code"
	wrong, _ := json.Marshal(m)
	if v := f.checker.CheckOwn(f.sign(t, "access", 2, f.at(-time.Minute), wrong), f.now, f.keyID); v.OK() {
		t.Fatal("a body the schema refuses passed CheckOwn")
	}
	other := newFixture(t, "npi:1234567893", testonly.ExampleRights("npi:1234567893"))
	if v := f.checker.CheckOwn(other.sign(t, "access", 2, f.at(-time.Minute), body), f.now, other.keyID); v.OK() || v.First().Code != admission.CodeSubmitter {
		t.Fatalf("a key the registry does not list: %+v", v.First())
	}
}
