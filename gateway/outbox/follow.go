package outbox

import (
	"context"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/gateway/store"
)

// The receipts of submitted items are found by following the log, as a
// monitor does, rather than by asking it about each item: every round reads
// the log's latest checkpoint (verified against the policy), reads the leaf
// hashes it added since the last round from the hash tiles (verified against
// that checkpoint; 256 leaves a tile), finds the leaves the outbox awaits
// among them and proves them all from the same tiles. A round costs one
// checkpoint and a few tiles however many items it finds, where asking costs
// the log a proof per item.
//
// The outbox awaits an item from just before it first sends it (so a leaf in
// any checkpoint read later is recognised) until its receipt is stored; after
// a restart it awaits every item the store has as submitted. An item the
// scans do not find within Config.AskAfter (logged before the cursor, as a
// resubmission the log deduplicated to its first index) is asked for by its
// event id.

// cursorName names the store's cursor of this follower: the tree size up to
// which the log's leaves were scanned.
const cursorName = "receipts"

// awaited is an item submitted and not yet known to be logged.
type awaited struct {
	eventID string
	since   time.Time
}

// awaiting is the set of awaited items, by leaf hash.
type awaiting struct {
	mu    sync.Mutex
	items map[c2sp.Hash]awaited
	now   func() time.Time // time.Now; tests set a clock of their own
}

func (a *awaiting) add(leaf c2sp.Hash, eventID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.items[leaf]; !ok {
		a.items[leaf] = awaited{eventID: eventID, since: a.now()}
	}
}

func (a *awaiting) remove(leaf c2sp.Hash) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.items, leaf)
}

func (a *awaiting) get(leaf c2sp.Hash) (awaited, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.items[leaf]
	return w, ok
}

// due returns up to n items awaited for longer than d.
func (a *awaiting) due(d time.Duration, n int) map[c2sp.Hash]awaited {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[c2sp.Hash]awaited{}
	for leaf, w := range a.items {
		if len(out) == n {
			break
		}
		if a.now().Sub(w.since) >= d {
			out[leaf] = w
		}
	}
	return out
}

// touch restarts an item's wait (after the log was asked for it).
func (a *awaiting) touch(leaf c2sp.Hash) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.items[leaf]; ok {
		w.since = a.now()
		a.items[leaf] = w
	}
}

func (a *awaiting) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.items)
}

// follower is the receipt loop's state.
type follower struct {
	scanned uint64
	started bool
	stored  bool // the cursor is stored at scanned
}

// start loads the cursor and the items submitted before a restart.
func (o *Outbox) start(ctx context.Context, f *follower, cp *client.Checkpoint) bool {
	var after int64
	for {
		page, err := o.cfg.Store.Next(ctx, store.Submitted, after, 1024)
		if err != nil {
			o.cfg.Logger.Error("outbox: couldn't read submitted items", "err", err)
			return false
		}
		for _, w := range page {
			o.awaiting.add(c2sp.LeafHash(w.Envelope), w.EventID)
			after = w.Seq
		}
		if len(page) < 1024 {
			break
		}
	}
	at, ok, err := o.cfg.Store.Cursor(ctx, cursorName)
	if err != nil {
		o.cfg.Logger.Error("outbox: couldn't read the receipts cursor", "err", err)
		return false
	}
	switch {
	case ok:
		f.scanned = at
	case o.awaiting.len() == 0:
		// Nothing of the gateway's is in the log before this checkpoint
		// but what the store has as logged or pending (which is
		// submitted again and, if the log had it, asked for later).
		f.scanned = cp.Size
	}
	f.started = true
	return true
}

