package logbackend

import (
	"context"
	"sync"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// Memory is the in-memory twin of Trillian for unit tests: QueueLeaf
// sequences at once, identity hashes deduplicate, and proofs come from the
// same tlog hashing the tile store uses. Failing, if set, makes every call
// return that error (to test pushback and outages).
type Memory struct {
	mu      sync.Mutex
	leaves  [][]byte
	queued  []time.Time
	hashes  []tlog.Hash
	byID    map[[32]byte]int
	Failing error
}

// NewMemory returns an empty in-memory log.
func NewMemory() *Memory { return &Memory{byID: map[[32]byte]int{}} }

// QueueLeaf implements Log.
func (m *Memory) QueueLeaf(_ context.Context, leaf []byte, id [32]byte) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return nil, false, m.Failing
	}
	if i, ok := m.byID[id]; ok {
		return m.leaves[i], true, nil
	}
	hs, err := tlog.StoredHashes(int64(len(m.leaves)), leaf, m)
	if err != nil {
		return nil, false, err
	}
	m.hashes = append(m.hashes, hs...)
	m.byID[id] = len(m.leaves)
	m.leaves = append(m.leaves, leaf)
	m.queued = append(m.queued, time.Now())
	return nil, false, nil
}

// ReadHashes implements tlog.HashReader (callers hold mu).
func (m *Memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		out[i] = m.hashes[ix]
	}
	return out, nil
}

// LatestRoot implements Log.
func (m *Memory) LatestRoot(context.Context) (Root, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return Root{}, m.Failing
	}
	if len(m.leaves) == 0 {
		return Root{Hash: c2sp.EmptyRoot()}, nil
	}
	h, err := tlog.TreeHash(int64(len(m.leaves)), m)
	return Root{Size: uint64(len(m.leaves)), Hash: c2sp.Hash(h)}, err
}

// ConsistencyProof implements Log.
func (m *Memory) ConsistencyProof(_ context.Context, from, to uint64) ([]c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return nil, m.Failing
	}
	if from == 0 || from == to {
		return nil, nil
	}
	if to > uint64(len(m.leaves)) || from > to {
		return nil, ErrNotFound
	}
	p, err := tlog.ProveTree(int64(to), int64(from), m)
	out := make([]c2sp.Hash, len(p))
	for i, h := range p {
		out[i] = c2sp.Hash(h)
	}
	return out, err
}

// Leaves implements Log.
func (m *Memory) Leaves(_ context.Context, start, count uint64) ([]Leaf, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return nil, m.Failing
	}
	if start >= uint64(len(m.leaves)) {
		return nil, nil
	}
	end := min(start+count, uint64(len(m.leaves)))
	out := make([]Leaf, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, Leaf{Value: m.leaves[i], Queued: m.queued[i]})
	}
	return out, nil
}
