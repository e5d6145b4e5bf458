package server_test

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
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/batch"
	"github.com/htlog/htlog/personality/checkpoint"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/server"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/promise"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/mod/sumdb/note"
)

const org = "npi:1234567893"

// memoryLog is htlog-server's HTTP API, write path and publisher over the
// memory twins of its tables and of Trillian: no database, no processes.
type memoryLog struct {
	store    *tiles.Memory
	pub      *checkpoint.Publisher
	url      string
	verifier note.Verifier
	builder  *event.Builder
}

func newMemoryLog(t *testing.T, perSubmitter float64, burst int) *memoryLog {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub, _ := json.Marshal(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	reg, err := registry.Parse([]byte(fmt.Sprintf("submitters:\n  - org: %s\n    kinds: [access, consent, custody, trial]\n%s    keys: [{public_key: %s}]\n",
		org, testonly.ExampleRights(org), pub)), ".")
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, _ := note.GenerateKey(rand.Reader, "htlog.test/memory")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	m := &memoryLog{store: tiles.NewMemory(), verifier: verifier}
	b := batch.New(m.store, 0)
	go b.Run(ctx)
	sub := submit.New(submit.Config{Admission: checker, Trials: &submit.MemoryTrialClaims{}, Sequence: b, PerSubmitter: perSubmitter, Burst: burst})
	if m.pub, err = checkpoint.New(checkpoint.Config{Signer: signer, Verifier: verifier, Log: logbackend.NewMemory(), Store: m.store, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Config{Submitter: sub, Store: m.store, Signer: signer, Verifier: verifier, Logger: quiet,
		MaxMergeDelay: 2 * time.Second, ReceiptTimeout: 3 * time.Second})
	go srv.Run(ctx)
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	m.url = h.URL
	if m.builder, err = event.NewBuilder(org, key); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *memoryLog) event(t *testing.T) []byte {
	env, err := m.builder.Build(event.Draft{Kind: "access", OccurredAt: testonly.Minute(0),
		Body: testonly.FreshTags(testonly.Example(t, "access", "valid-routine-read.json"))})
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

func (m *memoryLog) do(t *testing.T, method, path string, body []byte) (int, string, http.Header) {
	req, _ := http.NewRequest(method, m.url+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (m *memoryLog) publish(t *testing.T) uint64 {
	n, err := m.pub.PublishOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitStatus retries a submission until it gets want (the merge guard reads
// what waits every 250 ms).
func (m *memoryLog) waitStatus(t *testing.T, want int, body func() []byte) (string, http.Header) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, msg, h := m.do(t, "POST", "/add-event?async=1", body())
		if code == want {
			return msg, h
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d %q, want %d", code, msg, want)
		}
	}
}

// TestWriteAndReadWithoutADatabase runs a submission through every answer
// the write path gives, and the reads after it, on the memory twins.
func TestWriteAndReadWithoutADatabase(t *testing.T) {
	m := newMemoryLog(t, 0, 0)
	env := m.event(t)
	e, _ := event.ParseEnvelope(env)
	// A replica that has not yet read what waits refuses; then 202.
	msg, h := m.waitStatus(t, http.StatusAccepted, func() []byte { return env })
	if h.Get("HTLOG-Leaf-Index") != "0" || h.Get("HTLOG-Event-ID") != e.ID() {
		t.Fatalf("202 headers %v", h)
	}
	if _, err := promise.Open([]byte(msg), m.verifier); err != nil {
		t.Fatalf("the 202 promise does not verify: %v", err)
	}
	// Not published yet: 404 with Retry-After.
	if code, _, h := m.do(t, "GET", "/receipt/"+e.ID(), nil); code != 404 || h.Get("Retry-After") == "" {
		t.Fatalf("receipt before publication: %d", code)
	}
	if n := m.publish(t); n != 1 {
		t.Fatalf("published %d", n)
	}
	code, body, _ := m.do(t, "GET", "/receipt/"+e.ID(), nil)
	if code != 200 {
		t.Fatalf("receipt: %d %q", code, body)
	}
	p, err := c2sp.ParseProof([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c2sp.OpenCheckpoint(p.Checkpoint, m.verifier)
	if err != nil || c2sp.VerifyInclusion(p.Index, sc.Size, c2sp.LeafHash(env), sc.Hash, p.Hashes) != nil {
		t.Fatalf("the receipt does not verify: %v", err)
	}
	// A resubmission: the same index, nothing new.
	if code, _, h := m.do(t, "POST", "/add-event?async=1", env); code != 202 || h.Get("HTLOG-Leaf-Index") != "0" {
		t.Fatalf("resubmission: %d index %q", code, h.Get("HTLOG-Leaf-Index"))
	}
	// Synchronous: the receipt once a checkpoint holds the event.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				m.pub.PublishOnce(context.Background())
			}
		}
	}()
	second := m.event(t)
	code, body, h = m.do(t, "POST", "/add-event", second)
	close(stop)
	if code != 200 || h.Get("HTLOG-Leaf-Index") != "1" {
		t.Fatalf("synchronous submission: %d %q", code, body)
	}
	// Refusals.
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"not an envelope", []byte("{}"), 400},
		{"not JSON", []byte("\x00"), 400},
		{"too large", bytes.Repeat([]byte(" "), event.MaxEnvelopeSize+1), 413},
	} {
		if code, msg, _ := m.do(t, "POST", "/add-event?async=1", tc.body); code != tc.status {
			t.Errorf("%s: %d %q, want %d", tc.name, code, msg, tc.status)
		}
	}
	// Reads.
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/checkpoint", 200},
		{"/tile/0/000.p/2", 200},
		{"/tile/entries/000.p/2", 200},
		{"/tile/0/000", 404},
		{"/entries?start=0&count=2", 200},
		{"/entries?start=2&count=1", 404},
		{"/event/" + e.ID(), 200},
		{"/event/sha256:" + strings.Repeat("ab", 32), 404},
		{"/proof/inclusion?index=0&tree_size=2", 200},
		{"/proof/inclusion?index=2&tree_size=2", 404},
		{"/proof/consistency?old_size=1&tree_size=2", 200},
		{"/proof/consistency?old_size=1&tree_size=3", 404},
		{"/healthz", 200},
	} {
		if code, msg, _ := m.do(t, "GET", tc.path, nil); code != tc.status {
			t.Errorf("GET %s: %d %q, want %d", tc.path, code, msg, tc.status)
		}
	}
}

// TestLimitsWithoutADatabase: the rate limit (429), the merge guard (503
// while an acknowledged event waits more than half the maximum merge delay,
// and admitted again once it is published) and a failing database (503).
func TestLimitsWithoutADatabase(t *testing.T) {
	m := newMemoryLog(t, 0.001, 2)
	m.waitStatus(t, http.StatusAccepted, func() []byte { return m.event(t) })
	if code, msg, _ := m.do(t, "POST", "/add-event?async=1", m.event(t)); code != 202 {
		t.Fatalf("second event within the burst: %d %q", code, msg)
	}
	if code, msg, h := m.do(t, "POST", "/add-event?async=1", m.event(t)); code != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("over the rate limit: %d %q", code, msg)
	}
	// Two acknowledged, none published: after 1 s (half of 2 s) the guard closes.
	msg, h := m.waitStatus(t, http.StatusServiceUnavailable, func() []byte { return m.event(t) })
	if !strings.Contains(msg, "not published yet") || h.Get("Retry-After") == "" {
		t.Fatalf("merge guard: %q", msg)
	}
	m.publish(t)
	m.waitStatus(t, http.StatusTooManyRequests, func() []byte { return m.event(t) }) // open again: the rate limit answers
	// The database down: 503 with a generic reason (the detail is logged),
	// once the replica is past its start.
	m2 := newMemoryLog(t, 0, 0)
	m2.store.Failing = errors.New("database down")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, msg, _ := m2.do(t, "POST", "/add-event?async=1", m2.event(t))
		if code == 503 && msg == "internal error\n" {
			break
		}
		if code != 503 || !strings.Contains(msg, "starting") || time.Now().After(deadline) {
			t.Fatalf("database down: %d %q, want 503 internal error", code, msg)
		}
	}
}
