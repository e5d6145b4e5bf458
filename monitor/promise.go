package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/promise"
	"golang.org/x/mod/sumdb/note"
)

// RulePromiseBroken is the finding of an asynchronous inclusion promise the
// log did not keep: the leaf was in no checkpoint seen by the promised
// deadline.
const RulePromiseBroken = "promise_broken"

// Errors AddPromise returns for promises it refuses.
var (
	// ErrPromiseSignature: not validly signed by the log's key.
	ErrPromiseSignature = errors.New("the promise is not signed by this log's key")
	// ErrBadPromise: not an htlog promise of this log.
	ErrBadPromise = errors.New("bad promise")
)

// promiseWatch is the set of pending promises' leaf hashes the replay looks
// out for, with the index where each was found (-1 until then).
type promiseWatch struct {
	n       atomic.Int64 // len(pending), read without the lock on every leaf
	mu      sync.Mutex
	pending map[c2sp.Hash]int64
}

func (w *promiseWatch) reset(ps []store.Promise) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = make(map[c2sp.Hash]int64, len(ps))
	for _, p := range ps {
		w.pending[p.LeafHash] = p.Index
	}
	w.n.Store(int64(len(w.pending)))
}

func (w *promiseWatch) add(leaf c2sp.Hash) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[leaf]; !ok {
		w.pending[leaf] = -1
	}
	w.n.Store(int64(len(w.pending)))
}

func (w *promiseWatch) remove(leaf c2sp.Hash) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, leaf)
	w.n.Store(int64(len(w.pending)))
}

// see notes that the replay put leaf at index.
func (w *promiseWatch) see(leaf c2sp.Hash, index uint64) {
	if w.n.Load() == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.pending[leaf]; ok && i < 0 {
		w.pending[leaf] = int64(index)
	}
}

// index returns where the replay found leaf, or -1.
func (w *promiseWatch) index(leaf c2sp.Hash) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, ok := w.pending[leaf]; ok {
		return i
	}
	return -1
}

// AddPromise verifies a promise signed by the log (promise.Promise), records it
// durably and checks it at once; it returns the promise's current state and
// whether it was new. A malformed promise wraps ErrBadPromise, one not
// signed by the log's key ErrPromiseSignature.
func (m *Monitor) AddPromise(ctx context.Context, signed []byte) (store.Promise, bool, error) {
	p, err := promise.Open(signed, m.cfg.LogVerifier)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return store.Promise{}, false, fmt.Errorf("%w: %v", ErrPromiseSignature, err)
		}
		return store.Promise{}, false, fmt.Errorf("%w: %v", ErrBadPromise, err)
	}
	sp := store.Promise{LeafHash: p.LeafHash, EventID: p.EventID, Note: signed, Timestamp: p.Timestamp.UTC(),
		Deadline: p.Timestamp.Add(p.MaxMergeDelay).UTC(), Index: -1, Status: store.PromisePending}
	added, err := m.cfg.Store.AddPromise(ctx, sp)
	if err != nil {
		return store.Promise{}, false, err
	}
	if added {
		m.m.promises.WithLabelValues("received").Inc()
		m.promises.add(sp.LeafHash)
		// The replay may be past its leaf already: ask the log now.
		m.checkPromises(ctx, sp.LeafHash)
	}
	cur, err := m.cfg.Store.Promise(ctx, sp.LeafHash)
	return cur, added, err
}

