package monitor_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/monitor/tlogclient"
	"github.com/prometheus/client_golang/prometheus"
)

// recorder is an HTTP peer that records the bodies POSTed to it and
// answers with code.
type recorder struct {
	mu     sync.Mutex
	code   int
	bodies [][]byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Method == http.MethodPost && req.URL.Path == "/pollinate" {
		r.bodies = append(r.bodies, b)
	}
	w.WriteHeader(r.code)
}

func (r *recorder) got() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

func TestRunGossipsAndPollsWitnesses(t *testing.T) {
	ok, conflict := &recorder{code: 200}, &recorder{code: 409}
	okSrv, conflictSrv := httptest.NewServer(ok), httptest.NewServer(conflict)
	defer okSrv.Close()
	defer conflictSrv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	e := newEnv(t, store.NewMem())
	e.appendAccesses(t, 30)
	// A witness serving an older checkpoint of the honest log.
	older := e.log.Checkpoint(t, 12)
	witness := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tlogclient.MonitoringPath(origin) {
			http.NotFound(w, r)
			return
		}
		w.Write(older)
	}))
	defer witness.Close()

	// A second monitor of the same log as a real peer.
	peer := newEnv(t, store.NewMem())
	peer.cfg.LogURL = e.cfg.LogURL
	peer.cfg.LogVerifier = e.cfg.LogVerifier
	peer.restart(t)
	peerSrv := httptest.NewServer(peer.mon.Handler(prometheus.NewRegistry()))
	defer peerSrv.Close()

	reg := prometheus.NewRegistry()
	e.cfg.Metrics = monitor.NewMetrics(reg)
	e.cfg.PollInterval = 10 * time.Millisecond
	e.cfg.Peers = []string{okSrv.URL, conflictSrv.URL + "/", down.URL, peerSrv.URL}
	e.cfg.Witnesses = []string{witness.URL, down.URL}
	e.restart(t)

	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.mon.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(ok.got()) < 2 || len(conflict.got()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("peers were not pollinated")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}

	conf := e.mon.Confirmed()
	if conf == nil || conf.Size != 30 {
		t.Fatalf("confirmed %+v", conf)
	}
	for _, b := range ok.got() {
		if !bytes.Equal(b, conf.Bytes) {
			t.Fatalf("pollinated %q, want the confirmed checkpoint", b)
		}
	}
	// The real peer recorded our checkpoint as pollinated.
	cps, _ := peer.st.CheckpointsAtSize(peer.ctx, 30)
	if len(cps) == 0 || cps[0].Source != "pollinate" {
		t.Fatalf("peer's checkpoints of size 30: %+v", cps)
	}
	// The witness's checkpoint was recorded and checked against the replay.
	cps, _ = e.st.CheckpointsAtSize(e.ctx, 12)
	if len(cps) != 1 || cps[0].Source != "witness "+witness.URL || !cps[0].Checked {
		t.Fatalf("witness checkpoint: %+v", cps)
	}
	if n := errorCount(t, reg, "pollinate"); n < 1 {
		t.Errorf("unreachable peer not counted: %v", n)
	}
	if n := errorCount(t, reg, "fetch_witness"); n < 1 {
		t.Errorf("unreachable witness not counted: %v", n)
	}
	if fs := e.findings(t, ""); len(fs) != 0 {
		t.Fatalf("findings: %+v", fs)
	}
}

// errorCount reads htlog_monitor_errors_total{op} from reg.
func errorCount(t *testing.T, reg *prometheus.Registry, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "htlog_monitor_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
