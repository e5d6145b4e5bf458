// Package checkpoint publishes the log's checkpoints. The replica that holds
// the publisher lease integrates the appended events into the tree (the
// tile store computes the root from the entries' own bytes), feeds them in
// order to Trillian's PREORDERED_LOG tree (AddSequenced), and checks
// Trillian's root at every size Trillian reaches against htlog's: a
// mismatch stops publication. On every tick it checks the new tree against
// the last published checkpoint, signs a C2SP checkpoint with the log's
// note key, collects cosignatures from the witnesses of the tlog-policy
// over tlog-witness, and publishes the cosigned checkpoint once the
// policy's quorum is met.
//
// Publication does not wait for Trillian's signer, so a stalled signer
// delays the check, not the log's promises; it is bounded: the published
// tree is never more than MaxUnverified leaves ahead of what Trillian has
// confirmed. Trillian does not sign its roots: everything htlog signs, it
// has computed itself.
package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htlog/htlog/c2sp"
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
	// Log is Trillian's PREORDERED_LOG tree.
	Log logbackend.Log
	// Legacy, if set, is the LOG tree of a log upgraded from per-event
	// queueing: what it still sequences is appended to the log.
	Legacy logbackend.Reader
	// MaxUnverified bounds how far the published tree may run ahead of the
	// size at which Trillian's root was checked (default 500,000 leaves).
	MaxUnverified uint64
	// Store is the log's tables (tiles.Store on MariaDB, tiles.Memory in
	// unit tests).
	Store Store
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

// Store is what the publisher integrates, feeds Trillian from and
// publishes to.
type Store interface {
	Append(ctx context.Context, batch []tiles.Pending) ([]tiles.Appended, error)
	Integrate(ctx context.Context, max int) (uint64, c2sp.Hash, error)
	Size(ctx context.Context) (uint64, c2sp.Hash, error)
	RootAt(ctx context.Context, size uint64) (c2sp.Hash, error)
	EntriesWithIDs(ctx context.Context, start, count uint64) ([][]byte, [][32]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error)
	Latest(ctx context.Context) (tiles.Published, float64, error)
	Publish(ctx context.Context, size uint64, note []byte) error
	LegacyNext(ctx context.Context) (uint64, error)
	SetLegacyNext(ctx context.Context, n uint64) error
}

// Publisher publishes checkpoints; run it in one process at a time (Run
// takes a database lease).
type Publisher struct {
	cfg       Config
	witnesses []*witnessClient
	mu        sync.Mutex // serialises publishing rounds
	imu       sync.Mutex // serialises integration
	fmu       sync.Mutex // serialises feeding Trillian
	fed       uint64     // leaves stored in Trillian (under fmu); valid if fedKnown
	fedKnown  bool
	fedNow    atomic.Uint64 // fed, for readers that must not wait for fmu
	vmu       sync.Mutex    // guards verified
	verified  uint64        // the size at which Trillian's root matched htlog's
}

