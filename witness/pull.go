package witness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
)

// PullOnce fetches the log's latest checkpoint and, if it is newer than the
// witness's state, computes the consistency proof from the log's tiles and
// runs it through AddCheckpoint, the same state machine that serves pushes.
// A checkpoint whose tree (as its own tiles show) contradicts what the
// witness cosigned is recorded as split-view evidence.
func (w *Witness) PullOnce(ctx context.Context, client *http.Client, origin string) error {
	l, ok := w.logs[origin]
	if !ok || l.URL == "" {
		return fmt.Errorf("%w: %q has no URL to pull from", ErrUnknownOrigin, origin)
	}
	fetch := fetcher(client, l.URL)
	signed, err := fetch(ctx, "checkpoint")
	if err != nil {
		return err
	}
	sc, err := c2sp.OpenCheckpoint(signed, l.Verifier)
	if err != nil {
		return fmt.Errorf("log served a checkpoint that does not verify: %w", err)
	}
	cur, err := w.store.Latest(ctx, origin)
	switch {
	case errors.Is(err, ErrNoState):
		cur = State{Root: c2sp.EmptyRoot()}
	case err != nil:
		return err
	case sc.Size < cur.Size:
		return fmt.Errorf("log served checkpoint size %d, older than the cosigned %d", sc.Size, cur.Size)
	case sc.Size == cur.Size && sc.Hash == cur.Root:
		return nil
	}
	var proof []c2sp.Hash
	if cur.Size > 0 && cur.Size < sc.Size {
		if proof, err = c2sp.ConsistencyProofFromTiles(ctx, fetch, cur.Size, sc.Size, sc.Hash); err != nil {
			return err
		}
	}
	req := c2sp.AddCheckpointRequest{OldSize: cur.Size, Proof: proof, Checkpoint: signed}
	_, err = w.AddCheckpoint(ctx, req.Marshal())
	if errors.Is(err, ErrInconsistent) && cur.Note != nil && cur.Size < sc.Size {
		// The log's own tiles lead to a tree that does not contain what we cosigned.
		if p, perr := splitview.ProofFromTiles(ctx, fetch, cur.Size, sc.Size, sc.Hash); perr == nil {
			w.recordEvidence(ctx, origin, "pull "+l.URL, &splitview.Evidence{First: cur.Note, Second: signed, Proof: p})
		}
	}
	return err
}

// RunPull pulls every log with a URL every interval until ctx is done.
func (w *Witness) RunPull(ctx context.Context, client *http.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for origin, l := range w.logs {
			if l.URL == "" {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, interval+10*time.Second)
			err := w.PullOnce(cctx, client, origin)
			cancel()
			outcome := "ok"
			if err != nil {
				outcome = "error"
				w.log.Warn("pull failed", "origin", origin, "err", err)
			}
			if w.metrics != nil {
				w.metrics.pulls.WithLabelValues(origin, outcome).Inc()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
