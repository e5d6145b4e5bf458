package witness_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/splitview"
	"github.com/htlog/htlog/witness"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

const origin = "example.com/log"

type env struct {
	w      *witness.Witness
	store  witness.Store
	log    *testonly.FakeLog
	srv    *httptest.Server
	cosign note.Verifier
}

func newEnv(t *testing.T, store witness.Store, logURL bool) *env {
	t.Helper()
	l := testonly.NewFakeLog(t, origin)
	signer, vkey := testonly.NewWitnessKey(t, "w1.example")
	v, err := c2sp.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := witness.Log{Origin: origin, Verifier: l.Verifier}
	if logURL {
		cfg.URL = l.URL(t)
	}
	reg := prometheus.NewRegistry()
	w, err := witness.New(witness.Config{Logs: []witness.Log{cfg}, Signers: []note.Signer{signer}, Store: store, Metrics: witness.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler(reg))
	t.Cleanup(srv.Close)
	return &env{w: w, store: store, log: l, srv: srv, cosign: v}
}

func stores(t *testing.T) map[string]func(t *testing.T) witness.Store {
	return map[string]func(t *testing.T) witness.Store{
		"mem": func(*testing.T) witness.Store { return witness.NewMemStore() },
		"mysql": func(t *testing.T) witness.Store {
			testonly.RequireIntegration(t)
			return newMySQLStore(t, testonly.NewDatabase(t, "witness"))
		},
	}
}

func newMySQLStore(t testing.TB, dsn string) *witness.MySQLStore {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := witness.NewMySQLStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) post(t *testing.T, path string, body []byte) (int, string, string) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+path, "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func (e *env) add(t *testing.T, old uint64, proof []c2sp.Hash, cp []byte) (int, string, string) {
	return e.post(t, "/add-checkpoint", c2sp.AddCheckpointRequest{OldSize: old, Proof: proof, Checkpoint: cp}.Marshal())
}

func (e *env) proof(t *testing.T, from, to uint64) []c2sp.Hash {
	return e.log.ConsistencyProof(t, from, to)
}

// checkCosignature checks that a 200 body holds a valid cosignature of cp.
func (e *env) checkCosignature(t *testing.T, cp []byte, body string) {
	t.Helper()
	n, err := note.Open(append(append([]byte{}, cp...), body...), note.VerifierList(e.log.Verifier, e.cosign))
	if err != nil || !c2sp.HasSignature(n, e.cosign) {
		t.Fatalf("response %q is not a valid cosignature: %v", body, err)
	}
}

