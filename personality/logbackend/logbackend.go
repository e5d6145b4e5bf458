// Package logbackend is the narrow view of Trillian that the personality
// needs, with two implementations: a PREORDERED_LOG tree over gRPC for
// production, and an in-memory twin for unit tests. Both pass the same
// conformance test (runConformance in conformance_test.go).
//
// htlog sequences events itself (package tiles: the acknowledgement point is
// htlog's own batched, deduplicated append), so Trillian receives leaves
// already in order (AddSequenced), stores them, and integrates them into its
// own Merkle tree. Its root at every size it reaches must equal the root htlog
// computed from the same leaves: Trillian is the log's second, independent
// copy and check.
package logbackend

import (
	"context"
	"errors"
	"time"

	"github.com/htlog/htlog/c2sp"
)

// ErrNotFound is returned when a leaf is not (yet) in the tree.
var ErrNotFound = errors.New("not found in the log")

// ErrPushback is returned when the backend is overloaded (Trillian's
// ResourceExhausted).
var ErrPushback = errors.New("log backend is overloaded")

// ErrConflict is returned by AddSequenced when Trillian holds a different
// leaf at an index htlog gave: the two copies of the log disagree.
var ErrConflict = errors.New("Trillian holds a different leaf at that index")

// Root is a tree head as Trillian reports it. Trillian does not sign roots:
// the personality compares each with the root it computed itself.
type Root struct {
	Size uint64
	Hash c2sp.Hash
}

// Reader reads a Trillian tree. All methods are safe for concurrent use.
type Reader interface {
	// LatestRoot returns the newest tree head.
	LatestRoot(ctx context.Context) (Root, error)
	// Leaves returns up to count integrated leaves starting at start, in
	// order; fewer (possibly none) if the tree is smaller.
	Leaves(ctx context.Context, start, count uint64) ([]Leaf, error)
}

// Log is a PREORDERED_LOG tree as the personality uses it.
type Log interface {
	Reader
	// AddSequenced durably stores leaves at indexes start, start+1, ...
	// for Trillian to integrate. It is idempotent: a leaf already stored at
	// its index is not an error (a retry after a crash stores nothing
	// twice); a leaf whose identity Trillian holds at another index is
	// ErrConflict. The identity of a leaf is ids[i], the event's identity
	// hash.
	AddSequenced(ctx context.Context, start uint64, leaves [][]byte, ids [][32]byte) error
}

// Leaf is an integrated leaf and when the log received it.
type Leaf struct {
	Value []byte
	// Queued is when the log received it (Trillian's timestamp).
	Queued time.Time
}
