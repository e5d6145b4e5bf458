// Package store is the monitor's durable state: how far it has replayed the
// log (size and compact range), the latest checkpoint it confirmed, the
// compliance rules' state, every checkpoint it heard of from any vantage
// point, its findings and its split-view evidence. MySQL (MariaDB) backs it
// in production; Mem is the in-memory twin for unit tests. Both pass
// TestStore.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/monitor/finding"
)

// ErrNotFound is returned when a named record does not exist.
var ErrNotFound = errors.New("not found")

// State is where the replay stands.
type State struct {
	// Size is the number of entries replayed; Hashes the compact range of [0, Size).
	Size   uint64
	Hashes []c2sp.Hash
	// Checkpoint is the latest signed log checkpoint whose root the replay
	// confirmed (its size is Size).
	Checkpoint []byte
	// Rules is the compliance rules' state (rules.Engine.Snapshot) after the
	// first RulesSize entries, whose compact range is RulesHashes. The rules'
	// state of a large log is saved less often than the position (it can be
	// tens of megabytes); a restart replays entries RulesSize to Size again to
	// bring the rules level, and their findings, already recorded, are
	// ignored by key. Commit with a nil Rules keeps the saved Rules,
	// RulesSize and RulesHashes; LoadState of a state saved before these
	// fields existed returns RulesSize = Size and RulesHashes = Hashes.
	Rules       []byte
	RulesSize   uint64
	RulesHashes []c2sp.Hash
}

// Checkpoint is one signed checkpoint heard of, with where from.
type Checkpoint struct {
	Size uint64
	Root c2sp.Hash
	// Note is the signed note as received.
	Note []byte
	// Source says where it came from: "log", "witness <url>", "pollinate",
	// "proof".
	Source string
	// Cosigners are the names of the policy witnesses that cosigned it.
	Cosigners []string
	// Seen is when it was first recorded.
	Seen time.Time
	// Checked is set once the checkpoint was compared with the replayed tree.
	Checked bool
}

// ID names a checkpoint by the hex SHA-256 of its note.
func (c Checkpoint) ID() string {
	sum := sha256.Sum256(c.Note)
	return hex.EncodeToString(sum[:])
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
	// Commit saves st and records fs in one atomic step.
	Commit(ctx context.Context, st *State, fs []finding.Finding) error
	// AddFindings records findings; one with the Key of a recorded finding
	// is ignored.
	AddFindings(ctx context.Context, fs []finding.Finding) error
	// Findings lists findings matching q, newest first.
	Findings(ctx context.Context, q finding.Filter) ([]finding.Finding, error)
	// CountFindings counts findings by rule and submitter.
	CountFindings(ctx context.Context) ([]Count, error)
	// AddCheckpoint records a checkpoint; it reports false if that exact
	// note was recorded before.
	AddCheckpoint(ctx context.Context, cp Checkpoint) (bool, error)
	// CheckpointsAtSize returns the checkpoints recorded for a tree size.
	CheckpointsAtSize(ctx context.Context, size uint64) ([]Checkpoint, error)
	// Unchecked returns the unchecked checkpoints of size at most maxSize.
	Unchecked(ctx context.Context, maxSize uint64) ([]Checkpoint, error)
	// MarkChecked marks the checkpoint with that ID checked.
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
}
