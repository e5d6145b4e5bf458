package monitor_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
)

func TestWebhook(t *testing.T) {
	got := make(chan []byte, 4)
	var contentType string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		contentType = r.Header.Get("Content-Type")
		got <- b
	}))
	defer hook.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()
	e := newEnv(t, store.NewMem(), func(c *monitor.Config) { c.Webhooks = []string{failing.URL, hook.URL} })
	forked := splitView(t, e)
	if _, _, inconsistent, err := e.mon.Observe(e.ctx, forked, "pollinate"); err != nil || !inconsistent {
		t.Fatalf("Observe: %v, inconsistent %v", err, inconsistent)
	}
	var body []byte
	select {
	case body = <-got:
	default:
		t.Fatal("the webhook was not called (after a failing one)")
	}
	if contentType != "application/json" {
		t.Errorf("Content-Type %q", contentType)
	}
	var w monitor.Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatal(err)
	}
	ids, _ := e.st.EvidenceIDs(e.ctx)
	stored, _ := e.st.Evidence(e.ctx, ids[0])
	if w.Origin != origin || w.Finding.Rule != monitor.RuleSplitView || w.Finding.Evidence != ids[0] || w.Evidence != string(stored) {
		t.Fatalf("webhook body %+v", w)
	}
	verifyIndependently(t, e.log, []byte(w.Evidence))
	onDisk, err := os.ReadFile(filepath.Join(e.cfg.EvidenceDir, ids[0]+".txt"))
	if err != nil || string(onDisk) != w.Evidence {
		t.Fatalf("evidence_dir: %v", err)
	}
	// Heard again: no second bundle, no second call.
	e.mon.Observe(e.ctx, forked, "pollinate")
	if len(got) != 0 {
		t.Fatal("the webhook was called twice for one split view")
	}
}

func TestWitnessEquivocation(t *testing.T) {
	w1, w1vkey := testonly.NewWitnessKey(t, "w1.example")
	w2, w2vkey := testonly.NewWitnessKey(t, "w2.example")
	e := newEnv(t, store.NewMem())
	e.withPolicy(t, "witness w1 "+w1vkey+"\nwitness w2 "+w2vkey+"\ngroup g any w1 w2\nquorum g\n")
	e.appendAccesses(t, 10)
	fork := e.log.Fork(10)
	e.appendAccesses(t, 10)
	fork.AppendN("fork", 10)
	// Both witnesses cosign the honest tree; only w1 also cosigns the fork.
	e.log.Serve(e.log.Checkpoint(t, 20, w1, w2))
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if e.mon.Confirmed().Size != 20 {
		t.Fatal("the cosigned checkpoint was not followed")
	}
	if _, _, inconsistent, err := e.mon.Observe(e.ctx, fork.Checkpoint(t, 20, w1), "witness https://w1.example"); err != nil || !inconsistent {
		t.Fatalf("Observe: %v, inconsistent %v", err, inconsistent)
	}
	fs := e.findings(t, monitor.RuleWitnessEquivocation)
	if len(fs) != 1 || !strings.Contains(fs[0].Detail, "w1") || strings.Contains(fs[0].Detail, "w2") || fs[0].Evidence == "" {
		t.Fatalf("witness_equivocation findings: %+v", fs)
	}
	if sv := e.findings(t, monitor.RuleSplitView); len(sv) != 1 || sv[0].Evidence != fs[0].Evidence {
		t.Fatalf("split_view findings: %+v", sv)
	}
}

func TestNoEquivocationWithoutBothCosignatures(t *testing.T) {
	w1, w1vkey := testonly.NewWitnessKey(t, "w1.example")
	e := newEnv(t, store.NewMem())
	e.withPolicy(t, "witness w1 "+w1vkey+"\nquorum w1\n")
	e.appendAccesses(t, 10)
	fork := e.log.Fork(10)
	e.appendAccesses(t, 10)
	fork.AppendN("fork", 10)
	e.log.Serve(e.log.Checkpoint(t, 20, w1))
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The fork without w1's cosignature: a split view, and a quorum error.
	_, quorum, inconsistent, err := e.mon.Observe(e.ctx, fork.Checkpoint(t, 20), "pollinate")
	if err != nil || !inconsistent || quorum == nil {
		t.Fatalf("Observe: err %v, inconsistent %v, quorum %v", err, inconsistent, quorum)
	}
	if fs := e.findings(t, monitor.RuleWitnessEquivocation); len(fs) != 0 {
		t.Fatalf("a witness that cosigned one side was accused: %+v", fs)
	}
}

// withPolicy restarts e's monitor with a policy of e's log and the given
// witness, group and quorum lines.
func (e *env) withPolicy(t *testing.T, lines string) {
	t.Helper()
	p, err := c2sp.ParsePolicy([]byte("log " + e.log.VKey + "\n" + lines))
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Policy = p
	e.restart(t)
}