func TestStatusMatrix(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t), false)
			e.log.AppendN("a", 20)
			cp10 := e.log.Checkpoint(t, 10)
			fork := e.log.Fork(8)
			fork.AppendN("evil", 4)
			other := testonly.NewFakeLog(t, origin) // same origin, another key
			other.AppendN("x", 10)

			code, _, body := e.add(t, 0, nil, cp10)
			if code != 200 {
				t.Fatalf("first add: %d %s", code, body)
			}
			e.checkCosignature(t, cp10, body)

			p := e.proof(t, 10, 15)
			cases := []struct {
				name  string
				body  []byte
				code  int
				ctype string
			}{
				{"malformed", []byte("garbage"), 400, ""},
				{"old larger than size", c2sp.AddCheckpointRequest{OldSize: 16, Checkpoint: e.log.Checkpoint(t, 15)}.Marshal(), 400, ""},
				{"unsigned", c2sp.AddCheckpointRequest{OldSize: 10, Proof: p, Checkpoint: other.Checkpoint(t, 10)}.Marshal(), 403, ""},
				{"unknown origin", c2sp.AddCheckpointRequest{OldSize: 0, Checkpoint: testonly.NewFakeLog(t, "other.example/log").Checkpoint(t, 0)}.Marshal(), 404, ""},
				{"stale old", c2sp.AddCheckpointRequest{OldSize: 5, Proof: e.proof(t, 5, 15), Checkpoint: e.log.Checkpoint(t, 15)}.Marshal(), 409, c2sp.ContentTypeTreeSize},
				{"bad proof", c2sp.AddCheckpointRequest{OldSize: 10, Proof: e.proof(t, 10, 14), Checkpoint: e.log.Checkpoint(t, 15)}.Marshal(), 422, ""},
				{"fork", c2sp.AddCheckpointRequest{OldSize: 10, Proof: p, Checkpoint: fork.Checkpoint(t, 12)}.Marshal(), 422, ""},
				{"oversized", append([]byte("old 0\n\n"), make([]byte, witness.MaxBodySize)...), 413, ""},
				{"tampered", bytes.Replace(c2sp.AddCheckpointRequest{OldSize: 10, Proof: p, Checkpoint: e.log.Checkpoint(t, 15)}.Marshal(), []byte("\n15\n"), []byte("\n16\n"), 1), 403, ""},
			}
			for _, tc := range cases {
				code, ctype, body := e.post(t, "/add-checkpoint", tc.body)
				if code != tc.code {
					t.Errorf("%s: status %d (%q), want %d", tc.name, code, body, tc.code)
				}
				if tc.ctype != "" && ctype != tc.ctype {
					t.Errorf("%s: content type %q, want %q", tc.name, ctype, tc.ctype)
				}
				if tc.code == 409 && body != "10\n" {
					t.Errorf("%s: 409 body %q, want \"10\\n\"", tc.name, body)
				}
				if strings.Count(strings.TrimSpace(body), "\n") != 0 {
					t.Errorf("%s: body is not one line: %q", tc.name, body)
				}
			}
			// Rejected requests changed nothing.
			st, err := e.store.Latest(context.Background(), origin)
			if err != nil || st.Size != 10 || st.Root != e.log.Root(10) {
				t.Fatalf("state after rejections: %+v %v", st, err)
			}
			// Same size, same root: cosigned again. Same size, other root:
			// 409 Conflict (tlog-witness), without a text/x.tlog.size body
			// (which would send a client round again with the same size).
			if code, _, body := e.add(t, 10, nil, cp10); code != 200 {
				t.Errorf("re-cosign same checkpoint: %d %s", code, body)
			}
			forkSame := e.log.Fork(9)
			forkSame.AppendN("evil", 1)
			if code, ctype, body := e.add(t, 10, nil, forkSame.Checkpoint(t, 10)); code != 409 || ctype == c2sp.ContentTypeTreeSize {
				t.Errorf("same size other root: %d %s %q, want 409 without %s", code, ctype, body, c2sp.ContentTypeTreeSize)
			}
			// Non-empty proof from 0 and size 0 with a non-empty root: 422.
			e2 := newEnv(t, newStore(t), false)
			e2.log.AppendN("a", 4)
			if code, _, body := e2.add(t, 0, e2.proof(t, 2, 4), e2.log.Checkpoint(t, 4)); code != 422 {
				t.Errorf("proof with old 0: %d %s", code, body)
			}
			zero := []byte(origin + "\n0\n" + e2.log.Root(4).String() + "\n")
			signedZero, _ := note.Sign(&note.Note{Text: string(zero)}, e2.log.Signer)
			if code, _, body := e2.add(t, 0, nil, signedZero); code != 422 {
				t.Errorf("size 0 with a non-empty root: %d %s", code, body)
			}
			// Advance and check the monitoring endpoint serves the cosigned note.
			if code, _, body := e.add(t, 10, p, e.log.Checkpoint(t, 15)); code != 200 {
				t.Fatalf("advance: %d %s", code, body)
			}
			resp, err := http.Get(e.srv.URL + "/" + witness.OriginID(origin) + "/checkpoint")
			if err != nil {
				t.Fatal(err)
			}
			served, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n, err := note.Open(served, note.VerifierList(e.log.Verifier, e.cosign))
			if err != nil || !c2sp.HasSignature(n, e.cosign) || !strings.Contains(n.Text, "\n15\n") {
				t.Errorf("monitoring endpoint served %q: %v", served, err)
			}
		})
	}
}

