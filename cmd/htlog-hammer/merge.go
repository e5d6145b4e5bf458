package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/event"
)

// mergeWatch measures, for a sample of the events submitted asynchronously,
// the time from submission until the log publishes a checkpoint that
// includes them: what an async submitter waits before it can fetch its
// receipt. htlog-server publishes only checkpoints that meet the witness
// policy, so that checkpoint is cosigned. It polls /checkpoint (so its
// resolution is the poll interval) and, after the run, asks /event/<id>
// where each sampled event is.
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
	id string
	at time.Time // when it was sent
}

type seenSize struct {
	size uint64
	at   time.Time
}

// note records request i, sent at start and accepted, if it is sampled.
func (w *mergeWatch) note(i int, envelope []byte, start time.Time) {
	if w == nil || w.every <= 0 || i%w.every != 0 {
		return
	}
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		return
	}
	w.mu.Lock()
	w.sent = append(w.sent, sample{id: env.ID(), at: start})
	w.mu.Unlock()
}

// run polls the log's checkpoint until ctx ends.
func (w *mergeWatch) run(ctx context.Context) {
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for {
		if size, err := w.checkpointSize(ctx); err == nil {
			now := time.Now()
			w.mu.Lock()
			if len(w.seen) == 0 || size > w.seen[len(w.seen)-1].size {
				w.seen = append(w.seen, seenSize{size, now})
			}
			w.mu.Unlock()
		}
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
	lines := bytes.SplitN(body, []byte("\n"), 3)
	if len(lines) < 3 {
		return 0, fmt.Errorf("not a checkpoint: %q", body)
	}
	return strconv.ParseUint(string(lines[1]), 10, 64)
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
// returns the time from each event's submission to the first checkpoint
// seen that includes it, and how many samples it could not place.
func (w *mergeWatch) latencies(ctx context.Context) ([]time.Duration, int) {
	w.mu.Lock()
	sent := slices.Clone(w.sent)
	w.mu.Unlock()
	indexes := make([]int64, len(sent))
	for i := range indexes {
		indexes[i] = -1
	}
	// An accepted event is known to /event/<id> once the log has integrated
	// it, which under load is later than the end of the run: ask again for
	// the ones not found yet until ctx ends.
	log := &client.Client{URL: w.url, HTTP: w.client}
	var maxIndex int64 = -1
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
