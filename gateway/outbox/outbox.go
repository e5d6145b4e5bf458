// Package outbox submits the gateway's accepted items to the log and
// collects their receipts. It reads its work from the store, so an item
// accepted before a crash is submitted after it; the envelope (and so the
// event id) was fixed at acceptance, and the log deduplicates by event id,
// so a resubmission gets the original index: nothing is lost and nothing
// is logged twice.
//
// Order: items are taken oldest first in windows of consecutive items,
// submitted concurrently within a window; a window ends before a second
// item of a subject already in it (one patient, one package, one trial), so
// the items of one subject reach the log in the order they were accepted,
// and a window is acknowledged whole before the next starts. Failures
// (network, 429, 5xx) are retried with exponential backoff; a 4xx refusal
// is final and stored with the log's reason.
//
// Receipts: the outbox follows the log's checkpoints and tiles and builds
// its items' receipts from them (follow.go), verified before they are
// stored.
package outbox

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/gateway/store"
)

// Store is the part of the store the outbox uses.
type Store interface {
	Next(ctx context.Context, state int, afterSeq int64, limit int) ([]store.Work, error)
	Cursor(ctx context.Context, name string) (uint64, bool, error)
	SetCursor(ctx context.Context, name string, at uint64) error
	MarkSubmittedBatch(ctx context.Context, subs []store.Submission) error
	MarkLoggedBatch(ctx context.Context, rs []store.Receipt) error
	MarkRefused(ctx context.Context, eventID, reason string) error
	CountAttempt(ctx context.Context, eventID string) error
}

// Log is the part of the log client the outbox uses (client.Client, with
// a TileCache).
type Log interface {
	SubmitAsync(ctx context.Context, envelope []byte) (eventID string, promise []byte, err error)
	Receipt(ctx context.Context, eventID string) (*c2sp.Proof, error)
	Checkpoint(ctx context.Context) (*client.Checkpoint, error)
	LeafHashes(ctx context.Context, start, end uint64, cp *client.Checkpoint) ([]c2sp.Hash, error)
	InclusionProofs(ctx context.Context, indexes []uint64, cp *client.Checkpoint) ([][]c2sp.Hash, error)
}

// Metrics receives what the outbox does; nil fields are not called.
type Metrics struct {
	Submitted, Logged, Refused, Retried func()
}

// Config configures an Outbox.
type Config struct {
	Store Store
	Log   Log
	// Policy verifies receipts (required: a receipt is stored only once
	// its proof verifies against the policy and the envelope).
	Policy *c2sp.Policy
	Logger *slog.Logger
	// Window is the most items submitted concurrently (default 64).
	Window int
	// MinBackoff and MaxBackoff bound the wait after a failed window
	// (defaults 100 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration
	// SubmitTimeout bounds one submission attempt (default 10 s).
	SubmitTimeout time.Duration
	// AskAfter is how long a submitted item waits to be found among the
	// log's new leaves before the outbox asks the log for its receipt
	// (default 10 s).
	AskAfter time.Duration
	Metrics  Metrics
}

// Outbox moves items from the store to the log.
type Outbox struct {
	cfg      Config
	wake     chan struct{}
	verifier *receiptVerifier
	awaiting *awaiting
}

// New returns an Outbox.
func New(cfg Config) (*Outbox, error) {
	if cfg.Store == nil || cfg.Log == nil || cfg.Policy == nil {
		return nil, errors.New("outbox: a store, a log and a policy are required")
	}
	if cfg.Window <= 0 {
		cfg.Window = 64
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.SubmitTimeout <= 0 {
		cfg.SubmitTimeout = 10 * time.Second
	}
	if cfg.AskAfter <= 0 {
		cfg.AskAfter = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{cfg: cfg, wake: make(chan struct{}, 1), verifier: &receiptVerifier{policy: cfg.Policy},
		awaiting: &awaiting{items: map[c2sp.Hash]awaited{}, now: time.Now}}, nil
}

// Wake tells the outbox new items were accepted.
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run submits and collects receipts until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); o.submitLoop(ctx) }()
	go func() { defer wg.Done(); o.receiptLoop(ctx) }()
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// Window returns the longest prefix of work, at most max items, in which
// no two items share a subject key (Subject is space-separated keys).
func Window(work []store.Work, max int) []store.Work {
	seen := map[string]bool{}
	for i, w := range work {
		keys := strings.Fields(w.Subject)
		if i == max || slices.ContainsFunc(keys, func(k string) bool { return seen[k] }) {
			return work[:i]
		}
		for _, k := range keys {
			seen[k] = true
		}
	}
	return work
}

