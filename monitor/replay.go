package monitor

import (
	"context"
	"fmt"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/tlogclient"
)

// bundle is one fetched and checked entry bundle.
type bundle struct {
	index   uint64
	leaves  []c2sp.Hash
	results []entrycheck.Result
	err     error
}

// replayRange appends entries [from, to) to the tree and feeds them to the
// rules. Bundles are fetched and their entries checked by up to Fetchers
// goroutines; leaves go into the tree and the rules in log order.
func (m *Monitor) replayRange(ctx context.Context, from, to uint64, emit func([]finding.Finding)) error {
	if from >= to {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	first, last := from/c2sp.TileWidth, (to-1)/c2sp.TileWidth
	futures := make(chan chan bundle, m.cfg.Fetchers)
	go func() {
		defer close(futures)
		for b := first; b <= last; b++ {
			f := make(chan bundle, 1)
			select {
			case futures <- f:
			case <-ctx.Done():
				return
			}
			go func(b uint64) { f <- m.fetchBundle(ctx, b, from, to) }(b)
		}
	}()
	for f := range futures {
		b := <-f
		if b.err != nil {
			return b.err
		}
		for i, leaf := range b.leaves {
			m.tree.Append(leaf)
			m.promises.see(leaf, m.tree.Size()-1)
			r := b.results[i]
			if len(r.Findings) > 0 {
				emit(r.Findings)
			}
			if r.Entry != nil {
				if fs := m.engine.Observe(r.Entry); len(fs) > 0 {
					emit(fs)
				}
				m.verdicts = append(m.verdicts, m.engine.Verdicts()...)
			}
		}
	}
	return nil
}

// fetchBundle fetches bundle b, keeps its entries within [from, to) and
// checks each.
func (m *Monitor) fetchBundle(ctx context.Context, b, from, to uint64) bundle {
	start := b * c2sp.TileWidth
	width := int(min(to-start, c2sp.TileWidth))
	entries, err := m.client.Bundle(ctx, b, width)
	if err != nil {
		if tlogclient.IsFetchError(err) {
			m.m.errors.WithLabelValues("fetch_bundle").Inc()
		} else {
			m.record(ctx, finding.Finding{Rule: RuleBadBundle, Severity: finding.Critical, Index: int64(start),
				Detail: err.Error()})
		}
		return bundle{err: fmt.Errorf("couldn't read entries %d to %d: %w", start, start+uint64(width), err)}
	}
	skip := 0
	if from > start {
		skip = int(from - start)
	}
	out := bundle{index: b, leaves: make([]c2sp.Hash, 0, width-skip), results: make([]entrycheck.Result, 0, width-skip)}
	for i := skip; i < width; i++ {
		out.leaves = append(out.leaves, c2sp.LeafHash(entries[i]))
		out.results = append(out.results, m.checker.Check(start+uint64(i), entries[i]))
	}
	return out
}
