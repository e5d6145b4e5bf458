package monitor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/htlog/htlog/c2sp"
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
// the root, commit, then check pending checkpoints the replay has reached
// and settle the inclusion promises it can.
func (m *Monitor) Step(ctx context.Context) error {
	m.round.Lock()
	defer m.round.Unlock()
	defer m.checkPromises(ctx) // every round, even when the log has not grown
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
	if sc.Size < oldSize || (sc.Size == oldSize && (m.tree.Size() >= sc.Size || sc.Hash != old.Hash)) {
		m.roundDone()
		return nil // older and equal checkpoints were checked by Observe
	}
	// (The confirmed one is replayed up to when a restart left the replay
	// behind it to bring the rules level: see Config.RulesEvery.)
	if old != nil && old.Size > 0 && sc.Size > oldSize {
		if err := m.proveConsistent(ctx, old, sc); err != nil {
			return err
		}
	}
	start, from := time.Now(), m.tree.Size()
	fs, err := m.replay(ctx, sc)
	if err != nil {
		// Start the next round from the durable state.
		if lerr := m.load(ctx); lerr != nil {
			return errors.Join(err, lerr)
		}
		return err
	}
	n := sc.Size - from
	elapsed := time.Since(start)
	rate := float64(n) / elapsed.Seconds()
	m.m.rate.Set(rate)
	m.m.entries.Add(float64(n))
	m.m.treeSize.Set(float64(sc.Size))
	m.m.lastRound.SetToCurrentTime()
	m.countFindings(fs)
	m.log.Info("replayed", "from", from, "to", sc.Size, "entries", n, "seconds", elapsed.Seconds(),
		"entries_per_second", int(rate), "findings", len(fs))
	m.checkPending(ctx)
	m.roundDone()
	return nil
}