// TestConcurrentAddCheckpoint stalls one request between its checks and its
// compare-and-swap while another advances the state: the stalled one must
// lose, so the witness never rolls back or cosigns a fork.
func TestConcurrentAddCheckpoint(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, mode := range []string{"rollback", "fork"} {
				e := newEnv(t, newStore(t), false)
				e.log.AppendN("a", 20)
				first := e.log.Checkpoint(t, 5)
				second := e.log.Checkpoint(t, 20)
				if mode == "fork" {
					f := e.log.Fork(3)
					f.AppendN("evil", 17)
					second = f.Checkpoint(t, 20)
				}
				stalled, release := make(chan struct{}), make(chan struct{})
				// Only the first request stalls; sync.Once would block the
				// second caller too, so use a flag.
				var stalledOnce atomic.Bool
				e.w.SetBeforeSwap(func() {
					if stalledOnce.CompareAndSwap(false, true) {
						close(stalled)
						<-release
					}
				})
				var wg sync.WaitGroup
				var codeA int
				wg.Add(1)
				go func() {
					defer wg.Done()
					codeA, _, _ = e.add(t, 0, nil, first)
				}()
				<-stalled
				codeB, _, bodyB := e.add(t, 0, nil, second)
				close(release)
				wg.Wait()
				if codeB != 200 || codeA != 409 {
					t.Fatalf("%s: stalled request got %d, racing request got %d (%s); want 409 and 200", mode, codeA, codeB, bodyB)
				}
				st, _ := e.store.Latest(context.Background(), origin)
				if st.Size != 20 {
					t.Fatalf("%s: state size %d, want 20", mode, st.Size)
				}
			}
		})
	}
}

func TestPull(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t), true)
			ctx := context.Background()
			for _, n := range []int{0, 7, 300, 301} {
				e.log.AppendN("p", n)
				if err := e.w.PullOnce(ctx, http.DefaultClient, origin); err != nil {
					t.Fatalf("pull at size %d: %v", e.log.Size(), err)
				}
				st, err := e.store.Latest(ctx, origin)
				if err != nil || st.Size != e.log.Size() || st.Root != e.log.Root(e.log.Size()) {
					t.Fatalf("after pull: %+v %v", st, err)
				}
			}
			// The log forks: the pull is refused and the split view recorded.
			fork := e.log.Fork(500)
			fork.AppendN("evil", 200)
			e.log.Serve(fork.Checkpoint(t, fork.Size()))
			forkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, fork.URL(t)+r.URL.Path, http.StatusTemporaryRedirect)
			}))
			defer forkSrv.Close()
			e2 := newEnv(t, e.store, false)
			_ = e2
			if err := pullFrom(t, e, fork); !errors.Is(err, witness.ErrInconsistent) {
				t.Fatalf("pull of a fork: err = %v, want ErrInconsistent", err)
			}
			list, _ := e.store.ListEvidence(ctx)
			if len(list) != 1 {
				t.Fatalf("evidence after a forked pull: %d bundles, want 1", len(list))
			}
			checkEvidence(t, e, list[0].ID)
		})
	}
}

// pullFrom makes the witness's configured log URL serve the fork's data.
func pullFrom(t *testing.T, e *env, fork *testonly.FakeLog) error {
	t.Helper()
	w, err := witness.New(witness.Config{
		Logs:    []witness.Log{{Origin: origin, Verifier: e.log.Verifier, URL: fork.URL(t)}},
		Signers: []note.Signer{mustSigner(t)}, Store: e.store,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w.PullOnce(context.Background(), http.DefaultClient, origin)
}

func mustSigner(t *testing.T) note.Signer {
	s, _ := testonly.NewWitnessKey(t, "w2.example")
	return s
}

func checkEvidence(t *testing.T, e *env, id string) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/evidence/" + id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ev, err := splitview.Parse(b)
	if err != nil {
		t.Fatalf("served evidence does not parse: %v", err)
	}
	if _, _, err := splitview.Verify(ev, e.log.Verifier); err != nil {
		t.Fatalf("served evidence does not verify: %v", err)
	}
	ev.Second = bytes.Replace(ev.Second, []byte("\n"), []byte("\n\n"), 1)
	if _, _, err := splitview.Verify(ev, e.log.Verifier); err == nil {
		t.Fatal("altered evidence verifies")
	}
}

func TestPollinateCatchesFork(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, newStore(t), true)
			e.log.AppendN("a", 40)
			if code, _, body := e.add(t, 0, nil, e.log.Checkpoint(t, 30)); code != 200 {
				t.Fatalf("add: %d %s", code, body)
			}
			// An honest older checkpoint and the same one: consistent.
			for _, n := range []uint64{30, 12} {
				if code, _, body := e.post(t, "/pollinate", e.log.Checkpoint(t, n)); code != 200 || body != "consistent\n" {
					t.Errorf("honest size %d: %d %q", n, code, body)
				}
			}
			// A forged fork: validly signed by the log key, inconsistent.
			fork := e.log.Fork(20)
			fork.AppendN("evil", 5)
			for _, n := range []uint64{25, 30} {
				f := fork
				if n == 30 {
					f = e.log.Fork(29)
					f.AppendN("evil", 1)
				}
				code, _, body := e.post(t, "/pollinate", f.Checkpoint(t, n))
				if code != 409 || !strings.Contains(body, "evidence") {
					t.Fatalf("fork of size %d: %d %q", n, code, body)
				}
				id := strings.TrimSpace(body[strings.LastIndex(body, " ")+1:])
				checkEvidence(t, e, id)
			}
			// Garbage and other keys are refused without evidence.
			if code, _, _ := e.post(t, "/pollinate", []byte("junk")); code != 404 {
				t.Errorf("junk: %d", code)
			}
			other := testonly.NewFakeLog(t, origin)
			other.AppendN("x", 3)
			if code, _, _ := e.post(t, "/pollinate", other.Checkpoint(t, 3)); code != 403 {
				t.Errorf("other key: %d", code)
			}
			list, _ := e.store.ListEvidence(context.Background())
			if len(list) != 2 {
				t.Errorf("%d evidence bundles, want 2", len(list))
			}
		})
	}
}