func (o *Outbox) submitLoop(ctx context.Context) {
	backoff := o.cfg.MinBackoff
	for ctx.Err() == nil {
		work, err := o.cfg.Store.Next(ctx, store.Pending, 0, 4*o.cfg.Window)
		if err != nil {
			o.cfg.Logger.Error("outbox: couldn't read pending items", "err", err)
			sleep(ctx, backoff, nil)
			continue
		}
		if len(work) == 0 {
			sleep(ctx, 200*time.Millisecond, o.wake)
			continue
		}
		win := Window(work, o.cfg.Window)
		failed := o.submitWindow(ctx, win)
		if failed {
			if o.cfg.Metrics.Retried != nil {
				o.cfg.Metrics.Retried()
			}
			sleep(ctx, backoff, nil)
			backoff = min(2*backoff, o.cfg.MaxBackoff)
			continue
		}
		backoff = o.cfg.MinBackoff
	}
}

// submitWindow submits a window concurrently and records the log's answers
// in one statement; it reports whether any item must be retried.
func (o *Outbox) submitWindow(ctx context.Context, win []store.Work) bool {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := false
	var subs []store.Submission
	for _, w := range win {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub, ok := o.submitOne(ctx, w)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				failed = true
			} else if sub != nil {
				subs = append(subs, *sub)
			}
		}()
	}
	wg.Wait()
	if err := o.cfg.Store.MarkSubmittedBatch(ctx, subs); err != nil {
		// The log holds them; they are submitted again, and the log
		// deduplicates.
		o.cfg.Logger.Error("outbox: couldn't record submissions", "items", len(subs), "err", err)
		return true
	}
	if o.cfg.Metrics.Submitted != nil {
		for range subs {
			o.cfg.Metrics.Submitted()
		}
	}
	return failed
}

// submitOne submits one item: a Submission to record, nil after a final
// refusal (recorded), ok false when it must be retried.
func (o *Outbox) submitOne(ctx context.Context, w store.Work) (*store.Submission, bool) {
	sctx, cancel := context.WithTimeout(ctx, o.cfg.SubmitTimeout)
	defer cancel()
	// Awaited from before it is sent: its leaf may be in the next
	// checkpoint the receipt loop reads.
	leaf := c2sp.LeafHash(w.Envelope)
	o.awaiting.add(leaf, w.EventID)
	_, promise, err := o.cfg.Log.SubmitAsync(sctx, w.Envelope)
	var refusal *client.HTTPError
	switch {
	case err == nil:
		return &store.Submission{EventID: w.EventID, Promise: promise}, true
	case errors.As(err, &refusal) && refusal.Status != 404:
		o.cfg.Logger.Warn("outbox: the log refused an item", "event", w.EventID, "status", refusal.Status, "reason", refusal.Reason)
		o.awaiting.remove(leaf)
		if err := o.cfg.Store.MarkRefused(ctx, w.EventID, refusal.Reason); err != nil {
			o.cfg.Logger.Error("outbox: couldn't record a refusal", "event", w.EventID, "err", err)
			return nil, false
		}
		if o.cfg.Metrics.Refused != nil {
			o.cfg.Metrics.Refused()
		}
		return nil, true
	default:
		if ctx.Err() == nil {
			o.cfg.Logger.Warn("outbox: submission failed, will retry", "event", w.EventID, "attempts", w.Attempts+1, "err", err)
			_ = o.cfg.Store.CountAttempt(ctx, w.EventID)
		}
		return nil, false
	}
}

func (o *Outbox) receiptLoop(ctx context.Context) {
	f := &follower{}
	for ctx.Err() == nil {
		o.followRound(ctx, f)
		// Receipts come with checkpoints (one every publish interval):
		// look again after a pause.
		sleep(ctx, 250*time.Millisecond, nil)
	}
}

// receiptOne fetches and verifies the receipt of the event with leaf hash
// leaf; ok is false if it is not there yet (or does not verify).
func (o *Outbox) receiptOne(ctx context.Context, eventID string, leaf c2sp.Hash) (store.Receipt, bool) {
	// The client asks again after 100 ms on a 404: at most twice here.
	rctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	p, err := o.cfg.Log.Receipt(rctx, eventID)
	if err != nil {
		return store.Receipt{}, false
	}
	if err := o.verifier.verify(p, leaf); err != nil {
		o.cfg.Logger.Error("outbox: the log's receipt does not verify; not stored", "event", eventID, "err", err)
		return store.Receipt{}, false
	}
	return store.Receipt{EventID: eventID, Index: p.Index, Proof: p.Marshal(), Checkpoint: p.Checkpoint}, true
}
