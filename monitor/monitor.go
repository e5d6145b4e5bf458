package monitor

import (
	"context"
	"errors"
	"fmt"
	"github.com/htlog/htlog/internal/registry"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/rules"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/monitor/tlogclient"
	"github.com/htlog/htlog/monitor/tree"
	"github.com/htlog/htlog/schemas"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/time/rate"
)

// Config configures a Monitor. LogURL, LogVerifier and Store are required.
type Config struct {
	// LogURL is the log's tlog-tiles prefix.
	LogURL string
	// LogVerifier verifies the log's signature; its name is the origin.
	LogVerifier note.Verifier
	// Policy, if set, is a tlog-policy the log's checkpoints must satisfy
	// before the monitor follows them; its witnesses' cosignatures are
	// tracked to catch a witness cosigning both sides of a split view.
	Policy *c2sp.Policy
	// Registry returns the current submitter registry.
	Registry func() *registry.Registry
	// Validator validates event bodies.
	Validator *schemas.Validator
	// MaxAhead is how far an entry's occurred_at may lie ahead of the
	// monitor's clock (default: the log's default, 5m); URLPrefixes is the
	// log's URL allow list (default: the log's default). Both must match
	// the log's admission settings.
	MaxAhead    time.Duration
	URLPrefixes []string
	// Witnesses are witness base URLs whose monitoring checkpoints are read.
	Witnesses []string
	// Peers are other monitors (or witnesses) our latest checkpoint is
	// pollinated to.
	Peers []string
	// Webhooks receive a JSON POST for each split view.
	Webhooks []string
	// EvidenceDir, if set, receives each evidence bundle as <id>.txt.
	EvidenceDir string
	// PollInterval is the time between follow rounds (default 2s).
	PollInterval time.Duration
	// Rules tunes the compliance rules.
	Rules rules.Options
	// Fetchers bounds the entry bundles fetched and checked in parallel
	// (default 8).
	Fetchers int
	// CommitEvery is how many entries a long catch-up replays between
	// commits of its progress (default 65536; rounded to whole bundles).
	CommitEvery uint64
	// RulesSmall, RulesEvery and RulesInterval say how often the rules'
	// state is saved. It is saved as rows, only those changed since the
	// last save (rules.Engine.Changes), so a commit saves the changes when
	// fewer than RulesSmall rows (default 65536) changed, and otherwise
	// only when RulesEvery entries (default 65536) or RulesInterval
	// (default 5m) have passed since the last save (rows changed again in
	// between are written once); every commit still saves the position and
	// findings. A restart replays the entries after the saved rules' state
	// again (at most RulesEvery entries, or RulesInterval's worth), whose
	// findings are already recorded and ignored by key.
	RulesSmall    int
	RulesEvery    uint64
	RulesInterval time.Duration
	// PollinateLimit and PollinateBurst rate-limit POST /pollinate per
	// client IP address (default 1 a second, bursts of 10; rate.Inf turns
	// the limit off). A client over it gets 429 with Retry-After.
	PollinateLimit rate.Limit
	PollinateBurst int
	// Store holds the durable state.
	Store store.Store
	// HTTPClient is used for every outgoing request (default: 30s timeout).
	HTTPClient *http.Client
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Metrics, if set, are updated (NewMetrics).
	Metrics *Metrics
	// Regulators may triage findings (triage.go); none: nobody can.
	Regulators []Regulator
	// SecureCookies marks the dashboard's session cookie Secure (set it
	// when the monitor serves HTTPS).
	SecureCookies bool
	// OrgName, if set, returns an organisation's name for the dashboard
	// and reports (empty if unknown).
	OrgName func(org string) string
	// Signer, if set, signs the verdicts GET /verdicts serves (without
	// it that endpoint answers 404).
	Signer note.Signer
}

// Monitor follows one log. Its methods are safe for concurrent use.
type Monitor struct {
	cfg     Config
	origin  string
	client  *tlogclient.Client
	checker *entrycheck.Checker
	log     *slog.Logger
	m       *Metrics

	// round serialises follow rounds (and so every use of tree and engine).
	round  sync.Mutex
	tree   *tree.Tree
	engine *rules.Engine
	// verdicts are the rules' verdicts not committed yet.
	verdicts []finding.Verdict

	// promises are the pending promises' leaves the replay looks out for;
	// promiseRound serialises checkPromises.
	promises     promiseWatch
	promiseRound sync.Mutex

	// rulesSize and rulesAt are the tree size and time of the rules'
	// state last saved (guarded by round).
	rulesSize uint64
	rulesAt   time.Time

	sessions sessions
	// loginLimit bounds sign-in attempts, triageLimit triage requests
	// with an Authorization header, per client address (guessing tokens).
	loginLimit, triageLimit *clientLimiter

	mu        sync.Mutex
	confirmed *c2sp.SignedCheckpoint // latest log checkpoint the replay confirmed; nil before the first
	lastRound time.Time              // when the last follow round ended without error
	// registry is the log's verified registry note (nil before one
	// verified); registryAt when it was read, registryTried when last tried.
	registry                  *client.Registry
	registryAt, registryTried time.Time
}

