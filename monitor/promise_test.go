package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/promise"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

// promiseFor signs the log's promise for entry leaf, made at ts with the
// given maximum merge delay.
func promiseFor(t *testing.T, signer note.Signer, leaf []byte, ts time.Time, mmd time.Duration) []byte {
	t.Helper()
	id := "sha256:" + strings.Repeat("00", 32)
	if env, err := event.ParseEnvelope(leaf); err == nil {
		id = env.ID()
	}
	signed, err := promise.Promise{Origin: origin, EventID: id, LeafHash: c2sp.LeafHash(leaf), Timestamp: ts, MaxMergeDelay: mmd}.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func postPromise(t *testing.T, srvURL string, body []byte) (int, monitor.PromiseResponse, string) {
	t.Helper()
	resp, err := http.Post(srvURL+"/promise", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var pr monitor.PromiseResponse
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &pr); err != nil {
			t.Fatalf("answer %q: %v", b, err)
		}
	}
	return resp.StatusCode, pr, string(b)
}

// seenSince records that the monitor saw a checkpoint of size n at time at,
// as if it had been running then.
func seenSince(t *testing.T, st store.Store, e *env, n uint64, at time.Time) {
	t.Helper()
	if _, err := st.AddCheckpoint(e.ctx, store.Checkpoint{Size: n, Root: e.log.Root(n), Note: e.log.Checkpoint(t, n), Source: "log", Seen: at, Checked: true}); err != nil {
		t.Fatal(err)
	}
}

func TestPromises(t *testing.T) {
	st := store.NewMem()
	e := newEnv(t, st)
	e.appendAccesses(t, 300)
	srv := httptest.NewServer(e.mon.Handler(prometheus.NewRegistry()))
	defer srv.Close()
	now := time.Now()
	entries := e.log.Entries()
	seenSince(t, st, e, 10, now.Add(-2*time.Hour)) // the monitor has been watching for two hours

	onTime := promiseFor(t, e.log.Signer, entries[200], now, time.Minute)
	late := promiseFor(t, e.log.Signer, entries[50], now.Add(-time.Hour), 10*time.Second)
	missing := promiseFor(t, e.log.Signer, []byte("never logged"), now.Add(-time.Hour), 10*time.Second)
	for _, p := range [][]byte{onTime, late, missing} {
		if code, pr, body := postPromise(t, srv.URL, p); code != http.StatusCreated || pr.Status != store.PromisePending {
			t.Fatalf("POST /promise = %d %q", code, body)
		}
	}
	if code, _, _ := postPromise(t, srv.URL, onTime); code != http.StatusOK {
		t.Fatalf("the same promise again: %d, want 200", code)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status string
		index  int64
	}{
		string(onTime):  {store.PromiseHonoured, 200},
		string(late):    {store.PromiseBroken, 50},
		string(missing): {store.PromiseBroken, -1},
	}
	for p, w := range want {
		_, pr, _ := postPromise(t, srv.URL, []byte(p))
		if pr.Status != w.status || pr.Index != w.index {
			t.Errorf("promise for index %d: %+v, want %s at %d", w.index, pr, w.status, w.index)
		}
	}
	fs := e.findings(t, monitor.RulePromiseBroken)
	if len(fs) != 2 {
		t.Fatalf("%d promise_broken findings, want 2: %+v", len(fs), fs)
	}
	for _, f := range fs {
		ev, err := st.Evidence(e.ctx, f.Evidence)
		if err != nil {
			t.Fatalf("finding %+v: evidence %v", f, err)
		}
		// A third party verifies the log signed the promise.
		if _, err := promise.Open(ev, e.log.Verifier); err != nil {
			t.Fatalf("the evidence is not the log's signed promise: %v", err)
		}
		if f.Index == 50 && !strings.Contains(f.Detail, "included at index 50") {
			t.Errorf("late finding detail: %s", f.Detail)
		}
	}
}

// TestPromiseUnjudged: a monitor that started after the deadline cannot
// judge the merge delay and says so, without a finding.
func TestPromiseUnjudged(t *testing.T) {
	st := store.NewMem()
	e := newEnv(t, st)
	e.appendAccesses(t, 20)
	old := promiseFor(t, e.log.Signer, e.log.Entries()[3], time.Now().Add(-time.Hour), 10*time.Second)
	if _, _, err := e.mon.AddPromise(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	p, err := st.Promise(e.ctx, c2sp.LeafHash(e.log.Entries()[3]))
	if err != nil || p.Status != store.PromiseUnjudged {
		t.Fatalf("promise %+v, %v; want unjudged", p, err)
	}
	if fs := e.findings(t, monitor.RulePromiseBroken); len(fs) != 0 {
		t.Fatalf("findings for an unjudged promise: %+v", fs)
	}
}

// TestPromiseBadInput: every bad promise gets its status and stores nothing.
func TestPromiseBadInput(t *testing.T) {
	st := store.NewMem()
	e := newEnv(t, st)
	e.appendAccesses(t, 5)
	srv := httptest.NewServer(e.mon.Handler(prometheus.NewRegistry()))
	defer srv.Close()
	other := newEnv(t, store.NewMem()) // another key under the same origin
	good := promiseFor(t, e.log.Signer, e.log.Entries()[1], time.Now(), time.Minute)
	cp := e.log.Checkpoint(t, 5)
	for name, c := range map[string]struct {
		body []byte
		code int
	}{
		"garbage":          {[]byte("hello\n"), http.StatusBadRequest},
		"a checkpoint":     {cp, http.StatusBadRequest},
		"another key":      {promiseFor(t, other.log.Signer, e.log.Entries()[1], time.Now(), time.Minute), http.StatusForbidden},
		"tampered":         {bytes.Replace(good, []byte("\n60\n"), []byte("\n99\n"), 1), http.StatusForbidden},
		"too large":        {bytes.Repeat([]byte("a"), c2sp.MaxCheckpointSize+1), http.StatusRequestEntityTooLarge},
		"empty":            {nil, http.StatusBadRequest},
		"signature lines ": {append(bytes.Clone(good[:bytes.Index(good, []byte("\n\n"))+2]), "— bad\n"...), http.StatusBadRequest},
	} {
		code, _, body := postPromise(t, srv.URL, c.body)
		if code != c.code || strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("%s: %d %q, want %d and one line", name, code, body, c.code)
		}
	}
	if ps, _ := st.PendingPromises(e.ctx); len(ps) != 0 {
		t.Fatalf("bad promises were stored: %+v", ps)
	}
}

