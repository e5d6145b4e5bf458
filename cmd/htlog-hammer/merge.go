package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

// mergeWatch measures, for a sample of the events submitted asynchronously,
// the time from their acknowledgement until the log publishes a checkpoint
// that includes them: what an async submitter waits before it can fetch its
// receipt. htlog-server publishes only checkpoints that meet the witness
// policy, so that checkpoint is cosigned. It polls /checkpoint (so its
// resolution is the poll interval) and, after the run, asks /event/<id>
// where each sampled htlog event is (a Tessera add answers with its index).
// The sizes it saw also give the published rate: how fast the published
// checkpoint grew while the load ran.
type mergeWatch struct {
	url    string
	client *http.Client
	every  int           // sample one accepted event in every
	poll   time.Duration // /checkpoint poll interval

	mu   sync.Mutex
	sent []sample   // sampled accepted events
	seen []seenSize // checkpoint sizes, increasing, when first seen
}

type sample struct {
	id    string    // htlog event id, to look its index up
	index int64     // its index, if the add's answer gave it, else -1
	at    time.Time // when it was acknowledged
}

type seenSize struct {
	size uint64
	at   time.Time
}

// sampled reports whether request i is one of the sample.
func (w *mergeWatch) sampled(i int) bool {
	return w != nil && w.every > 0 && i%w.every == 0
}

// note records htlog request i, acknowledged at at, if it is sampled.
func (w *mergeWatch) note(i int, envelope []byte, at time.Time) {
	if !w.sampled(i) {
		return
	}
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		return
	}
	w.mu.Lock()
	w.sent = append(w.sent, sample{id: env.ID(), index: -1, at: at})
	w.mu.Unlock()
}

// noteIndex records request i, acknowledged at at with its index in the
// log, if it is sampled.
func (w *mergeWatch) noteIndex(i int, index uint64, at time.Time) {
	if !w.sampled(i) {
		return
	}
	w.mu.Lock()
	w.sent = append(w.sent, sample{index: int64(index), at: at})
	w.mu.Unlock()
}

// observe reads the checkpoint once and records its size if it grew.
func (w *mergeWatch) observe(ctx context.Context) {
	size, err := w.checkpointSize(ctx)
	if err != nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	if len(w.seen) == 0 || size > w.seen[len(w.seen)-1].size {
		w.seen = append(w.seen, seenSize{size, now})
	}
	w.mu.Unlock()
}

// sizeAt is the largest checkpoint size seen by t, and whether one was.
func (w *mergeWatch) sizeAt(t time.Time) (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k, _ := slices.BinarySearchFunc(w.seen, t, func(c seenSize, t time.Time) int {
		if c.at.After(t) {
			return 1
		}
		return -1
	})
	if k == 0 {
		return 0, false
	}
	return w.seen[k-1].size, true
}

// published is how far the published checkpoint grew from start to end
// (the sizes last seen by then), and that growth per second.
func (w *mergeWatch) published(start, end time.Time) (from, to uint64, perSecond float64) {
	from, ok1 := w.sizeAt(start)
	to, ok2 := w.sizeAt(end)
	if !ok1 || !ok2 || !end.After(start) || to < from {
		return from, to, 0
	}
	return from, to, float64(to-from) / end.Sub(start).Seconds()
}

// run polls the log's checkpoint until ctx ends.
func (w *mergeWatch) run(ctx context.Context) {
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for {
		w.observe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *mergeWatch) checkpointSize(ctx context.Context) (uint64, error) {
	body, err := w.get(ctx, "/checkpoint")
	if err != nil {
		return 0, err
	}
	return checkpointSizeOf(body)
}

func (w *mergeWatch) get(ctx context.Context, path string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.url+path, nil)
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return body, nil
}

// latencies finds each sampled event's index (asking again for those the
// log has not integrated yet) and waits (while run keeps polling) until a
// checkpoint covers them all, or until ctx ends; it
// returns the time from each event's acknowledgement to the first checkpoint
// seen that includes it, and how many samples it could not place.
func (w *mergeWatch) latencies(ctx context.Context) ([]time.Duration, int) {
	w.mu.Lock()
	sent := slices.Clone(w.sent)
	w.mu.Unlock()
	indexes := make([]int64, len(sent))
	var maxIndex int64 = -1
	for i, s := range sent {
		indexes[i] = s.index
		maxIndex = max(maxIndex, s.index)
	}
	// An accepted event is known to /event/<id> once the log has integrated
	// it, which under load is later than the end of the run: ask again for
	// the ones not found yet until ctx ends.
	log := &client.Client{URL: w.url, HTTP: w.client}
	for {
		left := 0
		for i, s := range sent {
			if indexes[i] >= 0 {
				continue
			}
			if idx, err := log.EventIndex(ctx, s.id); err == nil {
				indexes[i], maxIndex = int64(idx), max(maxIndex, int64(idx))
			} else {
				left++
			}
		}
		if left == 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * w.poll)
	}
	for {
		w.mu.Lock()
		done := len(w.seen) > 0 && int64(w.seen[len(w.seen)-1].size) > maxIndex
		w.mu.Unlock()
		if done || ctx.Err() != nil {
			break
		}
		time.Sleep(w.poll)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	missed := 0
	for i, s := range sent {
		k := -1
		if indexes[i] >= 0 {
			k, _ = slices.BinarySearchFunc(w.seen, uint64(indexes[i])+1, func(c seenSize, size uint64) int {
				if c.size < size {
					return -1
				}
				if c.size > size {
					return 1
				}
				return 0
			})
		}
		if k < 0 || k >= len(w.seen) {
			missed++
			continue
		}
		out = append(out, max(0, w.seen[k].at.Sub(s.at)))
	}
	return out, missed
}
