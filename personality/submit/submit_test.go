package submit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/testonly"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/personality/batch"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/schemas"
)

type fixture struct {
	// logged maps an envelope to its logged entry, as the tree store would.
	logged map[string][]byte
	sub    *submit.Submitter
	log    *tiles.Memory
	key    ed25519.PrivateKey
	now    time.Time
}

func newFixture(t testing.TB, perSubmitter float64, burst, backlog int) *fixture {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	yml := ""
	for _, org := range []string{"npi:1111111112", "npi:2222222228"} {
		b, _ := json.Marshal(pub)
		yml += fmt.Sprintf("  - org: %s\n    kinds: [access, consent, custody, trial]\n%s    keys: [{public_key: %s}]\n", org, testonly.ExampleRights(org), b)
	}
	reg, err := registry.Parse([]byte("submitters:\n"+yml), ".")
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{log: tiles.NewMemory(), key: key, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := batch.New(f.log, 0)
	go b.Run(ctx)
	f.sub = submit.New(submit.Config{Admission: checker, Trials: &submit.MemoryTrialClaims{}, Sequence: b,
		Logged: func(_ context.Context, id [32]byte) ([]byte, error) {
			for env, leaf := range f.logged {
				var e event.Envelope
				if json.Unmarshal([]byte(env), &e) == nil && e.IdentityHash() == id {
					return leaf, nil
				}
			}
			return nil, nil
		},
		PerSubmitter: perSubmitter, Burst: burst, MaxBacklog: backlog, Now: func() time.Time { return f.now }})
	return f
}

func (f *fixture) envelope(t testing.TB, org string, i int) []byte {
	id, _ := event.KeyID(f.key.Public())
	body, err := os.ReadFile("../../schemas/examples/consent/valid-treatment-grant.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	json.Compact(&compact, body)
	consentBody := compact.String()
	payload := fmt.Appendf(nil, `{"kind":"consent","version":2,"submitter":{"org":%q,"key_id":%q},"occurred_at":"2026-11-23T10:%02d:00Z","body":%s}`, org, id, i%60, consentBody)
	env, err := event.Sign(payload, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

// signed signs body as the i-th event of kind by org.
func (f *fixture) signed(t testing.TB, org, kind string, i int, body []byte) []byte {
	id, _ := event.KeyID(f.key.Public())
	var compact bytes.Buffer
	json.Compact(&compact, body)
	payload := fmt.Appendf(nil, `{"kind":%q,"version":2,"submitter":{"org":%q,"key_id":%q},"occurred_at":"2026-11-23T10:%02d:00Z","body":%s}`, kind, org, id, i%60, compact.String())
	env, err := event.Sign(payload, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

func status(err error) int {
	var r *submit.Rejection
	if errors.As(err, &r) {
		return r.Status
	}
	if err != nil {
		return 500
	}
	return 200
}

func TestValidEventQueuedOnceDeduplicated(t *testing.T) {
	f := newFixture(t, 0, 0, 10)
	env := f.envelope(t, "npi:1111111112", 0)
	a, err := f.sub.Submit(context.Background(), env)
	if err != nil {
		t.Fatalf("valid consent rejected: %v", err)
	}
	if a.Duplicate {
		t.Fatal("first submission reported as duplicate")
	}
	b, err := f.sub.Submit(context.Background(), env)
	if err != nil || !b.Duplicate || string(b.Leaf) != string(a.Leaf) {
		t.Fatalf("resubmission: %+v %v", b, err)
	}
	if a.Index != 0 || b.Index != 0 || !a.Known || !b.Known {
		t.Fatalf("indexes %d and %d, want 0 for both", a.Index, b.Index)
	}
	if n, _ := f.log.Sequenced(context.Background()); n != 1 {
		t.Fatalf("log size %d, want 1", n)
	}
}

// TestReplaysCostTheSubmitterNothing: anyone can replay an organisation's
// logged envelopes from /entries; a replay is answered from the dedup path
// (logged: no charge; queued, not yet integrated: the token comes back),
// so it never spends the organisation's rate limit (issue 18).
func TestReplaysCostTheSubmitterNothing(t *testing.T) {
	f := newFixture(t, 1, 2, 100)
	ctx := context.Background()
	first := f.envelope(t, "npi:1111111112", 0)
	a, err := f.sub.Submit(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	// Appended (the Logged lookup does not know it yet): the sequence's
	// dedup answers, the token is given back.
	for range 10 {
		if b, err := f.sub.Submit(ctx, first); err != nil || !b.Duplicate {
			t.Fatalf("replay of a queued event: %+v %v", b, err)
		}
	}
	// Integrated: the logged entry is found before any charge.
	f.logged = map[string][]byte{string(first): a.Leaf}
	for range 10 {
		if b, err := f.sub.Submit(ctx, first); err != nil || !b.Duplicate || string(b.Leaf) != string(a.Leaf) {
			t.Fatalf("replay of a logged event: %+v %v", b, err)
		}
	}
	// The organisation's second token is still there.
	if _, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", 1)); err != nil {
		t.Fatalf("a fresh event after the replays: %v, want it admitted", err)
	}
	if _, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", 2)); status(err) != http.StatusTooManyRequests {
		t.Fatalf("a third fresh event: %v, want 429 (the limit itself still holds)", err)
	}
	// At the limit, a replay of a logged event is still answered.
	if b, err := f.sub.Submit(ctx, first); err != nil || !b.Duplicate || string(b.Leaf) != string(a.Leaf) {
		t.Fatalf("replay of a logged event at the limit: %+v %v", b, err)
	}
}

// TestTrialEventsOnlyFromTheRegisteringSponsor: the first registration
// claims the trial for its sponsor; another sponsor's registration and
// any later event of an unregistered trial are refused.
func TestTrialEventsOnlyFromTheRegisteringSponsor(t *testing.T) {
	f := newFixture(t, 0, 0, 100)
	ctx := context.Background()
	body := func(name string, edit func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(testonly.Example(t, "trial", name), &m); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(m)
		}
		b, _ := json.Marshal(m)
		return b
	}
	other := func(m map[string]any) { m["sponsor"] = "npi:1234567893" } // the other example organisation
	cases := []struct {
		name   string
		body   []byte
		status int
	}{
		{"amendment before any registration", body("valid-amendment.json", nil), http.StatusConflict},
		{"registration", body("valid-registration.json", nil), http.StatusOK},
		{"registration again, same sponsor", body("valid-registration.json", func(m map[string]any) { m["protocol_version"] = "1.1" }), http.StatusOK},
		{"registration by another sponsor", body("valid-registration.json", other), http.StatusConflict},
		{"amendment", body("valid-amendment.json", nil), http.StatusOK},
		{"results by another sponsor", body("valid-results.json", other), http.StatusForbidden},
		{"results of an unregistered trial", body("valid-results.json", func(m map[string]any) { m["registry_id"] = "NCT09999999" }), http.StatusConflict},
	}
	for i, tc := range cases {
		if got := status2(f.sub.Submit(ctx, f.signed(t, "npi:1111111112", "trial", i, tc.body))); got != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.status)
		}
	}
}

func status2(_ *submit.Accepted, err error) int { return status(err) }

func TestRateLimitPerSubmitter(t *testing.T) {
	f := newFixture(t, 2, 3, 100)
	ctx := context.Background()
	for i := range 3 {
		if err := func() error { _, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", i)); return err }(); err != nil {
			t.Fatalf("within burst: %v", err)
		}
	}
	_, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", 3))
	var r *submit.Rejection
	if !errors.As(err, &r) || r.Status != http.StatusTooManyRequests || r.RetryAfter <= 0 {
		t.Fatalf("over the limit: %v, want 429 with Retry-After", err)
	}
	// The flooding submitter does not starve another one.
	if _, err := f.sub.Submit(ctx, f.envelope(t, "npi:2222222228", 0)); err != nil {
		t.Fatalf("other submitter limited: %v", err)
	}
	// Time refills the bucket.
	f.now = f.now.Add(time.Second)
	if _, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", 4)); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}

func TestBacklogAndPushback(t *testing.T) {
	f := newFixture(t, 0, 0, 2)
	r1, err := f.sub.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := f.sub.Acquire()
	if _, err := f.sub.Acquire(); status(err) != http.StatusServiceUnavailable {
		t.Fatalf("third slot of 2: %v, want 503", err)
	}
	r1()
	r2()
	// The database failing is the server's error (htlog-server answers
	// 503), not the submitter's, and nothing is appended.
	f.log.Failing = errors.New("database unavailable")
	if _, err := f.sub.Submit(context.Background(), f.envelope(t, "npi:1111111112", 0)); err == nil || status(err) != 500 {
		t.Fatalf("failing database: %v, want a server error", err)
	}
	if n, _ := f.log.Sequenced(context.Background()); n != 0 {
		t.Fatalf("%d events appended while the database failed", n)
	}
	// A request that ends before its batch is written is not acknowledged.
	f.log.Failing = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.sub.Submit(ctx, f.envelope(t, "npi:1111111112", 1)); status(err) != http.StatusServiceUnavailable {
		t.Fatalf("cancelled request: %v, want 503", err)
	}
}

// BenchmarkSubmit measures the checks of one submission (parse, registry,
// signature, schema, privacy, identity, time) with an in-memory sequence:
// the CPU htlog spends per event on top of the database's append.
func BenchmarkSubmit(b *testing.B) {
	f := newFixture(b, 0, 0, 10)
	envs := make([][]byte, b.N)
	for i := range envs {
		envs[i] = f.envelope(b, "npi:1111111112", i)
	}
	b.ResetTimer()
	for i := range envs {
		if _, err := f.sub.Submit(context.Background(), envs[i]); err != nil {
			b.Fatal(err)
		}
	}
}