// New returns a monitor resuming from cfg.Store's state.
func New(ctx context.Context, cfg Config) (*Monitor, error) {
	if cfg.LogURL == "" || cfg.LogVerifier == nil || cfg.Store == nil {
		return nil, errors.New("monitor: LogURL, LogVerifier and Store are required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.Fetchers <= 0 {
		cfg.Fetchers = 8
	}
	if cfg.CommitEvery < c2sp.TileWidth {
		cfg.CommitEvery = 65536
	}
	if cfg.RulesSmall <= 0 {
		cfg.RulesSmall = 65536
	}
	if cfg.RulesEvery == 0 {
		cfg.RulesEvery = 65536
	}
	if cfg.RulesInterval <= 0 {
		cfg.RulesInterval = 5 * time.Minute
	}
	if cfg.PollinateLimit <= 0 {
		cfg.PollinateLimit = 1
	}
	if cfg.PollinateBurst <= 0 {
		cfg.PollinateBurst = 10
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	checker, err := entrycheck.New(entrycheck.Config{Registry: cfg.Registry, Validator: cfg.Validator,
		MaxAhead: cfg.MaxAhead, URLPrefixes: cfg.URLPrefixes})
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &Monitor{
		cfg: cfg, origin: cfg.LogVerifier.Name(), client: tlogclient.New(cfg.LogURL, cfg.HTTPClient),
		checker: checker, loginLimit: newClientLimiter(1, 5), triageLimit: newClientLimiter(2, 20),
		log: cfg.Logger.With("origin", cfg.LogVerifier.Name()), m: cfg.Metrics,
	}
	if err := m.load(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// load (re)sets the replay state from the store.
func (m *Monitor) load(ctx context.Context) error {
	st, err := m.cfg.Store.LoadState(ctx)
	if err != nil {
		return fmt.Errorf("couldn't load the monitor's state: %w", err)
	}
	m.tree, m.engine, m.verdicts = tree.New(), rules.NewEngine(rules.All(m.cfg.Rules)), nil
	var confirmed *c2sp.SignedCheckpoint
	if st != nil {
		if m.tree, err = tree.Restore(st.Size, st.Hashes); err != nil {
			return err
		}
		if err := m.loadRules(ctx, st); err != nil {
			return err
		}
		if len(st.Checkpoint) > 0 {
			if confirmed, err = c2sp.OpenCheckpoint(st.Checkpoint, m.cfg.LogVerifier); err != nil {
				return fmt.Errorf("couldn't open the saved checkpoint (was log.vkey_file changed?): %w", err)
			}
			// A partial catch-up is saved ahead of the confirmed checkpoint
			// (replay's commitProgress); never behind it.
			if confirmed.Size > st.Size || (confirmed.Size == st.Size && confirmed.Hash != m.tree.Root()) {
				return errors.New("the saved checkpoint does not match the saved compact range: the state is corrupt")
			}
		}
		m.rulesSize, m.rulesAt = st.RulesSize, time.Now()
		if st.RulesSize > st.Size {
			return errors.New("the saved rules' state is ahead of the saved position: the state is corrupt")
		}
		if st.RulesSize < st.Size {
			// The rules were saved at an earlier size: replay from there
			// (the next round does) so they see every entry once more.
			if m.tree, err = tree.Restore(st.RulesSize, st.RulesHashes); err != nil {
				return fmt.Errorf("the saved rules' compact range: %w", err)
			}
			m.log.Info("the rules' state was saved at an earlier size; replaying from there", "rules_size", st.RulesSize, "size", st.Size)
		}
	}
	pending, err := m.cfg.Store.PendingPromises(ctx)
	if err != nil {
		return fmt.Errorf("couldn't load the pending promises: %w", err)
	}
	m.promises.reset(pending)
	m.mu.Lock()
	m.confirmed = confirmed
	m.mu.Unlock()
	if confirmed != nil {
		m.m.treeSize.Set(float64(confirmed.Size))
	}
	return nil
}

// loadRules loads the rules' saved rows into the fresh engine, or a
// snapshot saved before rows existed, marked changed so the next save of
// the rules writes it as rows (and drops the snapshot).
func (m *Monitor) loadRules(ctx context.Context, st *store.State) error {
	if st.LegacyRules != nil {
		if err := m.engine.Restore(st.LegacyRules); err != nil {
			return err
		}
		m.engine.TouchAll()
		return nil
	}
	err := m.cfg.Store.LoadRules(ctx, func(r store.RulesRow) error { return m.engine.LoadRow(rules.Row(r)) })
	if err != nil {
		return fmt.Errorf("couldn't load the rules' state: %w", err)
	}
	m.engine.Loaded()
	return nil
}

// Origin returns the log's origin.
func (m *Monitor) Origin() string { return m.origin }

// Confirmed returns the latest log checkpoint the replay confirmed, or nil.
func (m *Monitor) Confirmed() *c2sp.SignedCheckpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.confirmed
}

// Run follows the log, reads witnesses and pollinates peers every
// PollInterval until ctx is done. Failures are logged and retried.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := m.Step(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("follow round failed; retrying", "err", err)
		}
		m.PollWitnesses(ctx)
		m.Gossip(ctx)
		m.refreshRegistryIfDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// record stores findings outside a round and counts them.
func (m *Monitor) record(ctx context.Context, fs ...finding.Finding) {
	now := time.Now().UTC()
	for i := range fs {
		if fs[i].Time.IsZero() {
			fs[i].Time = now
		}
	}
	if err := m.cfg.Store.AddFindings(ctx, fs); err != nil {
		m.m.errors.WithLabelValues("store").Inc()
		m.log.Error("couldn't record findings", "err", err, "count", len(fs))
		return
	}
	m.countFindings(fs)
}

func (m *Monitor) countFindings(fs []finding.Finding) {
	for _, f := range fs {
		m.m.findings.WithLabelValues(f.Rule).Inc()
		if f.Severity == finding.Critical {
			m.log.Error("finding", "rule", f.Rule, "index", f.Index, "detail", f.Detail, "evidence", f.Evidence)
		}
	}
}
