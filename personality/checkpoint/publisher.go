// Package checkpoint publishes the log's checkpoints. On every tick the
// publisher reads Trillian's newest root, integrates the new leaves into the
// tile store (which recomputes the root from the leaves), refuses to go on if
// Trillian's root disagrees or is not consistent with the last published
// checkpoint, signs a C2SP checkpoint with the log's note key, collects
// cosignatures from the witnesses of the tlog-policy over tlog-witness, and
// publishes the cosigned checkpoint once the policy's quorum is met.
//
// Trillian does not sign its roots: everything htlog signs, it has checked.
package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/tiles"
	"golang.org/x/mod/sumdb/note"
)

// Config configures a Publisher.
type Config struct {
	// Signer is the log's note key; its name is the origin.
	Signer note.Signer
	// Verifier verifies Signer's signatures.
	Verifier note.Verifier
	// Log is Trillian.
	Log logbackend.Log
	// Store is the tile store.
	Store *tiles.Store
	// Policy names the witnesses (with URLs) and the quorum; nil or a policy
	// without witnesses publishes log-signed checkpoints only.
	Policy *c2sp.Policy
	// WitnessTimeout bounds each witness request (default 3s).
	WitnessTimeout time.Duration
	// FailOpen publishes even when the quorum is not met (bootstrap only).
	FailOpen bool
	// Republish is how often an unchanged tree gets a freshly cosigned
	// checkpoint (default 60s).
	Republish time.Duration
	// HTTPClient talks to witnesses.
	HTTPClient *http.Client
	// Logger receives structured logs.
	Logger *slog.Logger
	// Metrics records publishing; nil disables.
	Metrics *Metrics
}

// Publisher publishes checkpoints; run it in one process at a time (Run
// takes a database lease).
type Publisher struct {
	cfg       Config
	witnesses []*witnessClient
	mu        sync.Mutex // serialises publishing rounds
	imu       sync.Mutex // serialises integration
}

// Errors PublishOnce returns that mean the log must not publish.
var (
	// ErrRootMismatch: Trillian's root is not the root of the leaves it served.
	ErrRootMismatch = errors.New("the root Trillian reports does not match the root htlog computed from its leaves")
	// ErrInconsistent: Trillian's new tree is not consistent with the last published checkpoint.
	ErrInconsistent = errors.New("the tree Trillian reports is not consistent with the last published checkpoint")
	// ErrQuorum: the witness policy was not met, so nothing was published.
	ErrQuorum = errors.New("witness quorum not met")
)

