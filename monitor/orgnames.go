package monitor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
)

// registryEvery is how often Run reads the log's signed registry again.
const registryEvery = time.Minute

// RefreshRegistry reads the log's submitter registry (GET /registry, a note
// signed by the log's own key: client.VerifyRegistry) and, once verified
// with the monitor's log key, names organisations by it on the dashboard
// and in verdicts. Until one verifies, Config.OrgName (the submitter
// registry file the monitor checks entries against) names them.
func (m *Monitor) RefreshRegistry(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(m.cfg.LogURL, "/")+"/registry", nil)
	if err != nil {
		return err
	}
	resp, err := m.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("couldn't fetch the log's registry: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("couldn't fetch the log's registry: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, client.MaxRegistrySize+1))
	if err != nil {
		return fmt.Errorf("couldn't fetch the log's registry: %w", err)
	}
	policy := &c2sp.Policy{Logs: []c2sp.PolicyLog{{Verifier: m.cfg.LogVerifier}}}
	reg, err := client.VerifyRegistry(policy, m.origin, b)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.registry, m.registryAt = reg, time.Now()
	m.mu.Unlock()
	return nil
}

// refreshRegistryIfDue runs RefreshRegistry when registryEvery has passed
// since the last attempt, logging a failure.
func (m *Monitor) refreshRegistryIfDue(ctx context.Context) {
	m.mu.Lock()
	due := time.Since(m.registryTried) >= registryEvery
	if due {
		m.registryTried = time.Now()
	}
	m.mu.Unlock()
	if due {
		if err := m.RefreshRegistry(ctx); err != nil && ctx.Err() == nil {
			m.log.Info("the log's signed registry is not available; naming organisations from the submitter registry file", "err", err)
		}
	}
}

// orgName returns an organisation's name: from the log's verified registry
// note, else from Config.OrgName, else "".
func (m *Monitor) orgName(org string) string {
	m.mu.Lock()
	reg := m.registry
	m.mu.Unlock()
	if n, ok := reg.Name(org); ok {
		return n
	}
	if m.cfg.OrgName != nil {
		return m.cfg.OrgName(org)
	}
	return ""
}
