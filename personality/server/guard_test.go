package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/personality/submit"
)

// fakeIntegration says which events are integrated.
type fakeIntegration struct {
	mu   sync.Mutex
	done map[[32]byte]bool
	err  error
}

func (f *fakeIntegration) integrated(_ context.Context, ids [][32]byte) (map[[32]byte]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[[32]byte]bool{}
	for _, id := range ids {
		if f.done[id] {
			out[id] = true
		}
	}
	return out, nil
}

func TestMergeGuard(t *testing.T) {
	f := &fakeIntegration{done: map[[32]byte]bool{}}
	g := &mergeGuard{limit: 10 * time.Second, integrated: f.integrated}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := g.admit(t0); err != nil {
		t.Fatal("an empty guard refuses:", err)
	}
	for i := range 5 {
		g.add([32]byte{byte(i)}, t0.Add(time.Duration(i)*time.Second))
	}
	if lag, n := g.lag(t0.Add(11 * time.Second)); lag != 11*time.Second || n != 5 {
		t.Fatalf("lag %v, %d waiting", lag, n)
	}
	err := g.admit(t0.Add(11 * time.Second))
	var rej *submit.Rejection
	if !errors.As(err, &rej) || rej.Status != http.StatusServiceUnavailable || rej.RetryAfter < time.Second ||
		!strings.Contains(rej.Reason, "not integrated") {
		t.Fatalf("over the limit: %v", err)
	}
	// Events 0 and 2 are integrated: the oldest waiting is now event 1.
	f.done[[32]byte{0}], f.done[[32]byte{2}] = true, true
	if err := g.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if lag, n := g.lag(t0.Add(11 * time.Second)); lag != 10*time.Second || n != 3 {
		t.Fatalf("after the sweep: lag %v, %d waiting", lag, n)
	}
	if err := g.admit(t0.Add(11 * time.Second)); err != nil {
		t.Fatal("at the limit:", err)
	}
	// A failed lookup forgets nothing.
	f.err = errors.New("database down")
	if err := g.sweep(ctx); err == nil {
		t.Fatal("no error")
	}
	if _, n := g.lag(t0); n != 3 {
		t.Fatalf("%d waiting after a failed sweep", n)
	}
	f.err = nil
	for i := range 5 {
		f.done[[32]byte{byte(i)}] = true
	}
	if err := g.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if lag, n := g.lag(t0.Add(time.Hour)); lag != 0 || n != 0 {
		t.Fatalf("all integrated: lag %v, %d waiting", lag, n)
	}
}

// TestMergeGuardConcurrent adds while sweeping (go test -race): nothing
// added during a sweep is lost.
func TestMergeGuardConcurrent(t *testing.T) {
	f := &fakeIntegration{done: map[[32]byte]bool{}}
	g := &mergeGuard{limit: time.Minute, integrated: f.integrated}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx, time.Millisecond)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				id := [32]byte{byte(w), byte(i), byte(i >> 8)}
				if i%2 == 0 {
					f.mu.Lock()
					f.done[id] = true
					f.mu.Unlock()
				}
				g.add(id, time.Now())
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, n := g.lag(time.Now()); n == 4000 {
			break
		}
		if time.Now().After(deadline) {
			_, n := g.lag(time.Now())
			t.Fatalf("%d waiting, want the 4000 never integrated", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
