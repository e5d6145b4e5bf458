// Package submit is the write path: an envelope passes the admission check
// (package admission: envelope, registry, signature, schema, privacy,
// identity and time, the same code the monitor runs on replay), a trial
// event is checked against the sponsor that registered its trial, the
// per-submitter rate limit is applied (a resubmission of an event already
// logged or queued costs nothing: it is answered from the dedup path), and
// only then is the event appended to the log's sequence (package batch: one
// transaction per batch of concurrent submissions), which is the
// acknowledgement point. Every rejection is a *Rejection carrying the
// HTTP status and a one-line reason; nothing rejected reaches the log.
package submit

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/personality/apierr"
	"github.com/htlog/htlog/personality/tiles"
	"golang.org/x/time/rate"
)

// Rejection is a submission refused for a reason the submitter can fix (or
// wait out): htlog-server's one client error type, apierr.Error (Status is
// the HTTP status, Reason one line, Outcome a metrics label).
type Rejection = apierr.Error

// TrialClaims records which sponsor registered each trial on this log.
// Implementations are safe for concurrent use and durable before they
// return.
type TrialClaims interface {
	// Claim returns the sponsor that registered registryID, "" if none
	// has. When none has and sponsor is not empty, it first records
	// sponsor as the owner; of concurrent claims exactly one wins and every
	// caller gets the winner.
	Claim(ctx context.Context, registryID, sponsor string) (owner string, err error)
}

// Logged answers whether an event is already appended, so that a
// resubmission by a submitter at its rate limit is answered rather than
// refused; it returns the logged entry, or nil when the event is not
// appended.
type Logged func(ctx context.Context, id [32]byte) (leaf []byte, err error)

// Sequence appends an admitted event durably and returns its index (an
// event appended before: the earlier index and leaf, Duplicate set).
// *batch.Batcher is the implementation.
type Sequence interface {
	Add(ctx context.Context, p tiles.Pending) (tiles.Appended, error)
}

// Config configures a Submitter.
type Config struct {
	// Admission is the admission check.
	Admission *admission.Checker
	// Trials holds the trials' registering sponsors.
	Trials TrialClaims
	// Logged finds already appended events; nil sends every event to the
	// rate limit and to the sequence's dedup.
	Logged Logged
	// Sequence appends admitted events.
	Sequence Sequence
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

// Accepted is a submission appended (or found appended before).
type Accepted struct {
	Envelope *event.Envelope
	Event    *event.Event
	// Leaf is the logged bytes (the canonical envelope).
	Leaf []byte
	// Index is the event's index in the log; Known is false when a
	// resubmission was answered from the Logged lookup, which gives none.
	Index uint64
	Known bool
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

// Submit checks body and appends it. A *Rejection is the submitter's fault or
// a limit; any other error is the server's (500/503).
func (s *Submitter) Submit(ctx context.Context, body []byte) (*Accepted, error) {
	v := s.cfg.Admission.Check(body, s.cfg.Now(), false)
	if r := v.First(); r != nil {
		return nil, &Rejection{Status: r.Status, Outcome: r.Code, Reason: r.Reason}
	}
	env, ev := v.Envelope, v.Event
	if registryID, subtype, sponsor, ok := admission.TrialRef(ev, v.Body); ok {
		claim := ""
		if subtype == "registration" {
			claim = sponsor
		}
		owner, err := s.cfg.Trials.Claim(ctx, registryID, claim)
		if err != nil {
			return nil, fmt.Errorf("couldn't read the trial's registration: %w", err)
		}
		if r := admission.CheckTrialOwner(subtype, sponsor, admission.TrialClaim{Owner: owner}); r != nil {
			return nil, &Rejection{Status: r.Status, Outcome: r.Code, Reason: r.Reason}
		}
	}
	var reservation *rate.Reservation
	if r := s.limiter(ev.Submitter.Org); r != nil {
		res := r.ReserveN(s.cfg.Now(), 1)
		if d := res.DelayFrom(s.cfg.Now()); d > 0 {
			res.CancelAt(s.cfg.Now())
			// Over the limit: a resubmission of a logged event (anyone
			// may replay the public entries) is answered from the dedup
			// path, free. Under it, the sequence's dedup answers and the
			// token is given back (below): no database query is added to
			// the common path.
			if acc, err := s.logged(ctx, env, ev); acc != nil || err != nil {
				return acc, err
			}
			return nil, &Rejection{Status: http.StatusTooManyRequests, Outcome: "rate_limited",
				Reason: fmt.Sprintf("%s is over its rate limit of %g events/s", ev.Submitter.Org, s.cfg.PerSubmitter), RetryAfter: d}
		}
		reservation = res
	}
	leaf := body
	if !v.Canonical {
		leaf = env.Marshal() // the log holds the canonical form
	}
	a, err := s.cfg.Sequence.Add(ctx, tiles.NewPending(env, ev, leaf))
	if err != nil {
		if ctx.Err() != nil {
			return nil, &Rejection{Status: http.StatusServiceUnavailable, Outcome: "cancelled", Reason: "the request ended before the event was acknowledged; resubmit it (it is never logged twice)", RetryAfter: time.Second}
		}
		return nil, fmt.Errorf("couldn't append the event: %w", err)
	}
	if a.Duplicate && reservation != nil {
		// Appended before: give the token back.
		reservation.CancelAt(s.cfg.Now())
	}
	return &Accepted{Envelope: env, Event: ev, Leaf: a.Leaf, Index: a.Index, Known: true, Duplicate: a.Duplicate}, nil
}

// logged returns the Accepted answer of an event already appended, nil if
// it is not (or there is no Logged lookup).
func (s *Submitter) logged(ctx context.Context, env *event.Envelope, ev *event.Event) (*Accepted, error) {
	if s.cfg.Logged == nil {
		return nil, nil
	}
	leaf, err := s.cfg.Logged(ctx, env.IdentityHash())
	if err != nil {
		return nil, fmt.Errorf("couldn't look the event up: %w", err)
	}
	if leaf == nil {
		return nil, nil
	}
	return &Accepted{Envelope: env, Event: ev, Leaf: leaf, Duplicate: true}, nil
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
