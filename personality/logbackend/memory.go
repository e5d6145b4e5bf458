package logbackend

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// Memory is the in-memory twin of a Trillian PREORDERED_LOG tree for unit
// tests: AddSequenced stores leaves by index, and the contiguous prefix is
// integrated at once (unless Paused), hashed as the tile store hashes.
// Failing, if set, makes every call return that error (to test pushback and
// outages).
type Memory struct {
	mu      sync.Mutex
	stored  map[uint64][]byte
	index   map[[32]byte]uint64
	leaves  [][]byte
	queued  []time.Time
	hashes  []tlog.Hash
	Failing error
	// Paused stops integration (as a stopped Trillian signer would):
	// AddSequenced still stores.
	Paused bool
}

// NewMemory returns an empty in-memory log.
func NewMemory() *Memory {
	return &Memory{stored: map[uint64][]byte{}, index: map[[32]byte]uint64{}}
}

// AddSequenced implements Log.
func (m *Memory) AddSequenced(_ context.Context, start uint64, leaves [][]byte, ids [][32]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return m.Failing
	}
	for i, leaf := range leaves {
		idx := start + uint64(i)
		if at, ok := m.index[ids[i]]; ok && at != idx {
			return fmt.Errorf("%w: leaf %d's identity is stored at %d", ErrConflict, idx, at)
		}
		if old, ok := m.stored[idx]; ok {
			if !bytes.Equal(old, leaf) {
				return fmt.Errorf("%w: index %d", ErrConflict, idx)
			}
			continue
		}
		m.stored[idx] = bytes.Clone(leaf)
		m.index[ids[i]] = idx
	}
	return m.integrate()
}

// Resume lifts Paused and integrates what was stored meanwhile.
func (m *Memory) Resume() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Paused = false
	return m.integrate()
}

// integrate takes the contiguous stored prefix into the tree (callers hold mu).
func (m *Memory) integrate() error {
	for !m.Paused {
		leaf, ok := m.stored[uint64(len(m.leaves))]
		if !ok {
			return nil
		}
		hs, err := tlog.StoredHashes(int64(len(m.leaves)), leaf, m)
		if err != nil {
			return err
		}
		m.hashes = append(m.hashes, hs...)
		m.leaves = append(m.leaves, leaf)
		m.queued = append(m.queued, time.Now())
	}
	return nil
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
