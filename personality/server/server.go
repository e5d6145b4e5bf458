// Package server is htlog-server's HTTP API: the write path (POST
// /add-event, receipts), the C2SP tlog-tiles read API (/checkpoint, /tile/...)
// and the dynamic endpoints light clients use (proofs, entries, events by id,
// lookup by pseudonymous tag), plus /schemas, /valuesets, /healthz and /metrics. Every
// handler returns (status, error); one adapter writes a one-line text/plain
// reason for 4xx and a generic message for 5xx (the detail goes to the log).
package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/personality/apierr"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/mod/sumdb/note"
)

// Config configures the Server.
type Config struct {
	// Submitter runs the write path; nil makes the server read-only.
	Submitter *submit.Submitter
	// Store is the log's tables (tiles.Store on MariaDB, tiles.Memory in
	// unit tests).
	Store Store
	// Verifier verifies the log's checkpoint signature.
	Verifier note.Verifier
	// Signer is the log's key, used to sign inclusion promises (202 answers).
	Signer note.Signer
	// Submitters, if not nil, returns the submitter registry in force,
	// published at GET /registry signed by Signer (registry.go).
	Submitters func() *registry.Registry
	// MaxMergeDelay is the longest a promised event may take to appear in a
	// published checkpoint (default 60s); promises state it.
	MaxMergeDelay time.Duration
	// ReceiptTimeout bounds how long POST /add-event waits for the event to
	// appear in a published checkpoint before answering 202 (default 10s).
	ReceiptTimeout time.Duration
	// MaxCheckpointAge makes /healthz fail when the newest published
	// checkpoint is older (default 30s).
	MaxCheckpointAge time.Duration
	// Logger receives structured logs (never event bodies).
	Logger *slog.Logger
	// Registry, if not nil, is served at /metrics and receives the server's metrics.
	Registry *prometheus.Registry
}

// Store is what the HTTP API reads, the receipts' watcher follows and the
// merge guard asks.
type Store interface {
	Size(ctx context.Context) (uint64, c2sp.Hash, error)
	Tile(ctx context.Context, ref c2sp.TileRef) ([]byte, error)
	EntryBundle(ctx context.Context, index uint64, width int) ([]byte, error)
	Entries(ctx context.Context, start, count uint64) ([][]byte, error)
	EventIndex(ctx context.Context, id [32]byte) (uint64, error)
	EventsInRange(ctx context.Context, from, to uint64) (map[[32]byte]uint64, error)
	InclusionProof(ctx context.Context, index, size uint64) ([]c2sp.Hash, error)
	InclusionProofs(ctx context.Context, indexes []uint64, size uint64) ([][]c2sp.Hash, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error)
	Lookup(ctx context.Context, tag string, after int64, limit int) ([]uint64, error)
	Latest(ctx context.Context) (tiles.Published, float64, error)
	Waiting(ctx context.Context) (tiles.Waiting, error)
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	metrics *metrics
	watch   *watcher
	guard   *mergeGuard // nil when read-only
	gzip    *gzipCache  // gzip encodings of full entry bundles
}

// New returns a Server; Run must be running for receipts to be answered.
func New(cfg Config) *Server {
	if cfg.ReceiptTimeout <= 0 {
		cfg.ReceiptTimeout = 10 * time.Second
	}
	if cfg.MaxMergeDelay <= 0 {
		cfg.MaxMergeDelay = time.Minute
	}
	if cfg.MaxCheckpointAge <= 0 {
		cfg.MaxCheckpointAge = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, watch: newWatcher(cfg.Store), gzip: newGzipCache(1024)}
	var backlog func() int
	var mergeLag func() float64
	if cfg.Submitter != nil {
		backlog = cfg.Submitter.Backlog
		s.guard = &mergeGuard{limit: cfg.MaxMergeDelay / 2, waiting: cfg.Store.Waiting, log: cfg.Logger}
		mergeLag = func() float64 { lag, _, _ := s.guard.lag(time.Now()); return lag.Seconds() }
	}
	s.metrics = newMetrics(cfg.Registry, backlog, mergeLag)
	return s
}

// Run follows the published checkpoint so waiting receipts are answered,
// and what waits for publication for the merge guard.
func (s *Server) Run(ctx context.Context) {
	if s.guard != nil {
		go s.guard.run(ctx, 250*time.Millisecond)
	}
	s.watch.run(ctx, 50*time.Millisecond)
}

// Handler returns the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern, name string, f handlerFunc) { mux.Handle(pattern, s.adapt(name, f)) }
	h("POST /add-event", "add-event", s.addEvent)
	h("GET /receipt/{id}", "receipt", s.receipt)
	h("GET /checkpoint", "checkpoint", s.checkpoint)
	h("GET /tile/{path...}", "tile", s.tile)
	h("GET /proof/inclusion", "inclusion", s.inclusion)
	h("GET /proof/consistency", "consistency", s.consistency)
	h("GET /entries", "entries", s.entries)
	h("GET /event/{id}", "event", s.event)
	h("GET /lookup/{tag}", "lookup", s.lookup)
	h("GET /schemas/{kind}/{file}", "schemas", s.schema)
	h("GET /valuesets/{file}", "valuesets", s.valueSet)
	h("GET /healthz", "healthz", s.healthz)
	h("GET /registry", "registry", s.registry)
	mux.Handle("GET /patient/", webHandler())
	if s.cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	}
	return mux
}

// handlerFunc writes a success response itself or returns a status and error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (int, error)

func badRequest(format string, args ...any) error { return apierr.BadRequest(format, args...) }