// followRound runs one round; it returns how many receipts it stored.
func (o *Outbox) followRound(ctx context.Context, f *follower) int {
	cp, err := o.cfg.Log.Checkpoint(ctx)
	if err != nil {
		o.cfg.Logger.Warn("outbox: couldn't read the log's checkpoint", "err", err)
		return 0
	}
	if !f.started && !o.start(ctx, f, cp) {
		return 0
	}
	if f.scanned > cp.Size {
		// The log's tree is smaller than one already scanned: a log that
		// lies or lost data. Nothing is stored; the monitors see it too.
		o.cfg.Logger.Error("outbox: the log's checkpoint is older than one seen before", "size", cp.Size, "scanned", f.scanned)
		return 0
	}
	stored, from := 0, f.scanned
	for start := f.scanned; start < cp.Size && ctx.Err() == nil; {
		end := min(cp.Size, start+16*c2sp.TileWidth)
		leaves, err := o.cfg.Log.LeafHashes(ctx, start, end, cp)
		if err != nil {
			o.cfg.Logger.Warn("outbox: couldn't read the log's leaves", "from", start, "to", end, "err", err)
			break
		}
		var ours []awaited
		var at []uint64
		var hashes []c2sp.Hash
		for i, h := range leaves {
			if w, ok := o.awaiting.get(h); ok {
				ours, at, hashes = append(ours, w), append(at, start+uint64(i)), append(hashes, h)
			}
		}
		got, ok := o.proveFromTiles(ctx, ours, at, hashes, cp)
		if !ok || !o.storeReceipts(ctx, got, hashes) {
			break
		}
		stored += len(got)
		f.scanned, start = end, end
	}
	if f.scanned != from || !f.stored {
		if err := o.cfg.Store.SetCursor(ctx, cursorName, f.scanned); err != nil {
			o.cfg.Logger.Error("outbox: couldn't store the receipts cursor", "err", err)
		} else {
			f.stored = true
		}
	}
	return stored + o.askForStragglers(ctx)
}

// proveFromTiles builds the receipts of items, the leaves at indexes of cp
// with the given leaf hashes, from the log's tiles, and returns those that
// verify as any holder of the receipt would verify them; ok is false if
// the tiles could not be read.
func (o *Outbox) proveFromTiles(ctx context.Context, items []awaited, indexes []uint64, leaves []c2sp.Hash, cp *client.Checkpoint) (_ []store.Receipt, ok bool) {
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
		if err := o.verifier.verify(p, leaves[i]); err != nil {
			o.cfg.Logger.Error("outbox: a receipt built from the log's tiles does not verify; not stored", "event", w.eventID, "err", err)
			continue
		}
		out = append(out, store.Receipt{EventID: w.eventID, Index: indexes[i], Proof: p.Marshal(), Checkpoint: cp.Bytes})
	}
	return out, true
}

// storeReceipts stores verified receipts and stops awaiting their items
// (leaves are their leaf hashes, or a superset); it reports success.
func (o *Outbox) storeReceipts(ctx context.Context, rs []store.Receipt, leaves []c2sp.Hash) bool {
	if err := o.cfg.Store.MarkLoggedBatch(ctx, rs); err != nil {
		o.cfg.Logger.Error("outbox: couldn't store receipts", "items", len(rs), "err", err)
		return false
	}
	logged := make(map[string]bool, len(rs))
	for _, r := range rs {
		logged[r.EventID] = true
	}
	for _, h := range leaves {
		if w, ok := o.awaiting.get(h); ok && logged[w.eventID] {
			o.awaiting.remove(h)
		}
	}
	if o.cfg.Metrics.Logged != nil {
		for range rs {
			o.cfg.Metrics.Logged()
		}
	}
	return true
}

// askForStragglers asks the log for the receipts of up to 32 items the
// scans have not found for Config.AskAfter, and stores those that verify;
// it returns how many. An item the log has no receipt for yet waits
// AskAfter again before it is asked for again, so that a log that publishes
// late is not also asked for every item a round.
func (o *Outbox) askForStragglers(ctx context.Context) int {
	due := o.awaiting.due(o.cfg.AskAfter, 32)
	if len(due) == 0 {
		return 0
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []store.Receipt
	var leaves []c2sp.Hash
	for leaf, w := range due {
		leaves = append(leaves, leaf)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, ok := o.receiptOne(ctx, w.eventID, leaf); ok {
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, leaf := range leaves {
		o.awaiting.touch(leaf)
	}
	if !o.storeReceipts(ctx, got, leaves) {
		return 0
	}
	return len(got)
}
