package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
)

// ErrSplitView is returned (wrapped, with the evidence id) by Pollinate when
// the pollinated checkpoint proves the log showed two inconsistent views.
var ErrSplitView = errors.New("split view")

// Verdicts of Pollinate.
const (
	VerdictConsistent   = "consistent"
	VerdictUnverifiable = "unverifiable"
)

// Pollinate checks a checkpoint a peer has seen against this witness's view:
// the cosigned state and, when the log's URL is known, the log's current tree
// as its tiles show it. A contradiction is recorded as split-view evidence and
// returned as ErrSplitView; otherwise the verdict says whether the checkpoint
// could be checked.
func (w *Witness) Pollinate(ctx context.Context, signed []byte) (string, error) {
	origin, _, _ := bytes.Cut(signed, []byte("\n"))
	l, ok := w.logs[string(origin)]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownOrigin, truncate(string(origin)))
	}
	p, err := c2sp.OpenCheckpoint(signed, l.Verifier)
	if err != nil {
		if errors.Is(err, c2sp.ErrNoLogSignature) {
			return "", ErrBadSignature
		}
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// Against our own state: equal sizes need equal roots.
	cur, err := w.store.Latest(ctx, l.Origin)
	if err != nil && !errors.Is(err, ErrNoState) {
		return "", err
	}
	if err == nil && cur.Size == p.Size {
		if cur.Root == p.Hash {
			return VerdictConsistent, nil
		}
		return "", w.splitView(ctx, l.Origin, "pollinate", &splitview.Evidence{First: cur.Note, Second: signed})
	}
	if l.URL == "" {
		return VerdictUnverifiable, nil
	}
	// Against the log's current tree: the pollinated size must have the
	// same root in it.
	fetch := fetcher(http.DefaultClient, l.URL)
	latest, err := fetch(ctx, "checkpoint")
	if err != nil {
		return VerdictUnverifiable, nil
	}
	lc, err := c2sp.OpenCheckpoint(latest, l.Verifier)
	if err != nil {
		return VerdictUnverifiable, nil
	}
	switch {
	case lc.Size == p.Size:
		if lc.Hash == p.Hash {
			return VerdictConsistent, nil
		}
		return "", w.splitView(ctx, l.Origin, "pollinate", &splitview.Evidence{First: signed, Second: latest})
	case p.Size > lc.Size || p.Size == 0:
		return VerdictUnverifiable, nil
	}
	proof, err := splitview.ProofFromTiles(ctx, fetch, p.Size, lc.Size, lc.Hash)
	if err != nil {
		return VerdictUnverifiable, nil
	}
	oldRoot, _, err := c2sp.ConsistencyRoots(p.Size, lc.Size, proof)
	if err != nil {
		return VerdictUnverifiable, nil
	}
	if oldRoot == p.Hash {
		return VerdictConsistent, nil
	}
	return "", w.splitView(ctx, l.Origin, "pollinate", &splitview.Evidence{First: signed, Second: latest, Proof: proof})
}

func (w *Witness) splitView(ctx context.Context, origin, source string, e *splitview.Evidence) error {
	id, err := w.recordEvidence(ctx, origin, source, e)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: evidence %s", ErrSplitView, id)
}

// RunGossip pushes this witness's latest checkpoint of every log to each
// peer's /pollinate endpoint every interval until ctx is done.
func (w *Witness) RunGossip(ctx context.Context, client *http.Client, peers []string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		states, err := w.store.Origins(ctx)
		if err != nil {
			continue
		}
		for _, st := range states {
			for _, peer := range peers {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, peer+"/pollinate", bytes.NewReader(st.Note))
				if err != nil {
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					w.log.Debug("gossip failed", "peer", peer, "err", err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusConflict {
					w.log.Warn("peer reports a split view for a checkpoint we cosigned", "peer", peer)
				}
			}
		}
	}
}