// roundDone records the end of a follow round that reached the log's
// checkpoint.
func (m *Monitor) roundDone() {
	m.mu.Lock()
	m.lastRound = time.Now()
	m.mu.Unlock()
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
// root and commits. A long catch-up commits its progress every CommitEvery
// entries, once the partial tree is proven to be a prefix of sc (see
// commitProgress), so a crash resumes from there instead of from the start.
// On error nothing beyond the last commit is kept.
func (m *Monitor) replay(ctx context.Context, sc *c2sp.SignedCheckpoint) ([]finding.Finding, error) {
	start, first := time.Now(), m.tree.Size()
	if first > sc.Size {
		// A saved catch-up was proven to be a prefix of a larger signed tree;
		// the log now serves a smaller one, which checkPending checks once
		// confirmed. Wait for a checkpoint that reaches the position.
		return nil, fmt.Errorf("the log's checkpoint of size %d is behind the replay position %d", sc.Size, first)
	}
	var all []finding.Finding
	for {
		from := m.tree.Size()
		to := sc.Size
		if sc.Size-from > m.cfg.CommitEvery {
			to = (from + m.cfg.CommitEvery) / c2sp.TileWidth * c2sp.TileWidth // end on a bundle boundary
		}
		var fs []finding.Finding
		if err := m.replayRange(ctx, from, to, func(fs2 []finding.Finding) { fs = append(fs, fs2...) }); err != nil {
			return nil, err
		}
		if to == sc.Size {
			if err := m.commitFinal(ctx, sc, from, fs); err != nil {
				return nil, err
			}
			return append(all, fs...), nil
		}
		if err := m.commitProgress(ctx, sc, fs); err != nil {
			return nil, err
		}
		all = append(all, fs...)
		m.progress(first, to, sc.Size, start)
	}
}

// progress reports a long catch-up's position, speed and ETA.
func (m *Monitor) progress(first, pos, target uint64, start time.Time) {
	rate := float64(pos-first) / time.Since(start).Seconds()
	eta := time.Duration(float64(target-pos) / rate * float64(time.Second)).Round(time.Second)
	m.m.rate.Set(rate)
	m.m.position.Set(float64(pos))
	m.m.eta.Set(eta.Seconds())
	m.log.Info("catching up", "position", pos, "target", target, "entries_per_second", int(rate), "eta", eta.String())
}

// commitProgress commits a partial replay of sc: the compact range at the
// current size is first proven, with a consistency proof from the log's
// tiles, to be a prefix of sc's tree, so the saved range is one the log has
// signed for. The confirmed checkpoint stays the previous one.
func (m *Monitor) commitProgress(ctx context.Context, sc *c2sp.SignedCheckpoint, fs []finding.Finding) error {
	size, root := m.tree.Size(), m.tree.Root()
	p, err := c2sp.ConsistencyProofFromTiles(ctx, m.client.Fetcher(), size, sc.Size, sc.Hash)
	if err != nil {
		return m.tileError(ctx, err, sc.Size)
	}
	if err := c2sp.VerifyConsistency(size, sc.Size, root, sc.Hash, p); err != nil {
		m.record(ctx, finding.Finding{Rule: RuleEntriesMismatch, Severity: finding.Critical, Index: finding.NoIndex,
			Detail: fmt.Sprintf("entries 0 to %d do not hash to a prefix of the log's checkpoint of size %d", size, sc.Size)})
		return fmt.Errorf("the replayed tree of size %d is not a prefix of the checkpoint of size %d: %w", size, sc.Size, err)
	}
	var confirmed []byte
	if c := m.Confirmed(); c != nil {
		confirmed = c.Bytes
	}
	return m.commit(ctx, &store.State{Size: size, Checkpoint: confirmed}, fs)
}

// commitFinal checks the replayed root against sc and commits sc as
// confirmed.
func (m *Monitor) commitFinal(ctx context.Context, sc *c2sp.SignedCheckpoint, from uint64, fs []finding.Finding) error {
	if root := m.tree.Root(); root != sc.Hash {
		m.record(ctx, finding.Finding{Rule: RuleEntriesMismatch, Severity: finding.Critical, Index: finding.NoIndex,
			Detail: fmt.Sprintf("entries %d to %d do not hash to the root of the log's checkpoint of size %d", from, sc.Size, sc.Size)})
		return fmt.Errorf("replayed root %s differs from the checkpoint's %s at size %d", root, sc.Hash, sc.Size)
	}
	if err := m.commit(ctx, &store.State{Size: sc.Size, Checkpoint: sc.Bytes}, fs); err != nil {
		return err
	}
	m.mu.Lock()
	m.confirmed = sc
	m.mu.Unlock()
	m.m.position.Set(float64(sc.Size))
	m.m.eta.Set(0)
	return nil
}

// commit saves st, completed with the compact range and, when due (see
// Config.RulesEvery), the rules' state, together with fs.
func (m *Monitor) commit(ctx context.Context, st *store.State, fs []finding.Finding) error {
	now := time.Now().UTC()
	for i := range fs {
		fs[i].Time = now
	}
	st.Hashes = m.tree.Hashes()
	size := m.tree.Size()
	saveRules := m.engine.Pending() < m.cfg.RulesSmall || size-m.rulesSize >= m.cfg.RulesEvery ||
		now.Sub(m.rulesAt) >= m.cfg.RulesInterval
	if saveRules {
		rows, err := m.engine.Changes()
		if err != nil {
			return err
		}
		st.SaveRules, st.RulesSize, st.RulesHashes = true, size, st.Hashes
		st.Rules = make([]store.RulesRow, len(rows))
		for i, r := range rows {
			st.Rules[i] = store.RulesRow(r)
		}
	}
	st.Verdicts = m.verdicts
	if err := m.cfg.Store.Commit(ctx, st, fs); err != nil {
		// The engine still counts the rows as changed; the caller reloads
		// the state from the store anyway.
		m.m.errors.WithLabelValues("store").Inc()
		return fmt.Errorf("couldn't commit the replay to size %d: %w", st.Size, err)
	}
	m.verdicts = nil
	if saveRules {
		m.engine.Saved()
		m.rulesSize, m.rulesAt = size, now
	}
	return nil
}
