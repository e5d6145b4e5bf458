package batch

import (
	"bytes"
	"context"
	"sync"

	"github.com/htlog/htlog/personality/tiles"
)

// Memory is the in-memory twin of the MariaDB sequence (tiles.Store's
// Append): gapless indexes, deduplication by identity hash, and a record
// of each call's batch size. Failing, if set, makes every call fail.
type Memory struct {
	mu      sync.Mutex
	leaves  [][]byte
	index   map[[32]byte]uint64
	batches []int
	Failing error
}

// NewMemory returns an empty sequence.
func NewMemory() *Memory { return &Memory{index: map[[32]byte]uint64{}} }

// Append implements Appender.
func (m *Memory) Append(_ context.Context, batch []tiles.Pending) ([]tiles.Appended, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return nil, m.Failing
	}
	m.batches = append(m.batches, len(batch))
	out := make([]tiles.Appended, len(batch))
	for i, p := range batch {
		if idx, ok := m.index[p.ID]; ok {
			out[i] = tiles.Appended{Index: idx, Leaf: m.leaves[idx], Duplicate: true}
			continue
		}
		idx := uint64(len(m.leaves))
		m.index[p.ID] = idx
		m.leaves = append(m.leaves, bytes.Clone(p.Leaf))
		out[i] = tiles.Appended{Index: idx, Leaf: p.Leaf}
	}
	return out, nil
}

// Leaves returns the appended leaves in order.
func (m *Memory) Leaves() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.leaves...)
}

// Batches returns the size of every batch appended so far.
func (m *Memory) Batches() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.batches...)
}
