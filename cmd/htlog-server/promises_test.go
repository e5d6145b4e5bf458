package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
)

// startMonitor runs an in-process monitor of the stack with its state in
// memory, following every 200ms until the test ends.
func startMonitor(t *testing.T, s *testonly.Stack) *monitor.Monitor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	verifier, err := note.NewVerifier(s.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.NewWatcher(s.RegistryFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New(ctx, monitor.Config{LogURL: s.URL, LogVerifier: verifier, Policy: s.Policy, Registry: reg.Current,
		Validator: v, PollInterval: 200 * time.Millisecond, Store: store.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	go m.Run(ctx)
	return m
}

// submitAsync submits fresh events from 4 clients until stop closes and
// returns every promise (202 body) received; connection errors (a server
// killed or restarting) and refusals are counted, not fatal.
func submitAsync(t *testing.T, s *testonly.Stack, stop <-chan struct{}) (promises [][]byte, refused map[int]int) {
	body := testonly.Example(t, "access", "valid-routine-read.json")
	var mu sync.Mutex
	refused = map[int]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				env := s.Envelope(t, "access", testonly.FreshTags(body), testonly.Minute(0))
				resp, err := http.Post(s.URL+"/add-event?async=1", "application/json", bytes.NewReader(env))
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusAccepted {
					promises = append(promises, b)
				} else {
					refused[resp.StatusCode]++
				}
				mu.Unlock()
				if resp.StatusCode != http.StatusAccepted {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	<-stop
	wg.Wait()
	return promises, refused
}

// TestNoBrokenPromiseWhileTheSignerIsDown stalls Trillian's signer for
// longer than the maximum merge delay and kill -9s and restarts
// htlog-server in the middle of the stall, under a steady async load; then
// hands every promise signed to a monitor that followed the log the whole
// time: none is broken (issue 14). Publication does not wait for Trillian's
// signer; once the signer is back, Trillian's tree catches up with the
// published one and its root is checked.
func TestNoBrokenPromiseWhileTheSignerIsDown(t *testing.T) {
	const mmd = 6 * time.Second
	s := testonly.PrepareStack(t)
	s.SetConfig(t, "max_merge_delay: 6s\n")
	s.Start(t)
	mon := startMonitor(t, s)
	s.Trillian.KillSigner()
	stop := make(chan struct{})
	go func() {
		time.Sleep(mmd / 2)
		s.Kill()
		s.Start(t)
		time.Sleep(mmd)
		close(stop)
	}()
	promises, refused := submitAsync(t, s, stop)
	if len(promises) == 0 {
		t.Fatalf("no promise signed (refusals %v)", refused)
	}
	ctx := context.Background()
	for _, p := range promises {
		if _, _, err := mon.AddPromise(ctx, p); err != nil {
			t.Fatalf("the monitor refused a promise: %v", err)
		}
	}
	// Every deadline passes; the monitor judges each promise.
	time.Sleep(mmd + time.Second)
	deadline := time.Now().Add(60 * time.Second)
	counts := map[string]int{}
	for {
		clear(counts)
		for _, p := range promises {
			st, _, err := mon.AddPromise(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			counts[st.Status]++
			if st.Status == store.PromiseBroken {
				t.Fatalf("a broken promise: %s (%d promises: %v)", st.Detail, len(promises), counts)
			}
		}
		if counts[store.PromiseHonoured] == len(promises) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("promises not judged within 60s: %v", counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d promises over a %v signer stall with a kill -9 of htlog-server, all honoured (refusals: %v)", len(promises), mmd+mmd/2, refused)
	// Trillian's signer back: its tree reaches the published size (the
	// publisher checks its root there).
	s.Trillian.StartSigner(t)
	published := checkpointSize(t, s)
	conn := s.Trillian.Dial(t)
	trees, err := trillian.NewTrillianAdminClient(conn).ListTrees(ctx, &trillian.ListTreesRequest{})
	if err != nil || len(trees.Tree) != 1 {
		t.Fatalf("the stack's Trillian has %d trees (%v), want 1", len(trees.GetTree()), err)
	}
	awaitTrillian(t, conn, trees.Tree[0].TreeId, published, deadline)
}

// awaitTrillian waits until Trillian's tree id has integrated size leaves
// (its root at that size is then checked by the publisher).
func awaitTrillian(t *testing.T, conn *grpc.ClientConn, id int64, size uint64, deadline time.Time) {
	t.Helper()
	l, err := logbackend.NewTrillian(context.Background(), conn, id)
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := l.LatestRoot(context.Background())
		if err == nil && r.Size >= size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Trillian's tree at %d, want %d: %v", r.Size, size, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMergeGuardSurvivesRestart stalls publication itself (two of the three
// witnesses down: no quorum). Once the oldest acknowledged event has waited
// half the maximum merge delay, htlog-server refuses new submissions (503
// with Retry-After); a replica started afresh mid-stall (kill -9 and
// restart) refuses at once, because the guard's state is the log's own
// sequence in the database. With the witnesses back, everything
// acknowledged is published and submissions are accepted again.
func TestMergeGuardSurvivesRestart(t *testing.T) {
	s := testonly.PrepareStack(t)
	s.SetConfig(t, "max_merge_delay: 8s\n")
	s.Start(t)
	body := testonly.Example(t, "access", "valid-routine-read.json")
	submit := func() (int, string, http.Header) {
		return post(t, s, "/add-event?async=1", s.Envelope(t, "access", testonly.FreshTags(body), testonly.Minute(0)))
	}
	before := checkpointSize(t, s)
	s.WitnessDown[0].Store(true)
	s.WitnessDown[1].Store(true)
	acked := 0
	start := time.Now()
	for {
		code, msg, h := submit()
		if code == http.StatusAccepted {
			acked++
		} else {
			if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(msg, "not published yet") {
				t.Fatalf("with publication stalled: %d %q (Retry-After %q)", code, msg, h.Get("Retry-After"))
			}
			if waited := time.Since(start); waited < 4*time.Second {
				t.Fatalf("refused after %v, before half the maximum merge delay", waited)
			}
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("still accepting 30s after publication stalled")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if acked == 0 {
		t.Fatal("nothing acknowledged before the guard closed")
	}
	s.Kill()
	s.Start(t)
	if code, msg, _ := submit(); code != http.StatusServiceUnavailable {
		t.Fatalf("a restarted replica mid-stall answered %d %q, want 503", code, msg)
	}
	s.WitnessDown[0].Store(false)
	s.WitnessDown[1].Store(false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, msg, _ := submit()
		if code == http.StatusAccepted {
			acked++
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused 60s after the witnesses came back: %d %q", code, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for checkpointSize(t, s) < before+uint64(acked) {
		if time.Now().After(deadline) {
			t.Fatalf("published %d, want %d acknowledged events", checkpointSize(t, s)-before, acked)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