// TestPromisePostedAfterReplay: the replay passed the leaf before the
// promise arrived, so the monitor asks the log for a proof by event id and
// accepts the index only if the proof verifies against its confirmed
// checkpoint; a lying log leaves it pending, then broken.
func TestPromisePostedAfterReplay(t *testing.T) {
	for _, honest := range []bool{true, false} {
		t.Run(strconv.FormatBool(honest), func(t *testing.T) {
			st := store.NewMem()
			e := newEnv(t, st)
			e.appendAccesses(t, 300)
			e.cfg.LogURL = proofServer(t, e, honest)
			e.restart(t)
			if err := e.mon.Step(e.ctx); err != nil {
				t.Fatal(err)
			}
			seenSince(t, st, e, 300, time.Now().Add(-time.Second))
			leaf := e.log.Entries()[123]
			p, _, err := e.mon.AddPromise(e.ctx, promiseFor(t, e.log.Signer, leaf, time.Now(), time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if honest && (p.Status != store.PromiseHonoured || p.Index != 123) {
				t.Fatalf("honest log: promise %+v, want honoured at 123", p)
			}
			if !honest && p.Status != store.PromisePending {
				t.Fatalf("lying log: promise %+v, want pending", p)
			}
		})
	}
}

// proofServer serves the fake log plus /proof/inclusion?event_id=, as
// htlog-server does; a dishonest one answers with a proof for a wrong index.
func proofServer(t *testing.T, e *env, honest bool) string {
	t.Helper()
	base, _ := url.Parse(e.log.URL(t))
	proxy := httputil.NewSingleHostReverseProxy(base)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/proof/inclusion" {
			proxy.ServeHTTP(w, r)
			return
		}
		size, _ := strconv.ParseUint(r.URL.Query().Get("tree_size"), 10, 64)
		for i, leaf := range e.log.Entries() {
			env, err := event.ParseEnvelope(leaf)
			if err != nil || env.ID() != r.URL.Query().Get("event_id") {
				continue
			}
			idx := uint64(i)
			if !honest {
				idx = (idx + 1) % size
			}
			fetch := func(ctx context.Context, path string) ([]byte, error) {
				resp, err := http.Get(base.String() + "/" + path)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				return io.ReadAll(resp.Body)
			}
			p, err := c2sp.InclusionProofFromTiles(r.Context(), fetch, idx, size, e.log.Root(size))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			// The documented wire form (docs/api.md): base64 strings.
			proof := make([]string, len(p))
			for i, h := range p {
				proof[i] = h.String()
			}
			json.NewEncoder(w).Encode(map[string]any{"index": idx, "tree_size": size, "proof": proof})
			return
		}
		http.Error(w, "no such event", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPromiseSurvivesRestart: a pending promise is kept in the store and
// the restarted monitor finds its leaf when the log includes it.
func TestPromiseSurvivesRestart(t *testing.T) {
	for _, name := range []string{"mem", "mysql"} {
		t.Run(name, func(t *testing.T) {
			var st store.Store = store.NewMem()
			if name == "mysql" {
				st = mysqlStore(t)
			}
			e := newEnv(t, st)
			e.appendAccesses(t, 10)
			if err := e.mon.Step(e.ctx); err != nil {
				t.Fatal(err)
			}
			leaf := []byte("an entry queued but not yet logged")
			p, added, err := e.mon.AddPromise(e.ctx, promiseFor(t, e.log.Signer, leaf, time.Now(), time.Minute))
			if err != nil || !added || p.Status != store.PromisePending {
				t.Fatalf("AddPromise = %+v, %v, %v", p, added, err)
			}
			e.restart(t)
			e.log.Append(leaf)
			if err := e.mon.Step(e.ctx); err != nil {
				t.Fatal(err)
			}
			if p, err := st.Promise(e.ctx, c2sp.LeafHash(leaf)); err != nil || p.Status != store.PromiseHonoured || p.Index != 10 {
				t.Fatalf("after restart: %+v, %v; want honoured at 10", p, err)
			}
		})
	}
}