// New returns a Publisher.
func New(cfg Config) (*Publisher, error) {
	if cfg.Signer == nil || cfg.Verifier == nil || cfg.Log == nil || cfg.Store == nil {
		return nil, errors.New("checkpoint: Signer, Verifier, Log and Store are required")
	}
	if cfg.WitnessTimeout <= 0 {
		cfg.WitnessTimeout = 3 * time.Second
	}
	if cfg.Republish <= 0 {
		cfg.Republish = 60 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Publisher{cfg: cfg}
	if cfg.Policy != nil {
		for _, w := range cfg.Policy.Witnesses {
			if w.URL == "" {
				return nil, fmt.Errorf("checkpoint: witness %s in the policy has no URL to send checkpoints to", w.Name)
			}
			p.witnesses = append(p.witnesses, &witnessClient{w: w, http: cfg.HTTPClient, logVer: cfg.Verifier})
		}
	}
	return p, nil
}

// maxLeavesPerRead bounds one Trillian GetLeavesByRange call.
const maxLeavesPerRead = 1024

// IntegrateOnce reads Trillian's newest root, integrates the leaves up to it
// into the tile store and checks that the root recomputed from them is
// Trillian's. It returns the integrated size and root. Run calls it more
// often than it publishes, so that a publishing round finds the leaves
// already integrated.
func (p *Publisher) IntegrateOnce(ctx context.Context) (uint64, c2sp.Hash, error) {
	p.imu.Lock()
	defer p.imu.Unlock()
	phases := p.cfg.Metrics.startPhases()
	root, err := p.cfg.Log.LatestRoot(ctx)
	if err != nil {
		return 0, c2sp.Hash{}, fmt.Errorf("couldn't read Trillian's root: %w", err)
	}
	size, ours, err := p.cfg.Store.Size(ctx)
	if err != nil {
		return 0, c2sp.Hash{}, err
	}
	phases.done("root")
	if root.Size < size {
		return 0, c2sp.Hash{}, fmt.Errorf("%w: Trillian reports %d leaves but %d were integrated", ErrInconsistent, root.Size, size)
	}
	for size < root.Size {
		leaves, err := p.cfg.Log.Leaves(ctx, size, min(root.Size-size, maxLeavesPerRead))
		if err != nil {
			return 0, c2sp.Hash{}, fmt.Errorf("couldn't read leaves from Trillian: %w", err)
		}
		if len(leaves) == 0 {
			return 0, c2sp.Hash{}, fmt.Errorf("the tree Trillian reports has %d leaves but it served none from %d", root.Size, size)
		}
		values := make([][]byte, len(leaves))
		for i, l := range leaves {
			values[i] = l.Value
		}
		if size, ours, err = p.cfg.Store.Integrate(ctx, size, values); err != nil {
			return 0, c2sp.Hash{}, err
		}
		p.cfg.Metrics.integrated(leaves, time.Now())
	}
	if ours != root.Hash {
		return 0, c2sp.Hash{}, fmt.Errorf("%w at size %d", ErrRootMismatch, size)
	}
	phases.done("integrate")
	return size, root.Hash, nil
}

// PublishOnce runs one round: integrate, verify, sign, cosign, publish. It
// returns the size published (0 and nil if there was nothing to do).
func (p *Publisher) PublishOnce(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	size, rootHash, err := p.IntegrateOnce(ctx)
	if err != nil {
		return 0, err
	}
	phases := p.cfg.Metrics.startPhases()
	latest, age, err := p.cfg.Store.Latest(ctx)
	p.cfg.Metrics.backlog(size, latest.Size)
	switch {
	case errors.Is(err, tiles.ErrNoCheckpoint):
	case err != nil:
		return 0, err
	default:
		if latest.Size > size {
			return 0, fmt.Errorf("%w: published size %d is above the integrated %d", ErrInconsistent, latest.Size, size)
		}
		if latest.Size == size && age < p.cfg.Republish.Seconds() {
			return 0, nil
		}
		if err := p.checkTrillianConsistency(ctx, latest, size, rootHash); err != nil {
			return 0, err
		}
	}

	phases.done("consistency")
	body := c2sp.Checkpoint{Origin: p.cfg.Signer.Name(), Size: size, Hash: rootHash}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, p.cfg.Signer)
	if err != nil {
		return 0, fmt.Errorf("couldn't sign the checkpoint: %w", err)
	}
	cosigned, names := p.collect(ctx, signed, size)
	phases.done("cosign")
	if p.cfg.Policy != nil && !p.cfg.Policy.QuorumMet(names) {
		p.cfg.Metrics.quorumFailed()
		if !p.cfg.FailOpen {
			return 0, fmt.Errorf("%w: %d of %d witnesses cosigned size %d", ErrQuorum, len(names), len(p.witnesses), size)
		}
		p.cfg.Logger.Warn("publishing without a witness quorum (fail_open is set)", "size", size, "cosigners", len(names))
	}
	if err := p.cfg.Store.Publish(ctx, size, cosigned); err != nil {
		return 0, err
	}
	phases.done("store")
	p.cfg.Metrics.backlog(size, size)
	p.cfg.Metrics.published(size, len(names), time.Since(start))
	return size, nil
}

// checkTrillianConsistency verifies Trillian's own consistency proof from the
// last published checkpoint to the new root, on top of htlog's recomputation.
func (p *Publisher) checkTrillianConsistency(ctx context.Context, latest tiles.Published, size uint64, newRoot c2sp.Hash) error {
	if latest.Size == 0 || latest.Size == size {
		return nil
	}
	sc, err := c2sp.OpenCheckpoint(latest.Note, p.cfg.Verifier)
	if err != nil {
		return fmt.Errorf("couldn't open the last published checkpoint: %w", err)
	}
	proof, err := p.cfg.Log.ConsistencyProof(ctx, latest.Size, size)
	if err != nil {
		return fmt.Errorf("couldn't get Trillian's consistency proof: %w", err)
	}
	if err := c2sp.VerifyConsistency(latest.Size, size, sc.Hash, newRoot, proof); err != nil {
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	return nil
}

// collect asks every witness in parallel, each bounded by WitnessTimeout, and
// returns the log-signed checkpoint with every verified cosignature appended
// and the set of witnesses that cosigned.
func (p *Publisher) collect(ctx context.Context, signed []byte, size uint64) ([]byte, map[string]bool) {
	type result struct {
		name  string
		lines []byte
	}
	results := make(chan result, len(p.witnesses))
	proof := func(old uint64) ([]c2sp.Hash, error) { return p.cfg.Store.ConsistencyProof(ctx, old, size) }
	for _, w := range p.witnesses {
		go func() {
			wctx, cancel := context.WithTimeout(ctx, p.cfg.WitnessTimeout)
			defer cancel()
			t := time.Now()
			lines, err := w.cosign(wctx, signed, size, proof)
			p.cfg.Metrics.witnessed(w.w.Name, err, time.Since(t))
			if err != nil {
				p.cfg.Logger.Warn("witness did not cosign", "witness", w.w.Name, "size", size, "err", err)
			}
			results <- result{w.w.Name, lines}
		}()
	}
	out := bytes.Clone(signed)
	names := map[string]bool{}
	for range p.witnesses {
		r := <-results
		if r.lines != nil {
			out = append(out, r.lines...)
			names[r.name] = true
		}
	}
	return out, names
}
