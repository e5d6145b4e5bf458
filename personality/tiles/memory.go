package tiles

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// Memory is the in-memory twin of Store for unit tests: the same sequence,
// integration, checkpoints and reads, with the same errors, hashed by the
// same x/mod tlog code. It is safe for concurrent use. Failing, if set,
// makes Append and Integrate fail (a database that is down).
type Memory struct {
	mu          sync.Mutex
	entries     [][]byte
	ids         [][32]byte
	queued      []time.Time
	events      map[[32]byte]uint64
	tags        map[string][]uint64
	hashes      []tlog.Hash
	size        uint64
	checkpoints []Published
	publishedAt []time.Time
	legacyNext  uint64
	Failing     error
}

// NewMemory returns an empty log.
func NewMemory() *Memory {
	return &Memory{events: map[[32]byte]uint64{}, tags: map[string][]uint64{}}
}

// ReadHashes implements tlog.HashReader over the integrated tree (callers
// hold mu).
func (m *Memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		if ix < 0 || ix >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("%w: stored hash %d", ErrBeyondTree, ix)
		}
		out[i] = m.hashes[ix]
	}
	return out, nil
}

// Append is Store.Append.
func (m *Memory) Append(_ context.Context, batch []Pending) ([]Appended, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return nil, m.Failing
	}
	out := make([]Appended, len(batch))
	for i, p := range batch {
		if idx, ok := m.events[p.ID]; ok {
			out[i] = Appended{Index: idx, Leaf: m.entries[idx], Duplicate: true}
			continue
		}
		idx := uint64(len(m.entries))
		m.events[p.ID] = idx
		m.entries = append(m.entries, bytes.Clone(p.Leaf))
		m.ids = append(m.ids, p.ID)
		m.queued = append(m.queued, time.Now())
		for _, tag := range p.Tags {
			if l := m.tags[tag]; len(l) == 0 || l[len(l)-1] != idx {
				m.tags[tag] = append(l, idx)
			}
		}
		out[i] = Appended{Index: idx, Leaf: p.Leaf}
	}
	return out, nil
}

// Sequenced is Store.Sequenced.
func (m *Memory) Sequenced(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.entries)), nil
}

// Integrate is Store.Integrate.
func (m *Memory) Integrate(_ context.Context, max int) (uint64, c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Failing != nil {
		return 0, c2sp.Hash{}, m.Failing
	}
	for n := 0; n < min(max, MaxIntegrate) && m.size < uint64(len(m.entries)); n++ {
		hs, err := tlog.StoredHashes(int64(m.size), m.entries[m.size], m)
		if err != nil {
			return 0, c2sp.Hash{}, err
		}
		m.hashes = append(m.hashes, hs...)
		m.size++
	}
	root, err := m.root(m.size)
	return m.size, root, err
}

func (m *Memory) root(size uint64) (c2sp.Hash, error) {
	if size == 0 {
		return c2sp.EmptyRoot(), nil
	}
	h, err := tlog.TreeHash(int64(size), m)
	return c2sp.Hash(h), err
}

// Size is Store.Size.
func (m *Memory) Size(context.Context) (uint64, c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	root, err := m.root(m.size)
	return m.size, root, err
}

// RootAt is Store.RootAt.
func (m *Memory) RootAt(_ context.Context, size uint64) (c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > m.size {
		return c2sp.Hash{}, fmt.Errorf("%w: size %d is above the integrated size %d", ErrBeyondTree, size, m.size)
	}
	return m.root(size)
}

// Tile is Store.Tile.
func (m *Memory) Tile(_ context.Context, ref c2sp.TileRef) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref.Level > 7 || (ref.Index*c2sp.TileWidth+uint64(ref.Width))<<(8*ref.Level) > m.size {
		return nil, ErrBeyondTree
	}
	return tlog.ReadTileData(tlog.Tile{H: 8, L: int(ref.Level), N: int64(ref.Index), W: ref.Width}, m)
}

// EntryBundle is Store.EntryBundle.
func (m *Memory) EntryBundle(_ context.Context, index uint64, width int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := index * c2sp.TileWidth
	if first+uint64(width) > m.size {
		return nil, ErrBeyondTree
	}
	return c2sp.MarshalEntryBundle(m.entries[first : first+uint64(width)])
}

