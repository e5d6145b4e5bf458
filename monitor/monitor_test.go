package monitor_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/splitview"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

const origin = "example.com/htlog/test"

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

type env struct {
	log *testonly.FakeLog
	sub *montest.Submitter
	st  store.Store
	mon *monitor.Monitor
	cfg monitor.Config
	ctx context.Context
}

func newEnv(t *testing.T, st store.Store, mod ...func(*monitor.Config)) *env {
	t.Helper()
	e := newEnvTB(t, st, mod...)
	return e
}

func newEnvTB(t testing.TB, st store.Store, mod ...func(*monitor.Config)) *env {
	t.Helper()
	e := &env{log: testonly.NewFakeLog(t, origin), sub: montest.NewSubmitter(t, "npi:1234567893"), st: st, ctx: context.Background()}
	reg := montest.Registry(t, e.sub)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = monitor.Config{LogURL: e.log.URL(t), LogVerifier: e.log.Verifier, Store: st,
		Registry: func() *registry.Registry { return reg }, Validator: v, EvidenceDir: t.TempDir()}
	for _, f := range mod {
		f(&e.cfg)
	}
	e.restart(t)
	return e
}

func (e *env) restart(t testing.TB) {
	t.Helper()
	m, err := monitor.New(e.ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.mon = m
}

// appendAccesses logs n valid TREAT accesses (no consent needed).
func (e *env) appendAccesses(t testing.TB, n int) {
	for i := range n {
		raw, _ := e.sub.Sign(t, "access", t0.Add(time.Duration(i)*time.Minute),
			montest.Access("npi:1234567893", "dr-"+string(rune('a'+i%20)), "p", "TREAT", ""))
		e.log.Append(raw)
	}
}

func (e *env) findings(t *testing.T, rule string) []finding.Finding {
	t.Helper()
	fs, err := e.st.Findings(e.ctx, finding.Filter{Rule: rule})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestFollowVerifiesEntries(t *testing.T) {
	e := newEnv(t, store.NewMem())
	e.appendAccesses(t, 300)
	other := montest.NewSubmitter(t, "npi:1999999992") // not registered
	raw, _ := other.Sign(t, "access", t0, montest.Access("npi:1999999992", "x", "p", "TREAT", ""))
	e.log.Append(raw, []byte("not an envelope"))
	e.appendAccesses(t, 10)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.mon.Confirmed().Size; got != 312 {
		t.Fatalf("confirmed size %d, want 312", got)
	}
	if fs := e.findings(t, entrycheck.RuleSubmitter); len(fs) != 1 || fs[0].Index != 300 {
		t.Fatalf("unknown_submitter findings: %+v", fs)
	}
	if fs := e.findings(t, entrycheck.RuleMalformed); len(fs) != 1 || fs[0].Index != 301 {
		t.Fatalf("malformed findings: %+v", fs)
	}
	// Incremental: a partial bundle is extended.
	e.appendAccesses(t, 100)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	// Resume from the store.
	e.appendAccesses(t, 5)
	e.restart(t)
	if got := e.mon.Confirmed().Size; got != 412 {
		t.Fatalf("after restart confirmed size %d, want 412", got)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.mon.Confirmed().Size; got != 417 {
		t.Fatalf("confirmed size %d, want 417", got)
	}
	if n := len(e.findings(t, "")); n != 2 {
		t.Fatalf("%d findings, want 2", n)
	}
}

// garbageLog serves the fake log but corrupts what the test asks for.
func garbageLog(t *testing.T, l *testonly.FakeLog, corrupt func(path string, body []byte) ([]byte, int)) string {
	real := l.URL(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(real + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		body, code := corrupt(strings.TrimPrefix(r.URL.Path, "/"), b.Bytes())
		if code == 0 {
			code = resp.StatusCode
		}
		w.WriteHeader(code)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGarbageFromTheLog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(path string, body []byte) ([]byte, int)
		rule    string
	}{
		{"short bundle", func(p string, b []byte) ([]byte, int) {
			if strings.HasPrefix(p, "tile/entries/") {
				return b[:len(b)-3], 0
			}
			return b, 0
		}, monitor.RuleBadBundle},
		{"swapped entry", func(p string, b []byte) ([]byte, int) {
			if strings.HasPrefix(p, "tile/entries/") {
				return bytes.Replace(b, []byte(`"payload":"eyJ`), []byte(`"payload":"fyJ`), 1), 0
			}
			return b, 0
		}, monitor.RuleEntriesMismatch},
		{"bad signature", func(p string, b []byte) ([]byte, int) {
			if p == "checkpoint" {
				return bytes.Replace(b, []byte("\n\n"), []byte("\nextension\n\n"), 1), 0
			}
			return b, 0
		}, monitor.RuleBadCheckpoint},
		{"down", func(p string, b []byte) ([]byte, int) { return nil, 503 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var url string
			e := newEnv(t, store.NewMem(), func(c *monitor.Config) {})
			e.appendAccesses(t, 20)
			url = garbageLog(t, e.log, tc.corrupt)
			e.cfg.LogURL = url
			e.restart(t)
			if err := e.mon.Step(e.ctx); err == nil {
				t.Fatal("Step succeeded on garbage")
			}
			if e.mon.Confirmed() != nil {
				t.Fatal("garbage was confirmed")
			}
			all := e.findings(t, "")
			if tc.rule == "" {
				if len(all) != 0 {
					t.Fatalf("a log that is down caused findings: %+v", all)
				}
			} else if len(e.findings(t, tc.rule)) != 1 {
				t.Fatalf("want one %s finding, got %+v", tc.rule, all)
			}
			// The log recovers: the monitor follows it.
			e.cfg.LogURL = e.log.URL(t)
			e.restart(t)
			if err := e.mon.Step(e.ctx); err != nil || e.mon.Confirmed().Size != 20 {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

func TestSplitViewEvidence(t *testing.T) {
	for _, tc := range []struct {
		name          string
		forkAt, forkN uint64 // the fork shares forkAt entries and has forkN
		honestN       uint64
	}{
		{"smaller", 100, 200, 300},
		{"power of two", 100, 256, 300},
		{"same size", 100, 300, 300},
		{"larger, caught later", 100, 400, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, store.NewMem())
			e.appendAccesses(t, int(tc.forkAt))
			fork := e.log.Fork(tc.forkAt)
			e.appendAccesses(t, int(tc.honestN-tc.forkAt))
			fork.AppendN("fork", int(tc.forkN-tc.forkAt))
			if err := e.mon.Step(e.ctx); err != nil {
				t.Fatal(err)
			}
			forked := fork.Checkpoint(t, tc.forkN)
			_, _, inconsistent, err := e.mon.Observe(e.ctx, forked, "pollinate")
			if err != nil {
				t.Fatal(err)
			}
			if tc.forkN > tc.honestN {
				if inconsistent {
					t.Fatal("a larger checkpoint was judged before the replay got there")
				}
				e.appendAccesses(t, 150)
				if err := e.mon.Step(e.ctx); err != nil {
					t.Fatal(err)
				}
			} else if !inconsistent {
				t.Fatal("split view not reported")
			}
			ids, _ := e.st.EvidenceIDs(e.ctx)
			if len(ids) != 1 {
				t.Fatalf("%d evidence bundles, want 1", len(ids))
			}
			bundle, _ := e.st.Evidence(e.ctx, ids[0])
			verifyIndependently(t, e.log, bundle)
			if fs := e.findings(t, monitor.RuleSplitView); len(fs) != 1 || fs[0].Evidence != ids[0] {
				t.Fatalf("split view findings: %+v", fs)
			}
		})
	}
}

// verifyIndependently checks an evidence bundle with note and the merkle
// library only: both checkpoints are signed by the log, and the proof is a
// valid consistency proof from a root of the smaller size (the honest one,
// which any third party can read from the log) to the larger checkpoint,
// while it is not one from the smaller checkpoint's root.
func verifyIndependently(t *testing.T, honest *testonly.FakeLog, bundle []byte) {
	t.Helper()
	verifyEvidence(t, honest.VKey, honest.Root, bundle)
}

// verifyEvidence checks a split-view bundle as a third party would: both
// checkpoints are signed with vkey, and they contradict each other, or the
// bundle's proof is a consistency proof from the honest tree (whose roots
// honestRoot gives) to the larger checkpoint that the smaller one fails.
func verifyEvidence(t *testing.T, vkey string, honestRoot func(uint64) c2sp.Hash, bundle []byte) {
	t.Helper()
	ev, err := splitview.Parse(bundle)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := note.NewVerifier(vkey)
	var sizes [2]uint64
	var roots [2][]byte
	for i, cp := range [][]byte{ev.First, ev.Second} {
		n, err := note.Open(cp, note.VerifierList(v))
		if err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
		c, err := c2sp.ParseCheckpoint([]byte(n.Text))
		if err != nil {
			t.Fatal(err)
		}
		sizes[i], roots[i] = c.Size, c.Hash[:]
	}
	if sizes[0] == sizes[1] {
		if bytes.Equal(roots[0], roots[1]) {
			t.Fatal("equal checkpoints")
		}
		return
	}
	p := c2sp.HashesToBytes(ev.Proof)
	if sizes[0]&(sizes[0]-1) == 0 {
		p = p[1:] // the smaller tree's own root, prepended
	}
	h := rfc6962.DefaultHasher
	if err := proof.VerifyConsistency(h, sizes[0], sizes[1], p, roots[0], roots[1]); err == nil {
		t.Fatal("the evidence's checkpoints are consistent")
	}
	if c2sp.Hash(roots[1]) != honestRoot(sizes[1]) {
		t.Fatal("the larger checkpoint is not the honest log's")
	}
	small := honestRoot(sizes[0])
	if err := proof.VerifyConsistency(h, sizes[0], sizes[1], p, small[:], roots[1]); err != nil {
		t.Fatalf("the proof is not a consistency proof of the larger tree: %v", err)
	}
}
