// Package logbackend is the narrow view of a Trillian log that the
// personality needs, with two implementations: Trillian over gRPC for
// production, and an in-memory twin for unit tests. Both pass the same
// conformance test (RunConformance).
package logbackend

import (
	"context"
	"errors"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
)

// ErrNotFound is returned when a leaf or proof is not (yet) in the tree.
var ErrNotFound = errors.New("not found in the log")

// ErrPushback is returned when the backend is overloaded (Trillian's
// ResourceExhausted); the caller answers 503 with Retry-After.
var ErrPushback = errors.New("log backend is overloaded")

// Root is a tree head as Trillian reports it. Trillian does not sign roots:
// the personality proves each new root consistent with the last one it signed.
type Root struct {
	Size uint64
	Hash c2sp.Hash
}

// Log is a Trillian LOG tree as the personality uses it. All methods are safe
// for concurrent use. A leaf is identified for deduplication by its identity
// hash (htlog uses the event id); its Merkle leaf hash is the RFC 6962 hash of
// the leaf bytes.
type Log interface {
	// QueueLeaf durably queues a leaf for sequencing. If a leaf with the same
	// identity hash was queued before, it returns that earlier leaf's bytes
	// and dup = true and queues nothing. When it returns nil error the leaf
	// is durable: it will be sequenced even if this process dies.
	QueueLeaf(ctx context.Context, leaf []byte, identityHash [32]byte) (existing []byte, dup bool, err error)
	// LatestRoot returns the newest tree head.
	LatestRoot(ctx context.Context) (Root, error)
	// ConsistencyProof returns the proof that the tree of size to extends the
	// tree of size from (empty if from is 0 or from == to).
	ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error)
	// Leaves returns up to count sequenced leaves starting at start, in order;
	// fewer (possibly none) if the tree is smaller. The personality reads
	// leaves once, to integrate them into its own tiles, and serves every
	// later read (tiles, proofs) from those, never from Trillian.
	Leaves(ctx context.Context, start, count uint64) ([]Leaf, error)
}

// Leaf is a sequenced leaf and when it was queued.
type Leaf struct {
	Value []byte
	// Queued is when the log accepted it (Trillian's queue timestamp).
	Queued time.Time
}
