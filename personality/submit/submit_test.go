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

	"github.com/htlog/htlog/internal/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/schemas"
)

type fixture struct {
	sub *submit.Submitter
	log *logbackend.Memory
	key ed25519.PrivateKey
	now time.Time
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
	f := &fixture{log: logbackend.NewMemory(), key: key, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	f.sub = submit.New(submit.Config{Admission: checker, Trials: &submit.MemoryTrialClaims{}, Log: f.log,
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
	if r, _ := f.log.LatestRoot(context.Background()); r.Size != 1 {
		t.Fatalf("log size %d, want 1", r.Size)
	}
}

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
	f.log.Failing = fmt.Errorf("%w: busy", logbackend.ErrPushback)
	if _, err := f.sub.Submit(context.Background(), f.envelope(t, "npi:1111111112", 0)); status(err) != http.StatusServiceUnavailable {
		t.Fatalf("Trillian pushback: %v, want 503", err)
	}
}

// BenchmarkSubmit measures the checks of one submission (parse, registry,
// signature, schema) with an in-memory log: the CPU htlog adds per event on
// top of Trillian's QueueLeaf.
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
