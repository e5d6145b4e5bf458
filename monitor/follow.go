package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/monitor/tlogclient"
)

// Rule names of the findings about the log itself.
const (
	RuleBadCheckpoint       = "bad_checkpoint"
	RuleQuorumNotMet        = "quorum_not_met"
	RuleBadTiles            = "bad_tiles"
	RuleBadBundle           = "bad_entry_bundle"
	RuleEntriesMismatch     = "entries_mismatch"
	RuleSplitView           = "split_view"
	RuleWitnessEquivocation = "witness_equivocation"
)

// Step runs one follow round: fetch and verify the log's checkpoint, prove
// it consistent with the last confirmed one, replay the new entries, check
// the root, commit, then check pending checkpoints the replay has reached.
func (m *Monitor) Step(ctx context.Context) error {
	m.round.Lock()
	defer m.round.Unlock()
	signed, err := m.client.Checkpoint(ctx)
	if err != nil {
		m.m.errors.WithLabelValues("fetch_checkpoint").Inc()
		if !tlogclient.IsFetchError(err) {
			m.record(ctx, finding.Finding{Rule: RuleBadCheckpoint, Severity: finding.Critical, Index: finding.NoIndex,
				Detail: "the log's /checkpoint: " + err.Error()})
		}
		return err
	}
	sc, quorum, _, err := m.Observe(ctx, signed, "log")
	if err != nil {
		m.record(ctx, finding.Finding{Rule: RuleBadCheckpoint, Severity: finding.Critical, Index: finding.NoIndex,
			Detail: "the log's /checkpoint: " + err.Error()})
		return err
	}
	if quorum != nil {
		m.record(ctx, finding.Finding{Rule: RuleQuorumNotMet, Severity: finding.High, Index: finding.NoIndex,
			Detail: fmt.Sprintf("the log serves a checkpoint of size %d without witness quorum: %v", sc.Size, quorum)})
		return quorum
	}
	old := m.Confirmed()
	oldSize := uint64(0)
	if old != nil {
		oldSize = old.Size
	}
	if sc.Size <= oldSize {
		return nil // older and equal checkpoints were checked by Observe
	}
	if old != nil && old.Size > 0 {
		if err := m.proveConsistent(ctx, old, sc); err != nil {
			return err
		}
	}
	start := time.Now()
	fs, err := m.replay(ctx, sc)
	if err != nil {
		// Start the next round from the durable state.
		if lerr := m.load(ctx); lerr != nil {
			return errors.Join(err, lerr)
		}
		return err
	}
	n := sc.Size - oldSize
	elapsed := time.Since(start)
	rate := float64(n) / elapsed.Seconds()
	m.m.rate.Set(rate)
	m.m.entries.Add(float64(n))
	m.m.treeSize.Set(float64(sc.Size))
	m.m.lastRound.SetToCurrentTime()
	m.countFindings(fs)
	m.log.Info("replayed", "from", oldSize, "to", sc.Size, "entries", n, "seconds", elapsed.Seconds(),
		"entries_per_second", int(rate), "findings", len(fs))
	m.checkPending(ctx)
	return nil
}

// proveConsistent checks that the new log checkpoint extends the confirmed
// one, with a consistency proof read from the new tree's tiles; an
// inconsistency becomes evidence.
func (m *Monitor) proveConsistent(ctx context.Context, old, cur *c2sp.SignedCheckpoint) error {
	p, err := c2sp.ConsistencyProofFromTiles(ctx, m.client.Fetcher(), old.Size, cur.Size, cur.Hash)
	if err != nil {
		return m.tileError(ctx, err, cur.Size)
	}
	if err := c2sp.VerifyConsistency(old.Size, cur.Size, old.Hash, cur.Hash, p); err != nil {
		m.splitView(ctx, old.Bytes, cur.Bytes, cur)
		return fmt.Errorf("the log's checkpoint of size %d is inconsistent with the confirmed one of size %d", cur.Size, old.Size)
	}
	return nil
}

// tileError classifies an error reading tiles: unreachable (retry) or
// garbage (a finding).
func (m *Monitor) tileError(ctx context.Context, err error, size uint64) error {
	if tlogclient.IsFetchError(err) {
		m.m.errors.WithLabelValues("fetch_tile").Inc()
		return err
	}
	m.record(ctx, finding.Finding{Rule: RuleBadTiles, Severity: finding.Critical, Index: finding.NoIndex,
		Detail: fmt.Sprintf("hash tiles for tree size %d do not verify: %v", size, err)})
	return err
}

// replay downloads, verifies and replays entries up to sc.Size, checks the
// root and commits. On error nothing is committed.
func (m *Monitor) replay(ctx context.Context, sc *c2sp.SignedCheckpoint) ([]finding.Finding, error) {
	from := m.tree.Size()
	var fs []finding.Finding
	err := m.replayRange(ctx, from, sc.Size, func(fs2 []finding.Finding) { fs = append(fs, fs2...) })
	if err != nil {
		return nil, err
	}
	if root := m.tree.Root(); root != sc.Hash {
		m.record(ctx, finding.Finding{Rule: RuleEntriesMismatch, Severity: finding.Critical, Index: finding.NoIndex,
			Detail: fmt.Sprintf("entries %d to %d do not hash to the root of the log's checkpoint of size %d", from, sc.Size, sc.Size)})
		return nil, fmt.Errorf("replayed root %s differs from the checkpoint's %s at size %d", root, sc.Hash, sc.Size)
	}
	snap, err := m.engine.Snapshot()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for i := range fs {
		fs[i].Time = now
	}
	st := &store.State{Size: sc.Size, Hashes: m.tree.Hashes(), Checkpoint: sc.Bytes, Rules: snap}
	if err := m.cfg.Store.Commit(ctx, st, fs); err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		return nil, fmt.Errorf("couldn't commit the round to size %d: %w", sc.Size, err)
	}
	m.mu.Lock()
	m.confirmed = sc
	m.mu.Unlock()
	return fs, nil
}