// statusOf maps an error a handler returned to its answer: an *apierr.Error
// is the client's (its status and reason, and Retry-After), a read beyond
// the tree or of an unknown event is 404, anything else is the server's
// (status 500, or the handler's own 5xx) with a generic reason, and
// internal reports that it must be logged.
func statusOf(handlerStatus int, err error) (status int, reason string, retryAfter time.Duration, internal bool) {
	var ae *apierr.Error
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Reason, ae.RetryAfter, false
	case errors.Is(err, tiles.ErrBeyondTree), errors.Is(err, tiles.ErrNoSuchEvent), errors.Is(err, tiles.ErrNoCheckpoint):
		return http.StatusNotFound, err.Error(), 0, false
	}
	if handlerStatus < 500 {
		handlerStatus = http.StatusInternalServerError
	}
	return handlerStatus, "internal error", 0, true
}

func (s *Server) adapt(name string, f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status, err := f(w, r)
		if err != nil {
			var msg string
			var retryAfter time.Duration
			var internal bool
			status, msg, retryAfter, internal = statusOf(status, err)
			if internal {
				s.cfg.Logger.Error("request failed", "endpoint", name, "err", err)
			}
			if retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds()+0.999)))
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			io.WriteString(w, oneLine(msg)+"\n")
		}
		s.metrics.request(name, status, time.Since(start))
	})
}

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' || c == '\r' {
			s = s[:i]
			break
		}
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// watcher follows the latest published checkpoint and hands the requests
// waiting for their events their receipts: on each newer checkpoint it reads,
// in one query, which events the new part of the tree holds, builds the
// inclusion proofs of those with waiters from one batch of stored hashes,
// and delivers each to its waiters, so a thousand waiting submissions cost a
// few queries per checkpoint, not a thousand.
type watcher struct {
	store   Store
	mu      sync.Mutex
	latest  tiles.Published
	started bool
	waiting map[[32]byte][]chan receipt
}

// receipt is what a waiter receives: its tlog-proof and index, or nothing
// (Proof nil) when it should look for itself.
type receipt struct {
	Proof []byte
	Index uint64
}

func newWatcher(store Store) *watcher {
	return &watcher{store: store, waiting: map[[32]byte][]chan receipt{}}
}

func (w *watcher) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if p, _, err := w.store.Latest(ctx); err == nil {
			w.advance(ctx, p)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// advance records p and delivers receipts to the waiters of events in the
// new range.
func (w *watcher) advance(ctx context.Context, p tiles.Published) {
	w.mu.Lock()
	prev, started := w.latest, w.started
	if started && p.Size == prev.Size && !bytes.Equal(p.Note, prev.Note) {
		w.latest = p // republished: the same tree, fresher cosignatures
	}
	w.mu.Unlock()
	if started && p.Size <= prev.Size {
		return
	}
	var events map[[32]byte]uint64
	receipts := map[[32]byte]receipt{}
	w.mu.Lock()
	waiters := len(w.waiting) > 0
	w.mu.Unlock()
	// With nobody waiting (async submissions) there is nothing to look up;
	// a waiter that registers meanwhile looks for itself after registering.
	if started && waiters {
		var err error
		if events, err = w.store.EventsInRange(ctx, prev.Size, p.Size); err != nil {
			return // try again on the next tick
		}
		w.prove(ctx, p, events, receipts)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest, w.started = p, true
	if !started { // the first checkpoint seen: every waiter looks again
		for id, chans := range w.waiting {
			for _, ch := range chans {
				ch <- receipt{}
			}
			delete(w.waiting, id)
		}
	}
	for id := range events {
		for _, ch := range w.waiting[id] {
			ch <- receipts[id] // the zero receipt if it registered after prove
		}
		delete(w.waiting, id)
	}
}

// prove fills receipts with the tlog-proofs, in checkpoint p, of the events
// that have waiters. On failure it leaves receipts empty and the waiters
// look for themselves.
func (w *watcher) prove(ctx context.Context, p tiles.Published, events map[[32]byte]uint64, receipts map[[32]byte]receipt) {
	var ids [][32]byte
	var indexes []uint64
	w.mu.Lock()
	for id, idx := range events {
		if len(w.waiting[id]) > 0 {
			ids, indexes = append(ids, id), append(indexes, idx)
		}
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	proofs, err := w.store.InclusionProofs(ctx, indexes, p.Size)
	if err != nil {
		return
	}
	for k, id := range ids {
		receipts[id] = receipt{Proof: c2sp.Proof{Index: indexes[k], Hashes: proofs[k], Checkpoint: p.Note}.Marshal(), Index: indexes[k]}
	}
}

// current returns the latest checkpoint seen.
func (w *watcher) current() tiles.Published {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest
}

// published returns the latest checkpoint seen and whether one was: what
// GET /checkpoint serves without a database query (at most one poll, 50 ms,
// behind the store).
func (w *watcher) published() (tiles.Published, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.started
}

// wait registers interest in event id: the channel receives one receipt
// when a checkpoint containing it is published (an empty one when the
// waiter should look for itself). cancel must be called if the caller stops
// waiting first.
func (w *watcher) wait(id [32]byte) (ch <-chan receipt, cancel func()) {
	c := make(chan receipt, 1)
	w.mu.Lock()
	w.waiting[id] = append(w.waiting[id], c)
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		list := w.waiting[id]
		for i, x := range list {
			if x == c {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.waiting, id)
		} else {
			w.waiting[id] = list
		}
	}
}