// checkPromises settles the pending promises it can. A promise is honoured
// when its leaf is at an index below the size of a checkpoint the monitor
// had seen (from any source) by the promised deadline plus a grace of one
// poll interval: the monitor sees checkpoints only when it polls, so a
// checkpoint published just before the deadline may reach it up to one
// interval later. It is broken when the deadline has passed and the
// monitor, having replayed the whole tree of every checkpoint seen by then,
// found the leaf in none of them (or only later). A promise whose leaf the
// replay did not meet (posted after the replay passed it, or across a
// restart) is looked up through the log's inclusion proof by event id,
// verified against the monitor's confirmed checkpoint. If ask is a pending
// promise's leaf hash, the log is asked about that one at once.
func (m *Monitor) checkPromises(ctx context.Context, ask ...c2sp.Hash) {
	m.promiseRound.Lock()
	defer m.promiseRound.Unlock()
	conf := m.Confirmed()
	if conf == nil || m.promises.n.Load() == 0 {
		return
	}
	pending, err := m.cfg.Store.PendingPromises(ctx)
	if err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		return
	}
	now := time.Now()
	m.m.promisesPending.Set(float64(len(pending)))
	for _, p := range pending {
		if i := m.promises.index(p.LeafHash); i >= 0 && uint64(i) < conf.Size {
			p.Index = i
		}
		deadline := p.Deadline.Add(m.cfg.PollInterval)
		if p.Index < 0 && (now.After(deadline) || contains(ask, p.LeafHash)) {
			p.Index = m.proveByEvent(ctx, p, conf)
		}
		seenBy, any, err := m.cfg.Store.SeenBy(ctx, deadline)
		if err != nil {
			m.m.errors.WithLabelValues("store").Inc()
			return
		}
		var detail string
		switch {
		case !any && now.After(deadline):
			p.Status, p.Detail = store.PromiseUnjudged, "the monitor had seen no checkpoint of this log by the deadline, so it cannot judge the merge delay"
		case p.Index >= 0 && uint64(p.Index) < seenBy:
			p.Status, p.Detail = store.PromiseHonoured, fmt.Sprintf("included at index %d, in a checkpoint of size %d seen by the deadline", p.Index, seenBy)
		case !now.After(deadline):
			continue
		case p.Index >= 0:
			p.Status = store.PromiseBroken
			detail = fmt.Sprintf("included at index %d, but no checkpoint containing it was seen by the deadline %s (promised %s, maximum merge delay %s)",
				p.Index, p.Deadline.Format(time.RFC3339), p.Timestamp.Format(time.RFC3339), p.Deadline.Sub(p.Timestamp))
		case conf.Size >= seenBy:
			p.Status = store.PromiseBroken
			detail = fmt.Sprintf("not in any checkpoint seen by the deadline %s (promised %s, maximum merge delay %s): the replay did not meet it and the log did not prove it at size %d",
				p.Deadline.Format(time.RFC3339), p.Timestamp.Format(time.RFC3339), p.Deadline.Sub(p.Timestamp), conf.Size)
		default:
			continue // the replay has not reached the checkpoints seen by the deadline
		}
		var fs []finding.Finding
		if p.Status == store.PromiseBroken {
			p.Detail = detail
			id := promiseEvidenceID(p.Note)
			if err := m.cfg.Store.AddEvidence(ctx, id, p.Note); err != nil {
				m.m.errors.WithLabelValues("store").Inc()
				return
			}
			fs = []finding.Finding{{Rule: RulePromiseBroken, Severity: finding.Critical, Index: p.Index,
				EventIDs: []string{p.EventID}, Detail: detail, Evidence: id, Time: now.UTC()}}
			if p.Index < 0 {
				fs[0].Index = finding.NoIndex
			}
		}
		if err := m.cfg.Store.ResolvePromise(ctx, p, fs); err != nil {
			m.m.errors.WithLabelValues("store").Inc()
			return
		}
		m.promises.remove(p.LeafHash)
		m.m.promises.WithLabelValues(p.Status).Inc()
		m.countFindings(fs)
	}
}

// proveByEvent asks the log for the inclusion proof of p's event in the
// confirmed tree and returns the index if the proof verifies for p's leaf
// hash, else -1.
func (m *Monitor) proveByEvent(ctx context.Context, p store.Promise, conf *c2sp.SignedCheckpoint) int64 {
	u := fmt.Sprintf("%s/proof/inclusion?event_id=%s&tree_size=%d", m.cfg.LogURL, url.QueryEscape(p.EventID), conf.Size)
	body, err := m.client.Get(ctx, u, 64<<10)
	if err != nil {
		return -1
	}
	var resp struct {
		Index *uint64     `json:"index"`
		Proof []c2sp.Hash `json:"proof"`
	}
	if json.Unmarshal(body, &resp) != nil || resp.Index == nil || *resp.Index >= conf.Size {
		return -1
	}
	if c2sp.VerifyInclusion(*resp.Index, conf.Size, p.LeafHash, conf.Hash, resp.Proof) != nil {
		return -1
	}
	return int64(*resp.Index)
}

// promiseEvidenceID names a promise kept as evidence: the hex SHA-256 of
// the signed note.
func promiseEvidenceID(signed []byte) string {
	sum := sha256.Sum256(signed)
	return hex.EncodeToString(sum[:])
}

func contains(hs []c2sp.Hash, h c2sp.Hash) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}
