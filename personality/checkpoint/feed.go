package checkpoint

import (
	"context"
	"fmt"

	"github.com/htlog/htlog/personality/tiles"
	"golang.org/x/sync/errgroup"
)

// Feeding bounds: one AddSequenced call carries at most this many leaves
// and (past the first leaf) this many bytes, under gRPC's 4 MiB message
// limit; this many calls run at once.
const (
	maxFeedLeaves   = 1000
	maxFeedBytes    = 2 << 20
	maxFeedInFlight = 4
)

// FeedOnce stores the integrated leaves Trillian lacks in Trillian, in
// order, and returns how many Trillian holds. After a (re)start it begins
// at Trillian's integrated size: leaves Trillian already stored are
// answered as such and stored once.
func (p *Publisher) FeedOnce(ctx context.Context) (uint64, error) {
	p.fmu.Lock()
	defer p.fmu.Unlock()
	if !p.fedKnown {
		r, err := p.cfg.Log.LatestRoot(ctx)
		if err != nil {
			return 0, fmt.Errorf("couldn't read Trillian's root: %w", err)
		}
		p.fed, p.fedKnown = r.Size, true
		p.fedNow.Store(p.fed)
	}
	integrated, _, err := p.cfg.Store.Size(ctx)
	if err != nil {
		return p.fed, err
	}
	for p.fed < integrated {
		// Up to maxFeedInFlight calls at once on consecutive ranges: each
		// is a transaction in Trillian, and their commits overlap.
		leaves, ids, err := p.cfg.Store.EntriesWithIDs(ctx, p.fed, min(integrated-p.fed, maxFeedLeaves*maxFeedInFlight))
		if err != nil {
			return p.fed, err
		}
		if len(leaves) == 0 {
			return p.fed, fmt.Errorf("entry %d is integrated but missing", p.fed)
		}
		var g errgroup.Group
		start := p.fed
		for len(leaves) > 0 {
			n, bytes := 0, 0
			for n < len(leaves) && n < maxFeedLeaves && (n == 0 || bytes+len(leaves[n]) <= maxFeedBytes) {
				bytes += len(leaves[n])
				n++
			}
			at, l, id := start, leaves[:n], ids[:n]
			g.Go(func() error {
				if err := p.cfg.Log.AddSequenced(ctx, at, l, id); err != nil {
					return fmt.Errorf("couldn't store leaves from %d in Trillian: %w", at, err)
				}
				return nil
			})
			start, leaves, ids = start+uint64(n), leaves[n:], ids[n:]
		}
		if err := g.Wait(); err != nil {
			return p.fed, err // the next call stores again what did go in
		}
		p.fed = start
		p.fedNow.Store(p.fed)
	}
	return p.fed, nil
}

// fedSize is how many leaves Trillian holds, as last fed (read without
// waiting for a feed in progress).
func (p *Publisher) fedSize() uint64 { return p.fedNow.Load() }

// forgetFed makes the next FeedOnce start again from Trillian's size (after
// the lease was lost: another replica may have fed meanwhile).
func (p *Publisher) forgetFed() {
	p.fmu.Lock()
	p.fedKnown = false
	p.fmu.Unlock()
}

// ImportLegacyOnce appends to the log the leaves the legacy LOG tree has
// sequenced beyond those htlog holds (events queued there before the
// upgrade), deduplicated like any submission, and returns how many of the
// legacy tree's leaves htlog now holds. Without a legacy tree it does
// nothing.
func (p *Publisher) ImportLegacyOnce(ctx context.Context) (uint64, error) {
	if p.cfg.Legacy == nil {
		return 0, nil
	}
	next, err := p.cfg.Store.LegacyNext(ctx)
	if err != nil {
		return 0, err
	}
	r, err := p.cfg.Legacy.LatestRoot(ctx)
	if err != nil {
		return next, fmt.Errorf("couldn't read the legacy tree's root: %w", err)
	}
	for next < r.Size {
		leaves, err := p.cfg.Legacy.Leaves(ctx, next, min(r.Size-next, maxFeedLeaves))
		if err != nil {
			return next, fmt.Errorf("couldn't read the legacy tree: %w", err)
		}
		if len(leaves) == 0 {
			return next, fmt.Errorf("the legacy tree has %d leaves but served none from %d", r.Size, next)
		}
		batch := make([]tiles.Pending, len(leaves))
		for i, l := range leaves {
			batch[i] = tiles.PendingOf(l.Value)
		}
		if _, err := p.cfg.Store.Append(ctx, batch); err != nil {
			return next, err
		}
		next += uint64(len(leaves))
		if err := p.cfg.Store.SetLegacyNext(ctx, next); err != nil {
			return next, err
		}
		p.cfg.Logger.Info("took in leaves the legacy tree sequenced", "legacy_next", next)
	}
	return next, nil
}
