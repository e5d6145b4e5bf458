package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/promise"
	"github.com/htlog/htlog/splitview"
	"golang.org/x/mod/sumdb/note"
)

// testLog is a fake log with three witnesses under a 2-of-3 policy.
type testLog struct {
	*testonly.FakeLog
	witnesses []note.Signer
	policy    *c2sp.Policy
	text      string
}

func newTestLog(t testing.TB, quorum string) *testLog {
	t.Helper()
	l := &testLog{FakeLog: testonly.NewFakeLog(t, "example.test/log")}
	l.text = "log " + l.VKey + "\n"
	for i := range 3 {
		s, vkey := testonly.NewWitnessKey(t, fmt.Sprintf("w%d.example", i))
		l.witnesses = append(l.witnesses, s)
		l.text += fmt.Sprintf("witness w%d %s\n", i, vkey)
	}
	l.text += "group g " + quorum + " w0 w1 w2\nquorum g\n"
	var err error
	if l.policy, err = c2sp.ParsePolicy([]byte(l.text)); err != nil {
		t.Fatal(err)
	}
	return l
}

// publish serves a checkpoint of the whole tree cosigned by witnesses (by index).
func (l *testLog) publish(t testing.TB, witnesses ...int) []byte {
	var ss []note.Signer
	for _, i := range witnesses {
		ss = append(ss, l.witnesses[i])
	}
	cp := l.Checkpoint(t, l.Size(), ss...)
	l.Serve(cp)
	return cp
}

func (l *testLog) client(t testing.TB) *client.Client {
	return &client.Client{URL: l.URL(t), Policy: l.policy}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCheckpoint(t *testing.T) {
	l := newTestLog(t, "2")
	l.AppendN("a", 5)
	l.publish(t, 0, 2)
	c := l.client(t)
	cp, err := c.Checkpoint(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 5 || fmt.Sprint(cp.Witnesses) != "[w0 w2]" {
		t.Errorf("got size %d witnesses %v", cp.Size, cp.Witnesses)
	}
	l.publish(t, 1)
	if _, err := c.Checkpoint(ctx(t)); !errors.Is(err, c2sp.ErrQuorumNotMet) || !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("one cosignature: got %v, want quorum not met", err)
	}
	other := testonly.NewFakeLog(t, "other.test/log")
	other.AppendN("x", 2)
	l.Serve(other.Checkpoint(t, 2, l.witnesses...))
	if _, err := c.Checkpoint(ctx(t)); !errors.Is(err, c2sp.ErrUnknownLog) {
		t.Errorf("other log: got %v, want unknown log", err)
	}
}

func TestKeeper(t *testing.T) {
	l := newTestLog(t, "2")
	c := l.client(t)
	state := filepath.Join(t.TempDir(), "state")
	k, err := client.NewKeeper(c, state)
	if err != nil {
		t.Fatal(err)
	}
	var kept []byte
	for _, n := range []int{1, 3, 256, 300, 513} {
		l.AppendN("e", n)
		kept = l.publish(t, 0, 1)
		cp, err := k.Update(ctx(t))
		if err != nil {
			t.Fatalf("size %d: %v", l.Size(), err)
		}
		if cp.Size != l.Size() {
			t.Fatalf("kept size %d, want %d", cp.Size, l.Size())
		}
	}
	// An older checkpoint is checked and ignored: the keeper never goes back.
	older := l.Checkpoint(t, 7, l.witnesses[0], l.witnesses[2])
	cp, err := k.Advance(ctx(t), older)
	if err != nil || cp.Size != l.Size() {
		t.Fatalf("older checkpoint: kept %v, %v", cp, err)
	}
	if b, _ := os.ReadFile(state); string(b) != string(kept) {
		t.Errorf("state file holds %q, want the newest checkpoint", b)
	}
	// A restarted keeper picks up where it was.
	k2, err := client.NewKeeper(c, state)
	if err != nil || k2.Latest().Size != l.Size() {
		t.Fatalf("reloaded keeper: %v", err)
	}
	// A fork: same key, another history after entry 100.
	size := l.Size()
	fork := l.Fork(100)
	fork.AppendN("fork", int(size))
	forked := fork.Checkpoint(t, fork.Size(), l.witnesses[0], l.witnesses[1])
	fc := &client.Client{URL: fork.URL(t), Policy: l.policy}
	fk, _ := client.NewKeeper(fc, state)
	_, err = fk.Advance(ctx(t), forked)
	var fe *client.ForkError
	if !errors.As(err, &fe) {
		t.Fatalf("fork: got %v, want a ForkError", err)
	}
	if _, _, err := splitview.Verify(fe.Evidence, l.Verifier); err != nil {
		t.Errorf("the evidence does not verify: %v", err)
	}
	if fk.Latest().Size != size {
		t.Errorf("after a fork the keeper moved to %d", fk.Latest().Size)
	}
	// Same size, different root.
	same := l.Fork(size - 1)
	same.AppendN("other", 1)
	_, err = k2.Advance(ctx(t), same.Checkpoint(t, size, l.witnesses...))
	if !errors.As(err, &fe) {
		t.Fatalf("same-size fork: got %v", err)
	}
	if _, _, err := splitview.Verify(fe.Evidence, l.Verifier); err != nil {
		t.Errorf("the same-size evidence does not verify: %v", err)
	}
}

func TestEntriesAndInclusion(t *testing.T) {
	l := newTestLog(t, "any")
	l.AppendN("e", 600)
	l.publish(t, 2)
	c := l.client(t)
	cp, err := c.Checkpoint(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	es, err := c.Entries(ctx(t), 250, 520, cp)
	if err != nil {
		t.Fatal(err)
	}
	all := l.Entries()
	for i, e := range es {
		if string(e) != string(all[250+i]) {
			t.Fatalf("entry %d differs", 250+i)
		}
	}
	if err := c.VerifyInclusion(ctx(t), all[599], 599, cp); err != nil {
		t.Error(err)
	}
	if err := c.VerifyInclusion(ctx(t), all[598], 599, cp); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("wrong entry: got %v", err)
	}
}

func TestSubmitRetries(t *testing.T) {
	l := newTestLog(t, "2")
	envelope := testEnvelope(t)
	l.Append(envelope) // the log re-encodes canonically: testEnvelope already is
	l.AppendN("more", 4)
	cp := l.publish(t, 0, 1)
	p := c2sp.Proof{Index: 0, Hashes: inclusion(t, l, 0), Checkpoint: cp}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 3:
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close() // a network error
		default:
			w.Write(p.Marshal())
		}
	}))
	defer srv.Close()
	c := &client.Client{URL: srv.URL, Policy: l.policy}
	got, err := c.Submit(ctx(t), envelope)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != 0 || calls.Load() != 4 {
		t.Errorf("index %d after %d calls", got.Index, calls.Load())
	}
	// A receipt for another entry is refused.
	calls.Store(3)
	other := testEnvelope(t)
	if _, err := c.Submit(ctx(t), other); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("receipt for another entry: got %v", err)
	}
}

func TestSubmitErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "body/patient: is not an htlog tag", http.StatusBadRequest)
	}))
	defer srv.Close()
	c := &client.Client{URL: srv.URL}
	_, err := c.Submit(ctx(t), testEnvelope(t))
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != 400 || he.Reason != "body/patient: is not an htlog tag" {
		t.Errorf("got %v, want a 400 HTTPError with the reason", err)
	}
	srv.Close()
	short, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.Submit(short, testEnvelope(t))
	var ue *client.UnavailableError
	if !errors.As(err, &ue) {
		t.Errorf("closed server: got %v, want UnavailableError", err)
	}
}

// TestSubmitAsyncPromise: the promise of a 202 is returned when it verifies
// with the log's key and names the event; a forged or misdirected one is
// refused.
func TestSubmitAsyncPromise(t *testing.T) {
	l := newTestLog(t, "2")
	envelope := testEnvelope(t)
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		t.Fatal(err)
	}
	other := testonly.NewFakeLog(t, "example.test/log") // same origin, another key
	sign := func(s note.Signer, id string) []byte {
		b, err := promise.Promise{Origin: "example.test/log", EventID: id, LeafHash: c2sp.LeafHash(envelope), Timestamp: time.Now(), MaxMergeDelay: time.Minute}.Sign(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, c := range map[string]struct {
		promise []byte
		ok      bool
	}{
		"the log's":         {sign(l.Signer, env.ID()), true},
		"another key's":     {sign(other.Signer, env.ID()), false},
		"for another event": {sign(l.Signer, "sha256:"+strings.Repeat("ab", 32)), false},
		"garbage":           {[]byte("accepted\n"), false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("async") != "1" {
				http.Error(w, "want async", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			w.Write(c.promise)
		}))
		cl := &client.Client{URL: srv.URL, Policy: l.policy}
		id, promise, err := cl.SubmitAsync(ctx(t), envelope)
		srv.Close()
		if c.ok && (err != nil || id != env.ID() || string(promise) != string(c.promise)) {
			t.Errorf("%s: %s, %v", name, id, err)
		}
		if !c.ok && !errors.Is(err, client.ErrNotVerified) {
			t.Errorf("%s promise accepted: %v", name, err)
		}
	}
}
