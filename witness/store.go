package witness

import (
	"context"
	"errors"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
)

// State is the latest checkpoint the witness cosigned for one origin.
type State struct {
	Size uint64
	Root c2sp.Hash
	// Note is the signed checkpoint with the log's signature and this
	// witness's cosignatures, as served at the monitoring endpoint.
	Note      []byte
	UpdatedAt time.Time
}

// EvidenceInfo describes one stored split-view evidence bundle.
type EvidenceInfo struct {
	ID        string    `json:"id"`
	Origin    string    `json:"origin"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrNoState is returned by Store.Latest for an origin never cosigned.
var ErrNoState = errors.New("no checkpoint cosigned for this origin yet")

// ErrConflict is returned by Store.Swap when the stored state is not the
// expected one: another request advanced it first.
var ErrConflict = errors.New("witness state changed concurrently")

// Store keeps the witness's durable state. Implementations are safe for
// concurrent use by many goroutines and processes sharing one database.
type Store interface {
	// Latest returns the state for origin, or ErrNoState.
	Latest(ctx context.Context, origin string) (State, error)
	// Swap replaces the state for origin with next if and only if the
	// stored state has size oldSize and root oldRoot (for oldSize 0 with the
	// empty-tree root, "no state yet" also matches). It is atomic and the
	// new state is durable when Swap returns nil. Otherwise it returns
	// ErrConflict and changes nothing.
	Swap(ctx context.Context, origin string, oldSize uint64, oldRoot c2sp.Hash, next State) error
	// AddEvidence durably records a split-view evidence bundle (idempotent
	// by its ID) and returns the ID.
	AddEvidence(ctx context.Context, origin, source string, e *splitview.Evidence) (string, error)
	// Evidence returns a stored bundle's encoding, or ErrNoEvidence.
	Evidence(ctx context.Context, id string) ([]byte, error)
	// ListEvidence lists stored bundles, newest first.
	ListEvidence(ctx context.Context) ([]EvidenceInfo, error)
	// Origins lists the origins that have state, with it.
	Origins(ctx context.Context) (map[string]State, error)
}

// ErrNoEvidence is returned by Store.Evidence for an unknown id.
var ErrNoEvidence = errors.New("no such evidence")
