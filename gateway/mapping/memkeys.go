package mapping

import (
	"context"
	"crypto/rand"
	"sync"
)

// MemKeys is an in-memory Keys, the twin of the gateway's MariaDB store for
// the mappers' tests. It is safe for concurrent use.
type MemKeys struct {
	mu       sync.Mutex
	patients map[string][]byte
	packages map[string][]byte
	lots     map[string][2]string
	events   map[string]string
}

// NewMemKeys returns an empty MemKeys.
func NewMemKeys() *MemKeys {
	return &MemKeys{patients: map[string][]byte{}, packages: map[string][]byte{}, lots: map[string][2]string{}, events: map[string]string{}}
}

func newKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// PatientKey implements Keys.
func (m *MemKeys) PatientKey(_ context.Context, ref string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patients[ref] == nil {
		m.patients[ref] = newKey()
	}
	return m.patients[ref], nil
}

// PackageKey implements Keys.
func (m *MemKeys) PackageKey(_ context.Context, gtin, serial string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := gtin + "." + serial
	if m.packages[id] == nil {
		m.packages[id] = newKey()
	}
	return m.packages[id], nil
}

// Package implements Keys.
func (m *MemKeys) Package(_ context.Context, gtin, serial string) (string, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.lots[gtin+"."+serial]
	return v[0], v[1], ok, nil
}

// SetPackage records a package's lot and expiry (what the store does for
// an accepted item's Lots).
func (m *MemKeys) SetPackage(ctx context.Context, gtin, serial, lot, expiry string) error {
	m.PackageKey(ctx, gtin, serial)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lots[gtin+"."+serial] = [2]string{lot, expiry}
	return nil
}

// EventOf implements Keys.
func (m *MemKeys) EventOf(_ context.Context, source string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.events[source]
	return id, ok, nil
}

// SetEvent records that source was logged as eventID.
func (m *MemKeys) SetEvent(source, eventID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[source] = eventID
}
