package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/personality/submit"
)

// mergeGuard keeps this replica's promises keepable. It remembers the
// events it acknowledged until the log has integrated them, and refuses new
// submissions (503) while the oldest has waited more than limit, half the
// promised maximum merge delay by default. Trillian's signer can fall behind
// a saturating load; without the guard every promise signed meanwhile would
// be broken once the delay passed the maximum. The guard is per replica:
// each replica watches its own events, integrated by whichever replica
// publishes, through the shared database.
type mergeGuard struct {
	limit      time.Duration
	integrated func(ctx context.Context, ids [][32]byte) (map[[32]byte]bool, error)
	log        *slog.Logger

	mu    sync.Mutex
	queue []acked // in acknowledgement order
}

type acked struct {
	id [32]byte
	at time.Time
}

// sweepBatch bounds the events one sweep asks about.
const sweepBatch = 5000

// add remembers an acknowledged event until it is integrated.
func (g *mergeGuard) add(id [32]byte, at time.Time) {
	g.mu.Lock()
	g.queue = append(g.queue, acked{id, at})
	g.mu.Unlock()
}

// lag is how long the oldest acknowledged event not yet integrated has
// waited, and how many are waiting.
func (g *mergeGuard) lag(now time.Time) (time.Duration, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		return 0, 0
	}
	return now.Sub(g.queue[0].at), len(g.queue)
}

// admit refuses a new submission while the lag is over the limit.
func (g *mergeGuard) admit(now time.Time) error {
	lag, n := g.lag(now)
	if lag <= g.limit {
		return nil
	}
	return &submit.Rejection{Status: http.StatusServiceUnavailable, Outcome: "merge_lag",
		Reason: fmt.Sprintf("the log is behind: an event acknowledged %s ago is not integrated yet (%d waiting; limit %s, half the maximum merge delay); retry later",
			lag.Round(time.Second), n, g.limit),
		RetryAfter: max(time.Second, g.limit/4)}
}

// sweep forgets the events the log has integrated, among the oldest
// sweepBatch.
func (g *mergeGuard) sweep(ctx context.Context) error {
	g.mu.Lock()
	n := min(len(g.queue), sweepBatch)
	ids := make([][32]byte, n)
	for i := range n {
		ids[i] = g.queue[i].id
	}
	g.mu.Unlock()
	if n == 0 {
		return nil
	}
	done, err := g.integrated(ctx, ids)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Only add appends, so the first n are still the ones asked about.
	kept := g.queue[:0]
	for i, a := range g.queue {
		if i < n && done[a.id] {
			continue
		}
		kept = append(kept, a)
	}
	clear(g.queue[len(kept):])
	g.queue = kept
	return nil
}

// run sweeps every interval until ctx ends.
func (g *mergeGuard) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := g.sweep(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("couldn't check which acknowledged events are integrated", "err", err)
		}
	}
}
