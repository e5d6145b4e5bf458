// Package store is the monitor's durable state: how far it has replayed the
// log (size and compact range), the latest checkpoint it confirmed, the
// compliance rules' state, every checkpoint it heard of from any vantage
// point, its findings and its split-view evidence. The rules' state is
// rows (RulesRow; table monitor_rules on MySQL), of which a commit writes
// those that changed. MySQL (MariaDB) backs it in production; Mem is the
// in-memory twin for unit tests. Both pass the same conformance test
// (testStore, testRulesState) and the monitor's resume tests.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
)

// ErrNotFound is returned when a named record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by Triage when the finding is no longer in the
// state the move starts from (another regulator moved it first).
var ErrConflict = errors.New("the finding's state changed meanwhile")

// State is where the replay stands.
type State struct {
	// Size is the number of entries replayed; Hashes the compact range of [0, Size).
	Size   uint64
	Hashes []c2sp.Hash
	// Checkpoint is the latest signed log checkpoint whose root the replay
	// confirmed (its size is Size).
	Checkpoint []byte
	// The compliance rules' state is kept as rows (RulesRow), as it stood
	// after the first RulesSize entries, whose compact range is
	// RulesHashes. A Commit with SaveRules writes Rules, the rows changed
	// since the last save (rules.Engine.Changes), and sets RulesSize and
	// RulesHashes, in the same atomic step as the position; one without
	// keeps the saved rows, RulesSize and RulesHashes. The rules may be
	// saved less often than the position; a restart replays entries
	// RulesSize to Size again to bring them level, and their findings,
	// already recorded, are ignored by key. LoadState leaves Rules nil
	// (LoadRules reads the rows); of a state saved before RulesSize
	// existed it returns RulesSize = Size and RulesHashes = Hashes.
	SaveRules   bool
	Rules       []RulesRow
	RulesSize   uint64
	RulesHashes []c2sp.Hash
	// LegacyRules, returned by LoadState only, is the rules' state saved
	// as one snapshot (rules.Engine.Snapshot) before it was kept as rows;
	// the first Commit with SaveRules deletes it, so it is never set when
	// rows are saved.
	LegacyRules []byte
	// Verdicts, written by Commit in order (a later one for an index
	// replaces an earlier), are the rules' verdicts reached in the entries
	// committed (rules.Engine.Verdicts). A replay after a restart writes
	// the same ones again.
	Verdicts []finding.Verdict
}

// RulesRow is one row of the compliance rules' state (rules.Row): a
// table, a key in it and the key's JSON value. In a Commit, a nil Value
// deletes the row.
type RulesRow struct {
	Table string
	Key   string
	Value []byte
}

// Checkpoint is one signed checkpoint heard of, with where from. The store
// keeps one per tree size and root hash (the monitor follows one origin).
type Checkpoint struct {
	Size uint64
	Root c2sp.Hash
	// Note is the signed note: the checkpoint body and the signature lines
	// that verified (the monitor drops the others before recording), with
	// the lines of later copies of the same checkpoint merged in.
	Note []byte
	// Source says where it was first heard of: "log", "witness <url>",
	// "pollinate", "proof".
	Source string
	// Sources are every source it was heard from, sorted (AddCheckpoint
	// merges a later copy's source in).
	Sources []string
	// Cosigners are the names of the policy witnesses that cosigned it.
	Cosigners []string
	// Seen is when it was first recorded.
	Seen time.Time
	// Checked is set once the checkpoint was compared with the replayed tree.
	Checked bool
}

// ID names a checkpoint by its tree size and root hash: the hex SHA-256 of
// the size in decimal, a space and the root in lowercase hex.
func (c Checkpoint) ID() string {
	return checkpointID(c.Size, c.Root)
}

func checkpointID(size uint64, root c2sp.Hash) string {
	sum := sha256.Sum256([]byte(strconv.FormatUint(size, 10) + " " + hex.EncodeToString(root[:])))
	return hex.EncodeToString(sum[:])
}

// MergeNotes returns note a with the signature lines of b whose key (name
// and key ID) a has no line for appended, as long as the note stays within
// c2sp.MaxCheckpointSize, and whether that added any. Both
// are signed notes of one checkpoint body (the caller checks that); a
// note's text is everything up to its last blank line.
func MergeNotes(a, b []byte) ([]byte, bool) {
	type key struct {
		name string
		id   string
	}
	keyOf := func(line string) key {
		name, sig, _ := strings.Cut(strings.TrimPrefix(line, "\u2014 "), " ")
		raw, _ := base64.StdEncoding.DecodeString(sig)
		if len(raw) > 4 {
			raw = raw[:4]
		}
		return key{name, string(raw)}
	}
	sigLines := func(n []byte) []string {
		i := bytes.LastIndex(n, []byte("\n\n"))
		if i < 0 {
			return nil
		}
		return strings.SplitAfter(string(n[i+2:]), "\n")
	}
	have := map[key]bool{}
	for _, l := range sigLines(a) {
		have[keyOf(l)] = true
	}
	out := bytes.Clone(a)
	added := false
	for _, l := range sigLines(b) {
		if l == "" || !strings.HasSuffix(l, "\n") || have[keyOf(l)] || len(out)+len(l) > c2sp.MaxCheckpointSize {
			continue
		}
		have[keyOf(l)] = true
		out, added = append(out, l...), true
	}
	return out, added
}

