package witness

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
)

// MemStore is an in-memory Store for unit tests: same contract, no durability.
type MemStore struct {
	mu       sync.Mutex
	state    map[string]State
	evidence map[string]memEvidence
}

type memEvidence struct {
	info   EvidenceInfo
	bundle []byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{state: map[string]State{}, evidence: map[string]memEvidence{}}
}

// Latest implements Store.
func (s *MemStore) Latest(_ context.Context, origin string) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.state[origin]
	if !ok {
		return State{}, ErrNoState
	}
	return st, nil
}

// Swap implements Store.
func (s *MemStore) Swap(_ context.Context, origin string, oldSize uint64, oldRoot c2sp.Hash, next State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.state[origin]
	switch {
	case ok && (cur.Size != oldSize || cur.Root != oldRoot):
		return ErrConflict
	case !ok && (oldSize != 0 || oldRoot != c2sp.EmptyRoot()):
		return ErrConflict
	}
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = time.Now()
	}
	s.state[origin] = next
	return nil
}

// AddEvidence implements Store.
func (s *MemStore) AddEvidence(_ context.Context, origin, source string, e *splitview.Evidence) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := e.ID()
	if _, ok := s.evidence[id]; !ok {
		s.evidence[id] = memEvidence{EvidenceInfo{ID: id, Origin: origin, Source: source, CreatedAt: time.Now()}, e.Marshal()}
	}
	return id, nil
}

// Evidence implements Store.
func (s *MemStore) Evidence(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.evidence[id]
	if !ok {
		return nil, ErrNoEvidence
	}
	return e.bundle, nil
}

// ListEvidence implements Store.
func (s *MemStore) ListEvidence(context.Context) ([]EvidenceInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []EvidenceInfo{}
	for _, e := range s.evidence {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// Origins implements Store.
func (s *MemStore) Origins(context.Context) (map[string]State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]State{}
	for k, v := range s.state {
		out[k] = v
	}
	return out, nil
}