// TestReaddedLogKeepsState removes a log from the configuration and adds it
// back: the durable state is keyed by origin, so the witness still refuses a
// fork of what it cosigned before.
func TestReaddedLogKeepsState(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			e := newEnv(t, store, false)
			e.log.AppendN("a", 10)
			if code, _, body := e.add(t, 0, nil, e.log.Checkpoint(t, 10)); code != 200 {
				t.Fatalf("first add: %d %s", code, body)
			}
			signer, _ := testonly.NewWitnessKey(t, "w1.example")
			without, err := witness.New(witness.Config{Signers: []note.Signer{signer}, Store: store})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := without.AddCheckpoint(context.Background(), c2sp.AddCheckpointRequest{OldSize: 10, Checkpoint: e.log.Checkpoint(t, 10)}.Marshal()); !errors.Is(err, witness.ErrUnknownOrigin) {
				t.Fatalf("removed log: err = %v, want ErrUnknownOrigin", err)
			}
			again, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: e.log.Verifier}}, Signers: []note.Signer{signer}, Store: store})
			if err != nil {
				t.Fatal(err)
			}
			fork := e.log.Fork(4)
			fork.AppendN("evil", 8)
			for _, old := range []uint64{0, 10} {
				req := c2sp.AddCheckpointRequest{OldSize: old, Checkpoint: fork.Checkpoint(t, 12)}.Marshal()
				if _, err := again.AddCheckpoint(context.Background(), req); err == nil {
					t.Fatalf("re-added log cosigned a fork with old=%d", old)
				}
			}
			st, _ := store.Latest(context.Background(), origin)
			if st.Size != 10 || st.Root != e.log.Root(10) {
				t.Fatalf("state changed: %+v", st)
			}
		})
	}
}

// TestKeyRotation cosigns with two keys at once: each line verifies with its
// own vkey, so clients can trust the new key before the old one retires.
func TestKeyRotation(t *testing.T) {
	l := testonly.NewFakeLog(t, origin)
	l.AppendN("a", 3)
	oldKey, oldVKey := testonly.NewWitnessKey(t, "w.example")
	newKey, newVKey := testonly.NewWitnessKey(t, "w.example")
	w, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: l.Verifier}},
		Signers: []note.Signer{oldKey, newKey}, Store: witness.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	cp := l.Checkpoint(t, 3)
	lines, err := w.AddCheckpoint(context.Background(), c2sp.AddCheckpointRequest{Checkpoint: cp}.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(lines), "\n"); n != 2 {
		t.Fatalf("%d cosignature lines, want 2: %q", n, lines)
	}
	for _, vkey := range []string{oldVKey, newVKey} {
		v, _ := c2sp.NewCosignatureVerifier(vkey)
		n, err := note.Open(append(append([]byte{}, cp...), lines...), note.VerifierList(l.Verifier, v))
		if err != nil || !c2sp.HasSignature(n, v) {
			t.Fatalf("no valid cosignature for %s: %v", vkey, err)
		}
	}
}
