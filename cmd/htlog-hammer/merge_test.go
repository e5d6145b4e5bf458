package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
)

// TestMergeWatch: sampled events are timed from submission to the first
// checkpoint seen that includes them; an event the log does not know is
// counted as unplaced.
func TestMergeWatch(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var size atomic.Uint64
	index := map[string]int{}  // event id -> index
	envs := make([][]byte, 31) // envs[i] is request i (from 1)
	for i := 1; i <= 30; i++ {
		env, err := event.Sign(fmt.Appendf(nil, `{"n":%d}`, i), key)
		if err != nil {
			t.Fatal(err)
		}
		envs[i] = env.Marshal()
		if i != 30 { // the log never saw request 30
			index[env.ID()] = i - 1
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/checkpoint":
			fmt.Fprintf(w, "htlog.test/log\n%d\nAAAA\n\n— sig\n", size.Load())
		case strings.HasPrefix(r.URL.Path, "/event/"):
			i, ok := index[strings.TrimPrefix(r.URL.Path, "/event/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			json.NewEncoder(w).Encode(map[string]int{"index": i})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	w := &mergeWatch{url: srv.URL, client: srv.Client(), every: 2, poll: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run(ctx)
	start := time.Now()
	for i := 1; i <= 30; i++ {
		w.note(i, envs[i], start)
	}
	time.Sleep(30 * time.Millisecond)
	first := time.Now()
	size.Store(10) // requests 1-10
	time.Sleep(30 * time.Millisecond)
	second := time.Now()
	size.Store(29)                                                          // requests 11-29
	waitCtx, stop := context.WithTimeout(context.Background(), time.Second) // request 30 never shows up
	defer stop()
	lat, missed := w.latencies(waitCtx)
	// Requests 2, 4, ..., 30 are sampled; 30 is unknown to the log.
	if len(lat) != 14 || missed != 1 {
		t.Fatalf("%d timed, %d unplaced; want 14 and 1", len(lat), missed)
	}
	for k, d := range lat {
		req := 2 * (k + 1)
		bound := first.Sub(start)
		if req > 10 {
			bound = second.Sub(start)
		}
		if d < bound {
			t.Errorf("request %d: %v to its checkpoint, but the checkpoint including it was published after %v", req, d, bound)
		}
	}
	var rep Report
	rep.setMerge(lat, missed)
	if rep.MergeSamples != 14 || rep.MergeMissed != 1 || rep.MergeP50ms <= 0 || rep.MergeP99ms < rep.MergeP50ms {
		t.Fatalf("report: %+v", rep)
	}
}

// TestMergeWatchSamplesOnlyEveryNth: note keeps one request in every.
func TestMergeWatchSamplesOnlyEveryNth(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	env, _ := event.Sign([]byte(`{}`), key)
	w := &mergeWatch{every: 10}
	for i := 1; i <= 100; i++ {
		w.note(i, env.Marshal(), time.Now())
	}
	w.note(20, []byte("not an envelope"), time.Now())
	if len(w.sent) != 10 {
		t.Fatalf("%d sampled, want 10", len(w.sent))
	}
	var off *mergeWatch
	off.note(10, env.Marshal(), time.Now()) // a nil watch is off
}
