package submit

import (
	"context"
	"sync"
)

// MemoryTrialClaims is an in-memory TrialClaims, for tests and for a log
// whose claims need not survive a restart. It is safe for concurrent use.
type MemoryTrialClaims struct {
	mu     sync.Mutex
	owners map[string]string
}

// Claim implements TrialClaims.
func (m *MemoryTrialClaims) Claim(_ context.Context, registryID, sponsor string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owners == nil {
		m.owners = map[string]string{}
	}
	if owner, ok := m.owners[registryID]; ok || sponsor == "" {
		return owner, nil
	}
	m.owners[registryID] = sponsor
	return sponsor, nil
}