// Errors PublishOnce returns that mean the log must not publish.
var (
	// ErrRootMismatch: Trillian's root is not the root htlog computed from
	// the same leaves.
	ErrRootMismatch = errors.New("the root Trillian reports does not match the root htlog computed from its leaves")
	// ErrInconsistent: the tree is not consistent with the last published
	// checkpoint (or Trillian's tree shrank).
	ErrInconsistent = errors.New("the tree is not consistent with the last published checkpoint")
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
	if cfg.MaxUnverified == 0 {
		cfg.MaxUnverified = 500_000
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

// IntegrateOnce integrates every appended event into the tree (the store
// computes the root from the entries). It returns the integrated size and
// root. Run calls it more often than it publishes, so that a publishing
// round finds the leaves already integrated.
func (p *Publisher) IntegrateOnce(ctx context.Context) (uint64, c2sp.Hash, error) {
	p.imu.Lock()
	defer p.imu.Unlock()
	prev, _, err := p.cfg.Store.Size(ctx)
	if err != nil {
		return 0, c2sp.Hash{}, err
	}
	// Chunk after chunk while a backlog remains; a chunk that is not full
	// ends the round, so a steady stream of appends never keeps it here.
	for {
		size, root, err := p.cfg.Store.Integrate(ctx, tiles.MaxIntegrate)
		if err != nil {
			return 0, c2sp.Hash{}, err
		}
		if size-prev < tiles.MaxIntegrate {
			return size, root, nil
		}
		prev = size
	}
}

// PublishOnce runs one round: integrate, check against Trillian and the
// last checkpoint, sign, cosign, publish. It returns the size published (0
// and nil if there was nothing to do).
func (p *Publisher) PublishOnce(ctx context.Context) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	phases := p.cfg.Metrics.startPhases()
	size, rootHash, err := p.IntegrateOnce(ctx)
	if err != nil {
		return 0, err
	}
	phases.done("integrate")
	verified, err := p.checkTrillian(ctx, size)
	if err != nil {
		return 0, err
	}
	phases.done("trillian")
	limited := false
	if limit := verified + p.cfg.MaxUnverified; size > limit {
		limited = true
		p.cfg.Logger.Warn("Trillian's signer is behind: publishing only up to the unverified bound", "integrated", size, "verified", verified, "published_up_to", limit)
		size = limit
		if rootHash, err = p.cfg.Store.RootAt(ctx, size); err != nil {
			return 0, err
		}
	}
	latest, age, err := p.cfg.Store.Latest(ctx)
	switch {
	case errors.Is(err, tiles.ErrNoCheckpoint):
	case err != nil:
		return 0, err
	default:
		p.cfg.Metrics.backlog(size, latest.Size)
		if latest.Size > size {
			if limited {
				return 0, nil // held back by the unverified bound
			}
			return 0, fmt.Errorf("%w: published size %d is above the integrated %d", ErrInconsistent, latest.Size, size)
		}
		if latest.Size == size && age < p.cfg.Republish.Seconds() {
			return 0, nil
		}
		if err := p.checkPublished(ctx, latest); err != nil {
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

// checkPublished checks that the tree still has the last published
// checkpoint's root at its size: the tree only grows, so the new
// checkpoint is consistent with it (the witnesses check the proof too).
func (p *Publisher) checkPublished(ctx context.Context, latest tiles.Published) error {
	sc, err := c2sp.OpenCheckpoint(latest.Note, p.cfg.Verifier)
	if err != nil {
		return fmt.Errorf("couldn't open the last published checkpoint: %w", err)
	}
	ours, err := p.cfg.Store.RootAt(ctx, latest.Size)
	if err != nil {
		return err
	}
	if ours != sc.Hash {
		return fmt.Errorf("%w: the tree's root at size %d is not the published one", ErrInconsistent, latest.Size)
	}
	return nil
}

// trillianTimeout bounds the publisher's wait for Trillian's root.
const trillianTimeout = 2 * time.Second

// checkTrillian compares Trillian's newest root with htlog's root at the
// same size, once for each size Trillian reaches, and returns the largest
// size checked. A Trillian that cannot be reached is logged and leaves the
// checked size where it was.
func (p *Publisher) checkTrillian(ctx context.Context, integrated uint64) (uint64, error) {
	p.vmu.Lock()
	defer p.vmu.Unlock()
	// A Trillian that hangs must not hold publication up.
	tctx, cancel := context.WithTimeout(ctx, trillianTimeout)
	r, err := p.cfg.Log.LatestRoot(tctx)
	cancel()
	if err != nil {
		p.cfg.Logger.Warn("couldn't read Trillian's root; its check waits", "err", err)
		return p.verified, nil
	}
	switch {
	case r.Size < p.verified:
		return 0, fmt.Errorf("%w: Trillian's tree has %d leaves, after %d were checked", ErrInconsistent, r.Size, p.verified)
	case r.Size == p.verified && r.Size > 0, r.Size > integrated:
		return p.verified, nil
	}
	ours, err := p.cfg.Store.RootAt(ctx, r.Size)
	if err != nil {
		return 0, err
	}
	if ours != r.Hash {
		return 0, fmt.Errorf("%w at size %d", ErrRootMismatch, r.Size)
	}
	p.verified = r.Size
	p.cfg.Metrics.trillian(integrated, p.fedSize(), r.Size)
	return r.Size, nil
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
