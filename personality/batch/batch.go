// Package batch groups concurrent submissions into one database
// transaction (group commit): the write path's acknowledgement point costs
// one transaction per batch, not one per event. While a batch is being
// written, the next one gathers; under a light load a batch is a single
// event and waits for nothing, under a heavy one it grows up to MaxBatch.
package batch

import (
	"context"
	"errors"

	"github.com/htlog/htlog/personality/tiles"
)

// Appender durably appends a batch of events in one transaction: on nil
// error every event has its index (a duplicate the earlier one's).
// *tiles.Store is the MariaDB implementation, *tiles.Memory the in-memory
// twin.
type Appender interface {
	Append(ctx context.Context, batch []tiles.Pending) ([]tiles.Appended, error)
}

// DefaultMaxBatch bounds a batch when Config.MaxBatch is zero.
const DefaultMaxBatch = 512

// Batcher appends events through an Appender in batches. It is safe for
// concurrent use; Run must be running.
type Batcher struct {
	appender Appender
	max      int
	in       chan request
}

type request struct {
	p    tiles.Pending
	done chan result
}

type result struct {
	a   tiles.Appended
	err error
}

// New returns a Batcher of at most maxBatch events a transaction
// (DefaultMaxBatch if zero).
func New(a Appender, maxBatch int) *Batcher {
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	return &Batcher{appender: a, max: maxBatch, in: make(chan request, maxBatch)}
}

// ErrStopped is returned by Add once Run has returned.
var ErrStopped = errors.New("the batcher has stopped")

// Add appends p with the next batch and returns where it is once that batch
// is durable. If ctx ends first, Add returns ctx's error and the event may
// or may not be appended: it is not acknowledged, and a retry is answered
// as a duplicate if it was.
func (b *Batcher) Add(ctx context.Context, p tiles.Pending) (tiles.Appended, error) {
	if err := ctx.Err(); err != nil {
		return tiles.Appended{}, err // ended already: never enqueued (select would pick either case)
	}
	r := request{p: p, done: make(chan result, 1)}
	select {
	case b.in <- r:
	case <-ctx.Done():
		return tiles.Appended{}, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.a, res.err
	case <-ctx.Done():
		return tiles.Appended{}, ctx.Err()
	}
}

// Run writes batches until ctx ends. The batch in flight when it ends is
// still written (with a background context), so no Add waits forever.
func (b *Batcher) Run(ctx context.Context) {
	batch := make([]request, 0, b.max)
	pending := make([]tiles.Pending, 0, b.max)
	for {
		batch, pending = batch[:0], pending[:0]
		select {
		case r := <-b.in:
			batch = append(batch, r)
		case <-ctx.Done():
			b.drain()
			return
		}
	gather:
		for len(batch) < b.max {
			select {
			case r := <-b.in:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		for _, r := range batch {
			pending = append(pending, r.p)
		}
		out, err := b.appender.Append(context.WithoutCancel(ctx), pending)
		if err == nil && len(out) != len(batch) {
			err = errors.New("the appender answered a different number of events")
		}
		for i, r := range batch {
			if err != nil {
				r.done <- result{err: err}
			} else {
				r.done <- result{a: out[i]}
			}
		}
	}
}

// drain answers whatever is queued after Run ends.
func (b *Batcher) drain() {
	for {
		select {
		case r := <-b.in:
			r.done <- result{err: ErrStopped}
		default:
			return
		}
	}
}
