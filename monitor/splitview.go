package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/htlog/htlog/internal/atomicfile"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/splitview"
)

// splitView turns two validly signed, inconsistent checkpoints into an
// evidence bundle: recorded in the store, written to EvidenceDir, counted,
// reported as a finding and posted to the webhooks. larger, when the sizes
// differ, is the checkpoint of the two whose tree the log's tiles serve
// (the proof is read from them).
func (m *Monitor) splitView(ctx context.Context, a, b []byte, larger *c2sp.SignedCheckpoint) {
	sa, err1 := c2sp.OpenCheckpoint(a, m.cfg.LogVerifier)
	sb, err2 := c2sp.OpenCheckpoint(b, m.cfg.LogVerifier)
	if err1 != nil || err2 != nil {
		return
	}
	if sa.Size > sb.Size || (sa.Size == sb.Size && bytes.Compare(sa.Bytes, sb.Bytes) > 0) {
		sa, sb = sb, sa // smaller first; equal sizes in a canonical order
	}
	ev := splitview.Evidence{First: sa.Bytes, Second: sb.Bytes}
	if sa.Size != sb.Size {
		if larger == nil || larger.Size != sb.Size || larger.Hash != sb.Hash {
			return
		}
		p, err := splitview.ProofFromTiles(ctx, m.client.Fetcher(), sa.Size, sb.Size, sb.Hash)
		if err != nil {
			m.tileError(ctx, err, sb.Size)
			m.record(ctx, finding.Finding{Rule: RuleSplitView, Severity: finding.Critical, Index: finding.NoIndex,
				Detail: fmt.Sprintf("checkpoints of sizes %d and %d are inconsistent; evidence could not be built yet", sa.Size, sb.Size)})
			return
		}
		ev.Proof = p
	}
	if _, _, err := splitview.Verify(&ev, m.cfg.LogVerifier); err != nil {
		m.log.Error("built evidence that does not verify", "err", err)
		return
	}
	id, data := ev.ID(), ev.Marshal()
	if ids, _ := m.cfg.Store.EvidenceIDs(ctx); slices.Contains(ids, id) {
		return
	}
	if err := m.cfg.Store.AddEvidence(ctx, id, data); err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		m.log.Error("couldn't record evidence", "err", err, "evidence", id)
	}
	if m.cfg.EvidenceDir != "" {
		if err := writeEvidenceFile(filepath.Join(m.cfg.EvidenceDir, id+".txt"), data); err != nil {
			m.m.errors.WithLabelValues("evidence_dir").Inc()
			m.log.Error("couldn't write evidence", "err", err, "evidence", id)
		}
	}
	m.m.splitViews.Inc()
	f := finding.Finding{Rule: RuleSplitView, Severity: finding.Critical, Index: finding.NoIndex, Evidence: id,
		Detail: fmt.Sprintf("the log signed inconsistent checkpoints of sizes %d and %d", sa.Size, sb.Size)}
	fs := []finding.Finding{f}
	for _, w := range m.equivocators(ctx, sa, sb) {
		fs = append(fs, finding.Finding{Rule: RuleWitnessEquivocation, Severity: finding.Critical, Index: finding.NoIndex,
			Evidence: id, Detail: fmt.Sprintf("witness %s cosigned both checkpoints of a split view (sizes %d and %d)", w, sa.Size, sb.Size)})
	}
	m.record(ctx, fs...)
	m.notify(ctx, fs[0], data)
}

// equivocators returns the policy witnesses that cosigned both sides.
func (m *Monitor) equivocators(ctx context.Context, a, b *c2sp.SignedCheckpoint) []string {
	if m.cfg.Policy == nil {
		return nil
	}
	names := func(sc *c2sp.SignedCheckpoint) map[string]bool {
		set := map[string]bool{}
		cps, _ := m.cfg.Store.CheckpointsAtSize(ctx, sc.Size)
		for _, cp := range cps {
			if cp.Root == sc.Hash {
				for _, n := range cp.Cosigners {
					set[n] = true
				}
			}
		}
		if o, err := c2sp.OpenCheckpoint(sc.Bytes, m.cfg.LogVerifier, m.cfg.Policy.WitnessVerifiers()...); err == nil {
			for _, n := range m.cfg.Policy.Cosigners(o.Note) {
				set[n] = true
			}
		}
		return set
	}
	na, nb := names(a), names(b)
	var out []string
	for n := range na {
		if nb[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Webhook is the JSON body POSTed to each webhook for a split view.
type Webhook struct {
	Origin   string          `json:"origin"`
	Finding  finding.Finding `json:"finding"`
	Evidence string          `json:"evidence"` // the bundle, as text
}

// notify posts the split view to every webhook, best effort.
func (m *Monitor) notify(ctx context.Context, f finding.Finding, bundle []byte) {
	body, _ := json.Marshal(Webhook{Origin: m.origin, Finding: f, Evidence: string(bundle)})
	for _, url := range m.cfg.Webhooks {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = m.cfg.HTTPClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					err = fmt.Errorf("HTTP %d", resp.StatusCode)
				}
			}
		}
		cancel()
		if err != nil {
			m.m.errors.WithLabelValues("webhook").Inc()
			m.log.Warn("couldn't post to webhook", "url", url, "err", err)
		}
	}
}

// writeEvidenceFile writes an evidence bundle (public) into the evidence
// folder, creating it if need be.
func writeEvidenceFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("couldn't create %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.Write(path, data, 0o644)
}