// Entries is Store.Entries.
func (m *Memory) Entries(_ context.Context, start, count uint64) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if start >= uint64(len(m.entries)) {
		return nil, nil
	}
	return slices.Clone(m.entries[start:min(start+count, uint64(len(m.entries)))]), nil
}

// EntriesWithIDs is Store.EntriesWithIDs.
func (m *Memory) EntriesWithIDs(_ context.Context, start, count uint64) ([][]byte, [][32]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if start >= uint64(len(m.entries)) {
		return nil, nil, nil
	}
	end := min(start+count, uint64(len(m.entries)))
	return slices.Clone(m.entries[start:end]), slices.Clone(m.ids[start:end]), nil
}

// EventIndex is Store.EventIndex.
func (m *Memory) EventIndex(_ context.Context, id [32]byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	idx, ok := m.events[id]
	if !ok {
		return 0, ErrNoSuchEvent
	}
	return idx, nil
}

// EventsInRange is Store.EventsInRange.
func (m *Memory) EventsInRange(_ context.Context, from, to uint64) (map[[32]byte]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[[32]byte]uint64{}
	for id, idx := range m.events {
		if idx >= from && idx < to {
			out[id] = idx
		}
	}
	return out, nil
}

// InclusionProof is Store.InclusionProof.
func (m *Memory) InclusionProof(_ context.Context, index, size uint64) ([]c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > m.size || index >= size {
		return nil, fmt.Errorf("%w: index %d, size %d, integrated %d", ErrBeyondTree, index, size, m.size)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), m)
	return toC2SP(p), err
}

// InclusionProofs is Store.InclusionProofs.
func (m *Memory) InclusionProofs(ctx context.Context, indexes []uint64, size uint64) ([][]c2sp.Hash, error) {
	out := make([][]c2sp.Hash, len(indexes))
	for k, i := range indexes {
		p, err := m.InclusionProof(ctx, i, size)
		if err != nil {
			return nil, err
		}
		out[k] = p
	}
	return out, nil
}

// ConsistencyProof is Store.ConsistencyProof.
func (m *Memory) ConsistencyProof(_ context.Context, from, to uint64) ([]c2sp.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if to > m.size || from > to {
		return nil, fmt.Errorf("%w: sizes %d to %d, integrated %d", ErrBeyondTree, from, to, m.size)
	}
	if from == 0 || from == to {
		return nil, nil
	}
	p, err := tlog.ProveTree(int64(to), int64(from), m)
	return toC2SP(p), err
}

// Lookup is Store.Lookup.
func (m *Memory) Lookup(_ context.Context, tag string, after int64, limit int) ([]uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []uint64
	for _, idx := range m.tags[tag] {
		if int64(idx) > after && idx < m.size && len(out) < limit {
			out = append(out, idx)
		}
	}
	return out, nil
}

// Publish is Store.Publish.
func (m *Memory) Publish(_ context.Context, size uint64, note []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, p := range m.checkpoints {
		if p.Size == size {
			m.checkpoints[i].Note, m.publishedAt[i] = bytes.Clone(note), time.Now()
			return nil
		}
	}
	m.checkpoints = append(m.checkpoints, Published{Size: size, Note: bytes.Clone(note)})
	m.publishedAt = append(m.publishedAt, time.Now())
	return nil
}

// Latest is Store.Latest.
func (m *Memory) Latest(context.Context) (Published, float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	best := -1
	for i, p := range m.checkpoints {
		if best < 0 || p.Size > m.checkpoints[best].Size {
			best = i
		}
	}
	if best < 0 {
		return Published{}, 0, ErrNoCheckpoint
	}
	return m.checkpoints[best], time.Since(m.publishedAt[best]).Seconds(), nil
}

// Waiting is Store.Waiting.
func (m *Memory) Waiting(ctx context.Context) (Waiting, error) {
	p, _, err := m.Latest(ctx)
	if err != nil && err != ErrNoCheckpoint {
		return Waiting{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if uint64(len(m.entries)) <= p.Size {
		return Waiting{}, nil
	}
	return Waiting{Count: uint64(len(m.entries)) - p.Size, AgeSeconds: time.Since(m.queued[p.Size]).Seconds()}, nil
}

// LegacyNext is Store.LegacyNext.
func (m *Memory) LegacyNext(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.legacyNext, nil
}

// SetLegacyNext is Store.SetLegacyNext.
func (m *Memory) SetLegacyNext(_ context.Context, n uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.legacyNext = max(m.legacyNext, n)
	return nil
}
