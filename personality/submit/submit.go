// Package submit is the write path's checks: an envelope is parsed, its
// submitter and key looked up in the registry, its signature verified, its
// body validated against the schema of its kind and version, the
// per-submitter rate limit applied, and only then queued in Trillian. Every
// rejection is a *Rejection carrying the HTTP status and a one-line reason;
// nothing rejected reaches the log.
package submit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/internal/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/time/rate"
)

// Rejection is a submission refused for a reason the submitter can fix (or
// wait out): Status is the HTTP status, Reason one line, Outcome a metrics label.
type Rejection struct {
	Status     int
	Outcome    string
	Reason     string
	RetryAfter time.Duration
}

func (r *Rejection) Error() string { return r.Reason }

func reject(status int, outcome, format string, args ...any) *Rejection {
	return &Rejection{Status: status, Outcome: outcome, Reason: fmt.Sprintf(format, args...)}
}

// Config configures a Submitter.
type Config struct {
	// Registry is the submitter registry in force.
	Registry func() *registry.Registry
	// Validator validates bodies against the schemas.
	Validator *schemas.Validator
	// Log queues leaves.
	Log logbackend.Log
	// PerSubmitter is each organisation's sustained rate (events/s) and
	// Burst its burst; zero disables the limit.
	PerSubmitter float64
	Burst        int
	// MaxBacklog bounds submissions in flight (queued but not yet answered)
	// across all submitters; zero means 10000.
	MaxBacklog int
	// Now returns the time (tests override it).
	Now func() time.Time
}

// Submitter runs the write path. It is safe for concurrent use.
type Submitter struct {
	cfg      Config
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	inflight chan struct{}
}

// New returns a Submitter.
func New(cfg Config) *Submitter {
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Submitter{cfg: cfg, limiters: map[string]*rate.Limiter{}, inflight: make(chan struct{}, cfg.MaxBacklog)}
}

// Accepted is a submission queued (or found already logged).
type Accepted struct {
	Envelope *event.Envelope
	Event    *event.Event
	// Leaf is the logged bytes (the canonical envelope).
	Leaf []byte
	// Duplicate is true when the same event was submitted before; Leaf is
	// then the earlier, logged copy.
	Duplicate bool
}

// Acquire takes a backlog slot, or returns a 503 Rejection when the backlog
// is full; call the returned release when the request is answered.
func (s *Submitter) Acquire() (release func(), err error) {
	select {
	case s.inflight <- struct{}{}:
		return func() { <-s.inflight }, nil
	default:
		return nil, &Rejection{Status: http.StatusServiceUnavailable, Outcome: "backlog", Reason: "the log is at its backlog limit; retry later", RetryAfter: time.Second}
	}
}

// Submit checks body and queues it. A *Rejection is the submitter's fault or
// a limit; any other error is the server's (500/503).
func (s *Submitter) Submit(ctx context.Context, body []byte) (*Accepted, error) {
	env, err := event.ParseEnvelope(body)
	if err != nil {
		return nil, reject(http.StatusBadRequest, "malformed", "%v", err)
	}
	ev, err := event.ParseEvent(env.Payload)
	if err != nil {
		return nil, reject(http.StatusBadRequest, "malformed", "%v", err)
	}
	if ev.Submitter.KeyID != env.Signatures[0].KeyID {
		return nil, reject(http.StatusBadRequest, "malformed", "submitter.key_id does not match the envelope signature's keyid")
	}
	pub, err := s.cfg.Registry().Lookup(ev.Submitter.Org, ev.Submitter.KeyID, ev.Kind, s.cfg.Now())
	switch {
	case errors.Is(err, registry.ErrUnknownSubmitter):
		return nil, reject(http.StatusUnauthorized, "unknown_submitter", "%v", err)
	case errors.Is(err, registry.ErrKeyNotValid), errors.Is(err, registry.ErrKindNotAllowed):
		return nil, reject(http.StatusForbidden, "forbidden", "%v", err)
	case err != nil:
		return nil, err
	}
	if err := env.Verify(pub); err != nil {
		return nil, reject(http.StatusForbidden, "bad_signature", "the envelope signature does not verify with key %s… of %s", ev.Submitter.KeyID[:12], ev.Submitter.Org)
	}
	if err := s.cfg.Validator.Validate(ev.Kind, ev.Version, ev.Body); err != nil {
		var ve *schemas.ValidationError
		switch {
		case errors.As(err, &ve):
			return nil, reject(http.StatusBadRequest, "schema", "body%s: %s", ve.Field, ve.Reason)
		case errors.Is(err, schemas.ErrUnknownVersion):
			return nil, reject(http.StatusBadRequest, "schema", "version: %s has no schema version %d", ev.Kind, ev.Version)
		default:
			return nil, reject(http.StatusBadRequest, "schema", "body: %v", err)
		}
	}
	if r := s.limiter(ev.Submitter.Org); r != nil {
		res := r.ReserveN(s.cfg.Now(), 1)
		if d := res.DelayFrom(s.cfg.Now()); d > 0 {
			res.CancelAt(s.cfg.Now())
			return nil, &Rejection{Status: http.StatusTooManyRequests, Outcome: "rate_limited",
				Reason: fmt.Sprintf("%s is over its rate limit of %g events/s", ev.Submitter.Org, s.cfg.PerSubmitter), RetryAfter: d}
		}
	}
	leaf := env.Marshal()
	existing, dup, err := s.cfg.Log.QueueLeaf(ctx, leaf, env.IdentityHash())
	if errors.Is(err, logbackend.ErrPushback) {
		return nil, &Rejection{Status: http.StatusServiceUnavailable, Outcome: "pushback", Reason: "the log is overloaded; retry later", RetryAfter: time.Second}
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't queue the event: %w", err)
	}
	if dup {
		leaf = existing
	}
	return &Accepted{Envelope: env, Event: ev, Leaf: leaf, Duplicate: dup}, nil
}

func (s *Submitter) limiter(org string) *rate.Limiter {
	if s.cfg.PerSubmitter <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limiters[org]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.cfg.PerSubmitter), max(s.cfg.Burst, 1))
		s.limiters[org] = l
	}
	return l
}

// Backlog returns the number of submissions in flight.
func (s *Submitter) Backlog() int { return len(s.inflight) }
