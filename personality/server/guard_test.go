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
	"github.com/htlog/htlog/personality/tiles"
)

// fakeSequence says what waits for publication.
type fakeSequence struct {
	mu  sync.Mutex
	w   tiles.Waiting
	err error
}

func (f *fakeSequence) waiting(context.Context) (tiles.Waiting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w, f.err
}

func (f *fakeSequence) set(w tiles.Waiting, err error) {
	f.mu.Lock()
	f.w, f.err = w, err
	f.mu.Unlock()
}

func status503(t *testing.T, err error) string {
	t.Helper()
	var r *submit.Rejection
	if !errors.As(err, &r) || r.Status != http.StatusServiceUnavailable || r.RetryAfter <= 0 {
		t.Fatalf("got %v, want 503 with Retry-After", err)
	}
	return r.Reason
}

func TestMergeGuard(t *testing.T) {
	f := &fakeSequence{}
	g := &mergeGuard{limit: 10 * time.Second, waiting: f.waiting}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Before the first reading (a replica just started) it refuses.
	if reason := status503(t, g.admit(t0)); !strings.Contains(reason, "starting") {
		t.Fatalf("before the first reading: %q", reason)
	}
	if err := g.sweep(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if err := g.admit(t0.Add(time.Hour)); err != nil {
		t.Fatal("nothing waiting, yet refused:", err)
	}
	// Five wait, the oldest for 4 s when read: the lag grows with the
	// clock between readings.
	f.set(tiles.Waiting{Count: 5, AgeSeconds: 4}, nil)
	g.sweep(ctx, t0)
	if lag, n, _ := g.lag(t0.Add(3 * time.Second)); lag != 7*time.Second || n != 5 {
		t.Fatalf("lag %v, %d waiting", lag, n)
	}
	if err := g.admit(t0.Add(6 * time.Second)); err != nil {
		t.Fatal("refused below the limit:", err)
	}
	reason := status503(t, g.admit(t0.Add(7*time.Second)))
	if !strings.Contains(reason, "5 waiting") || !strings.Contains(reason, "11s ago") {
		t.Fatalf("reason %q", reason)
	}
	// A failed reading keeps the last one (and its lag keeps growing).
	f.set(tiles.Waiting{}, errors.New("database down"))
	if err := g.sweep(ctx, t0.Add(8*time.Second)); err == nil {
		t.Fatal("sweep hid the error")
	}
	status503(t, g.admit(t0.Add(8*time.Second)))
	// Published: admitted again.
	f.set(tiles.Waiting{}, nil)
	g.sweep(ctx, t0.Add(9*time.Second))
	if err := g.admit(t0.Add(9 * time.Second)); err != nil {
		t.Fatal("refused after publication:", err)
	}
}

func TestMergeGuardConcurrent(t *testing.T) {
	f := &fakeSequence{}
	g := &mergeGuard{limit: time.Minute, waiting: f.waiting}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.run(ctx, time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				f.set(tiles.Waiting{Count: uint64(i*j + 1), AgeSeconds: 1}, nil)
				g.admit(time.Now())
				g.lag(time.Now())
			}
		})
	}
	wg.Wait()
}
