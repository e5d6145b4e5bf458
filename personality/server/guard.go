package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
)

// mergeGuard keeps the log's promises keepable. It reads from the database
// what has been acknowledged and is not yet in a published checkpoint, and
// refuses new submissions (503) while the oldest of it has waited more than
// limit, half the promised maximum merge delay by default. The state is the
// log's own sequence, so it is shared by every replica and survives a
// restart: a replica that has not read it yet refuses too.
type mergeGuard struct {
	limit   time.Duration
	waiting func(ctx context.Context) (tiles.Waiting, error)
	log     *slog.Logger

	mu   sync.Mutex
	read bool          // last is valid
	last tiles.Waiting // as read at lastAt
	at   time.Time
}

// lag is how long the oldest waiting event has waited, and how many wait,
// as of now (extrapolated from the last reading); ok is false before the
// first reading.
func (g *mergeGuard) lag(now time.Time) (lag time.Duration, n uint64, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.read {
		return 0, 0, false
	}
	if g.last.Count == 0 {
		return 0, 0, true
	}
	return time.Duration(g.last.AgeSeconds*float64(time.Second)) + now.Sub(g.at), g.last.Count, true
}

// admit refuses a new submission while the lag is over the limit, or not
// known yet.
func (g *mergeGuard) admit(now time.Time) error {
	lag, n, ok := g.lag(now)
	if !ok {
		return &submit.Rejection{Status: http.StatusServiceUnavailable, Outcome: "merge_lag",
			Reason: "the server is starting: it has not yet read what waits for publication; retry shortly", RetryAfter: time.Second}
	}
	if lag <= g.limit {
		return nil
	}
	return &submit.Rejection{Status: http.StatusServiceUnavailable, Outcome: "merge_lag",
		Reason: fmt.Sprintf("the log is behind: an event acknowledged %s ago is not published yet (%d waiting; limit %s, half the maximum merge delay); retry later",
			lag.Round(time.Second), n, g.limit),
		RetryAfter: max(time.Second, g.limit/4)}
}

// sweep reads what waits.
func (g *mergeGuard) sweep(ctx context.Context, now time.Time) error {
	w, err := g.waiting(ctx)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.last, g.at, g.read = w, now, true
	g.mu.Unlock()
	return nil
}

// run sweeps at once and then every interval until ctx ends.
func (g *mergeGuard) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := g.sweep(ctx, time.Now()); err != nil && ctx.Err() == nil {
			g.log.Warn("couldn't read what waits for publication", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
