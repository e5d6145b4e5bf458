package outbox

import (
	"context"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/gateway/store"
)

// The receipts of submitted items are found by following the log, as a
// monitor does, rather than by asking it about each item: every round reads
// the log's latest checkpoint (verified against the policy), reads the leaf
// hashes it added since the last round from the hash tiles (verified against
// that checkpoint; 256 leaves a tile), finds the leaves of the gateway's own
// items among them and builds each item's inclusion proof from the same
// tiles, kept in memory. A round costs one checkpoint and a few tiles however
// many items it finds, where asking costs the log a proof per item.
//
// Items the scan cannot find (logged before the cursor, as a resubmission
// the log deduplicated to its first index, or beyond the items a round
// reads) are asked for one by one once they have waited Config.AskAfter.

// cursorName names the store's cursor of this follower: the tree size up to
// which the log's leaves were scanned.
const cursorName = "receipts"

// follower is the receipt loop's state.
type follower struct {
	scanned uint64
	started bool
	waiting map[string]time.Time // event id -> when first seen unfound
}

// followRound runs one round; it returns how many receipts it stored.
func (o *Outbox) followRound(ctx context.Context, f *follower) int {
	// The checkpoint first, then the items: an item in the checkpoint was
	// accepted (so it is read as pending or submitted) before it was read.
	cp, err := o.cfg.Log.Checkpoint(ctx)
	if err != nil {
		o.cfg.Logger.Warn("outbox: couldn't read the log's checkpoint", "err", err)
		return 0
	}
	limit := 16 * o.cfg.Window
	submitted, err := o.cfg.Store.Next(ctx, store.Submitted, limit)
	if err != nil {
		o.cfg.Logger.Error("outbox: couldn't read submitted items", "err", err)
		return 0
	}
	pending, err := o.cfg.Store.Next(ctx, store.Pending, limit)
	if err != nil {
		o.cfg.Logger.Error("outbox: couldn't read pending items", "err", err)
		return 0
	}
	if !f.started {
		at, ok, err := o.cfg.Store.Cursor(ctx, cursorName)
		if err != nil {
			o.cfg.Logger.Error("outbox: couldn't read the receipts cursor", "err", err)
			return 0
		}
		switch {
		case ok:
			f.scanned = at
		case len(submitted) == 0 && len(pending) == 0:
			// Nothing of ours can be in the log yet.
			f.scanned = cp.Size
		}
		f.started, f.waiting = true, map[string]time.Time{}
	}
	if f.scanned > cp.Size {
		// The log's tree is smaller than one already scanned: a log that
		// lies or lost data. Nothing is stored; the monitors see it too.
		o.cfg.Logger.Error("outbox: the log's checkpoint is older than one seen before", "size", cp.Size, "scanned", f.scanned)
		return 0
	}
	mine := make(map[c2sp.Hash]store.Work, len(submitted)+len(pending))
	for _, w := range append(submitted, pending...) {
		mine[c2sp.LeafHash(w.Envelope)] = w
	}
	found := map[string]bool{}
	for start := f.scanned; start < cp.Size && ctx.Err() == nil; {
		end := min(cp.Size, start+16*c2sp.TileWidth)
		leaves, err := o.cfg.Log.LeafHashes(ctx, start, end, cp)
		if err != nil {
			o.cfg.Logger.Warn("outbox: couldn't read the log's leaves", "from", start, "to", end, "err", err)
			break
		}
		var ours []store.Work
		var at []uint64
		for i, h := range leaves {
			if w, ok := mine[h]; ok {
				ours, at = append(ours, w), append(at, start+uint64(i))
			}
		}
		got, ok := o.proveFromTiles(ctx, ours, at, cp)
		if !ok || !o.storeReceipts(ctx, got) {
			break
		}
		for _, r := range got {
			found[r.EventID] = true
		}
		f.scanned, start = end, end
	}
	if err := o.cfg.Store.SetCursor(ctx, cursorName, f.scanned); err != nil {
		o.cfg.Logger.Error("outbox: couldn't store the receipts cursor", "err", err)
	}
	return len(found) + o.askForStragglers(ctx, f, submitted, found)
}

// proveFromTiles builds the receipts of items, the leaves at indexes of cp,
// from the log's tiles, and returns those that verify as any holder of the
// receipt would verify them; ok is false if the tiles could not be read.
func (o *Outbox) proveFromTiles(ctx context.Context, items []store.Work, indexes []uint64, cp *client.Checkpoint) (_ []store.Receipt, ok bool) {
	if len(items) == 0 {
		return nil, true
	}
	proofs, err := o.cfg.Log.InclusionProofs(ctx, indexes, cp)
	if err != nil {
		o.cfg.Logger.Warn("outbox: couldn't build receipts from the log's tiles", "items", len(items), "err", err)
		return nil, false
	}
	var out []store.Receipt
	for i, w := range items {
		p := &c2sp.Proof{Index: indexes[i], Hashes: proofs[i], Checkpoint: cp.Bytes}
		if err := o.verifier.verify(p, w.Envelope); err != nil {
			o.cfg.Logger.Error("outbox: a receipt built from the log's tiles does not verify; not stored", "event", w.EventID, "err", err)
			continue
		}
		out = append(out, store.Receipt{EventID: w.EventID, Index: indexes[i], Proof: p.Marshal()})
	}
	return out, true
}

// storeReceipts stores verified receipts; it reports success.
func (o *Outbox) storeReceipts(ctx context.Context, rs []store.Receipt) bool {
	if err := o.cfg.Store.MarkLoggedBatch(ctx, rs); err != nil {
		o.cfg.Logger.Error("outbox: couldn't store receipts", "items", len(rs), "err", err)
		return false
	}
	if o.cfg.Metrics.Logged != nil {
		for range rs {
			o.cfg.Metrics.Logged()
		}
	}
	return true
}

// askForStragglers asks the log for the receipts of submitted items the
// scans have not found for Config.AskAfter, 32 at a time, and stores those that
// verify; it returns how many.
func (o *Outbox) askForStragglers(ctx context.Context, f *follower, submitted []store.Work, found map[string]bool) int {
	now := time.Now()
	seen := make(map[string]bool, len(submitted))
	var due []store.Work
	for _, w := range submitted {
		if found[w.EventID] {
			continue
		}
		seen[w.EventID] = true
		first, ok := f.waiting[w.EventID]
		if !ok {
			f.waiting[w.EventID] = now
		} else if now.Sub(first) >= o.cfg.AskAfter && len(due) < 32 {
			due = append(due, w)
		}
	}
	for id := range f.waiting {
		if !seen[id] {
			delete(f.waiting, id)
		}
	}
	got := o.receiptsOf(ctx, due)
	if !o.storeReceipts(ctx, got) {
		return 0
	}
	for _, r := range got {
		delete(f.waiting, r.EventID)
	}
	return len(got)
}
