package monitor

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/store"
	"golang.org/x/mod/sumdb/note"
)

// ErrWrongOrigin is returned (wrapped) by Observe for a checkpoint of
// another log.
var ErrWrongOrigin = errors.New("checkpoint is not from the monitored log")

// Observe verifies a signed checkpoint heard of from source ("log",
// "witness <url>", "pollinate", "proof"), records it (normalised: with only
// the signatures that verified, one record per size and root hash, later
// copies' cosignatures merged in) and checks it against
// the replayed tree as far as the replay has got: a split view becomes
// evidence. It returns the opened checkpoint; quorum is non-nil when a
// policy is set and the checkpoint lacks witness quorum (it is still
// recorded and checked); inconsistent reports that it is part of a split
// view (the answer 409 to /pollinate). err is non-nil when the checkpoint is
// not validly signed by the log, or could not be recorded.
func (m *Monitor) Observe(ctx context.Context, signed []byte, source string) (sc *c2sp.SignedCheckpoint, quorum error, inconsistent bool, err error) {
	sc, cosigners, quorum, err := m.open(signed)
	if err != nil {
		return nil, nil, false, err
	}
	if sc.Bytes, err = normalise(sc.Note, m.cfg.LogVerifier); err != nil {
		return nil, nil, false, err
	}
	cp := store.Checkpoint{Size: sc.Size, Root: sc.Hash, Note: sc.Bytes, Source: source,
		Cosigners: cosigners, Seen: time.Now().UTC()}
	added, err := m.cfg.Store.AddCheckpoint(ctx, cp)
	if err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		return nil, nil, false, fmt.Errorf("couldn't record the checkpoint: %w", err)
	}
	if added {
		m.m.checkpoints.WithLabelValues(sourceLabel(source)).Inc()
	}
	inconsistent = m.check(ctx, cp.ID(), sc)
	return sc, quorum, inconsistent, nil
}

// normalise re-encodes an opened note with only its verified signatures
// (the log's and the policy witnesses'), the log's first and the others in
// key order, so that the byte-distinct copies anyone can make of one
// checkpoint (signature lines of unknown keys, repeated lines, reordering)
// record as one.
func normalise(n *note.Note, logVerifier note.Verifier) ([]byte, error) {
	sigs := slices.Clone(n.Sigs)
	for i, s := range sigs {
		// note.Open decodes leniently: write the canonical form.
		raw, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil {
			return nil, fmt.Errorf("couldn't re-encode the checkpoint: %w", err)
		}
		sigs[i].Base64 = base64.StdEncoding.EncodeToString(raw)
	}
	isLog := func(s note.Signature) bool { return s.Name == logVerifier.Name() && s.Hash == logVerifier.KeyHash() }
	slices.SortFunc(sigs, func(a, b note.Signature) int {
		if isLog(a) != isLog(b) {
			if isLog(a) {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.Hash, b.Hash))
	})
	b, err := note.Sign(&note.Note{Text: n.Text, Sigs: sigs})
	if err != nil {
		return nil, fmt.Errorf("couldn't re-encode the checkpoint: %w", err)
	}
	return b, nil
}

func sourceLabel(source string) string {
	for i, c := range source {
		if c == ' ' {
			return source[:i]
		}
	}
	return source
}

// open verifies the log's signature (and the policy's quorum, if any). A
// checkpoint that does not verify and names another origin on its first
// line is ErrWrongOrigin: the log key's name is our origin, so a checkpoint
// of another log can never verify, and its sender should hear 404, not 403.
func (m *Monitor) open(signed []byte) (sc *c2sp.SignedCheckpoint, cosigners []string, quorum, err error) {
	sc, cosigners, quorum, err = m.openVerified(signed)
	if err != nil {
		if origin, _, _ := bytes.Cut(signed, []byte("\n")); string(origin) != m.origin {
			return nil, nil, nil, fmt.Errorf("%w: origin %q", ErrWrongOrigin, truncate(string(origin)))
		}
	}
	return sc, cosigners, quorum, err
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func (m *Monitor) openVerified(signed []byte) (sc *c2sp.SignedCheckpoint, cosigners []string, quorum, err error) {
	if m.cfg.Policy == nil {
		sc, err = c2sp.OpenCheckpoint(signed, m.cfg.LogVerifier)
		if err != nil {
			return nil, nil, nil, err
		}
		if sc.Origin != m.origin {
			return nil, nil, nil, fmt.Errorf("%w: origin %q", ErrWrongOrigin, sc.Origin)
		}
		return sc, nil, nil, nil
	}
	sc, err = c2sp.OpenCheckpoint(signed, m.cfg.LogVerifier, m.cfg.Policy.WitnessVerifiers()...)
	if err != nil {
		return nil, nil, nil, err
	}
	if sc.Origin != m.origin {
		return nil, nil, nil, fmt.Errorf("%w: origin %q", ErrWrongOrigin, sc.Origin)
	}
	cosigners = m.cfg.Policy.Cosigners(sc.Note)
	set := map[string]bool{}
	for _, n := range cosigners {
		set[n] = true
	}
	if !m.cfg.Policy.QuorumMet(set) {
		quorum = fmt.Errorf("%w: cosigned by %v", c2sp.ErrQuorumNotMet, cosigners)
	}
	return sc, cosigners, quorum, nil
}

// check compares sc with every recorded checkpoint of its size and, when
// the replay has reached its size, with the replayed tree. A checkpoint
// larger than the replay stays unchecked until the replay gets there. It
// reports whether sc was found inconsistent.
func (m *Monitor) check(ctx context.Context, id string, sc *c2sp.SignedCheckpoint) (inconsistent bool) {
	same, err := m.cfg.Store.CheckpointsAtSize(ctx, sc.Size)
	if err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		return false
	}
	for _, o := range same {
		if o.Root != sc.Hash {
			m.splitView(ctx, o.Note, sc.Bytes, nil)
			inconsistent = true
			break
		}
	}
	conf := m.Confirmed()
	if conf == nil || sc.Size > conf.Size {
		return inconsistent
	}
	switch {
	case sc.Size == conf.Size:
		if sc.Hash != conf.Hash && !inconsistent {
			m.splitView(ctx, sc.Bytes, conf.Bytes, nil)
			inconsistent = true
		}
	case sc.Size > 0:
		p, err := c2sp.ConsistencyProofFromTiles(ctx, m.client.Fetcher(), sc.Size, conf.Size, conf.Hash)
		if err != nil {
			m.tileError(ctx, err, conf.Size)
			return inconsistent // stays unchecked: retried after the next round
		}
		if c2sp.VerifyConsistency(sc.Size, conf.Size, sc.Hash, conf.Hash, p) != nil {
			m.splitView(ctx, sc.Bytes, conf.Bytes, conf)
			inconsistent = true
		}
	}
	if err := m.cfg.Store.MarkChecked(ctx, id); err != nil {
		m.m.errors.WithLabelValues("store").Inc()
	}
	return inconsistent
}

// checkPending checks the recorded checkpoints the replay has now reached.
func (m *Monitor) checkPending(ctx context.Context) {
	conf := m.Confirmed()
	if conf == nil {
		return
	}
	cps, err := m.cfg.Store.Unchecked(ctx, conf.Size)
	if err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		return
	}
	for _, cp := range cps {
		sc, err := c2sp.OpenCheckpoint(cp.Note, m.cfg.LogVerifier)
		if err != nil {
			continue // recorded only after verification: cannot happen
		}
		m.check(ctx, cp.ID(), sc)
	}
}