// mergeCosigners returns the sorted union of two lists of names.
func mergeCosigners(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// Promise statuses.
const (
	PromisePending  = "pending"
	PromiseHonoured = "honoured"
	PromiseBroken   = "broken"
	// PromiseUnjudged: the monitor had seen no checkpoint by the deadline
	// (it started later), so it cannot tell whether the log kept it.
	PromiseUnjudged = "unjudged"
)

// Promise is an asynchronous inclusion promise of the log handed to the
// monitor, and what became of it.
type Promise struct {
	// LeafHash identifies the promise (one per leaf).
	LeafHash c2sp.Hash
	EventID  string
	// Note is the promise as signed by the log.
	Note []byte
	// Timestamp is when the log made the promise; Deadline is Timestamp plus
	// the promised maximum merge delay.
	Timestamp, Deadline time.Time
	// Index is the leaf's index once known, else -1.
	Index int64
	// Status is PromisePending, PromiseHonoured, PromiseBroken or
	// PromiseUnjudged; Detail says why.
	Status, Detail string
}

// Count is the number of findings of one rule and submitter.
type Count struct {
	Rule, Submitter string
	N               int
}

// Store is the monitor's durable state. Implementations are safe for
// concurrent use; every method that returns nil has made its write durable.
type Store interface {
	// LoadState returns the saved state, or nil (and no error) on a fresh store.
	LoadState(ctx context.Context) (*State, error)
	// Commit saves st (with st.SaveRules, applying its rules' rows) and
	// records fs in one atomic step.
	Commit(ctx context.Context, st *State, fs []finding.Finding) error
	// LoadRules calls f on every saved row of the rules' state, in no
	// particular order, and stops at f's first error, which it returns. The
	// rows are those of the RulesSize LoadState returned, as long as no
	// Commit runs in between (the monitor's rounds are serialised).
	LoadRules(ctx context.Context, f func(RulesRow) error) error
	// AddFindings records findings; one with the Key of a recorded finding
	// is ignored.
	AddFindings(ctx context.Context, fs []finding.Finding) error
	// Findings lists findings matching q, newest first.
	Findings(ctx context.Context, q finding.Filter) ([]finding.Finding, error)
	// CountFindings counts findings by rule and submitter.
	CountFindings(ctx context.Context) ([]Count, error)
	// AddCheckpoint records a checkpoint, one per tree size and root hash:
	// if one with cp's size and root is recorded, cp's signature lines from
	// keys it has no line for are merged into its note (MergeNotes) and
	// cp.Cosigners into its cosigners, in one atomic step; its source, time
	// seen and checked flag stay. It reports whether a new size and root was
	// recorded. The caller records only signatures it verified.
	AddCheckpoint(ctx context.Context, cp Checkpoint) (bool, error)
	// CheckpointsAtSize returns the checkpoints recorded for a tree size.
	CheckpointsAtSize(ctx context.Context, size uint64) ([]Checkpoint, error)
	// Unchecked returns the unchecked checkpoints of size at most maxSize.
	Unchecked(ctx context.Context, maxSize uint64) ([]Checkpoint, error)
	// MarkChecked marks the checkpoint with that ID (Checkpoint.ID) checked.
	MarkChecked(ctx context.Context, id string) error
	// RecentCheckpoints returns up to limit checkpoints, largest size first.
	RecentCheckpoints(ctx context.Context, limit int) ([]Checkpoint, error)
	// AddEvidence records an evidence bundle under its id (idempotent).
	AddEvidence(ctx context.Context, id string, bundle []byte) error
	// Evidence returns a bundle, or ErrNotFound.
	Evidence(ctx context.Context, id string) ([]byte, error)
	// EvidenceIDs lists the ids of every bundle, oldest first.
	EvidenceIDs(ctx context.Context) ([]string, error)
	// SeenBy returns the largest size of the checkpoints recorded (first
	// seen) at or before t; any is false if none was.
	SeenBy(ctx context.Context, t time.Time) (size uint64, any bool, err error)
	// AddPromise records a promise; it reports false (and changes nothing)
	// if one for that leaf hash was recorded before.
	AddPromise(ctx context.Context, p Promise) (bool, error)
	// Promise returns the promise for a leaf hash, or ErrNotFound.
	Promise(ctx context.Context, leaf c2sp.Hash) (Promise, error)
	// PendingPromises lists the promises still pending, by deadline.
	PendingPromises(ctx context.Context) ([]Promise, error)
	// ResolvePromise saves p's index, status and detail; with findings fs,
	// in one atomic step.
	ResolvePromise(ctx context.Context, p Promise, fs []finding.Finding) error

	// Findings, Finding and FindingsAt return findings with their ID
	// (Key) and triage State set.

	// Finding returns the finding whose Key is id, or ErrNotFound.
	Finding(ctx context.Context, id string) (finding.Finding, error)
	// FindingsAt returns the findings about the entries at indexes (at
	// most a few hundred), in no particular order.
	FindingsAt(ctx context.Context, indexes []uint64) ([]finding.Finding, error)
	// Verdicts returns the latest verdict recorded for each of indexes
	// that has one.
	Verdicts(ctx context.Context, indexes []uint64) (map[uint64]finding.Verdict, error)
	// Triage moves finding t.ID from state t.From to t.To and appends t to
	// its history, in one atomic step; ErrNotFound if there is no such
	// finding, ErrConflict if it is not in state t.From. The caller checks
	// the move is allowed (finding.CheckMove).
	Triage(ctx context.Context, t finding.Transition) error
	// History returns a finding's triage transitions, oldest first.
	History(ctx context.Context, id string) ([]finding.Transition, error)
}

var (
	_ Store = (*Mem)(nil)
	_ Store = (*MySQL)(nil)
)

// withState fills in a stored finding's ID and state.
func withState(f finding.Finding, state finding.State) finding.Finding {
	f.ID = f.Key()
	f.State = state
	if f.State == "" {
		f.State = finding.StateOpen
	}
	return f
}
