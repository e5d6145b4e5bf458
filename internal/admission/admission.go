// Package admission is the one check every log entry must pass, in one
// place: htlog-server runs it on each submission before anything reaches
// Trillian, and htlog-monitor runs the same code on each entry it replays,
// so the monitor's verdict on an entry is the log's own, and anything the
// monitor flags is something an honest, current log would have refused.
//
// Check runs, in order:
//
//  1. envelope: one canonical DSSE envelope of an htlog event, under the
//     size limit, whose signature names the event's key;
//  2. registry: the submitter and key are registered for the kind, and the
//     key was valid at the event's time;
//  3. signature: the envelope's signature verifies with that key;
//  4. schema: the body is valid under the schema of its kind and version,
//     and the version is one this checker admits (versions 2 and 3 carry no
//     free text: codes from bundled value sets or of named terminologies,
//     checked identifiers, tags, commitments, event ids, times; version 3
//     adds what FHIR AuditEvent/Consent, EPCIS 2.0 and WHO TRDS carry);
//  5. privacy: no string of the body looks like a personal identifier
//     (package phi), and every URL is on the operator's allow list;
//  6. identity and authority: the organisation an event names as acting
//     is the submitter or one it is registered to act for, an ACCESS
//     event's source system is one the submitter declared, a CUSTODY
//     event's locations are the submitter's own;
//  7. time: occurred_at lies in the window around the checker's clock,
//     and version 2 and 3 ACCESS, CONSENT and CUSTODY times are whole
//     minutes; so are the times a version 3 body adds (an access's
//     recorded time, which may not precede occurred_at nor lie ahead of
//     the clock, and the DSCSA determination and notice times).
//
// A trial's later events must come from the sponsor that registered it:
// that needs the log's history, so it is a separate function,
// [CheckTrialOwner], which the server calls with its claim table and the
// monitor with its replayed state.
//
// A refusal never quotes the value at fault, so it can be returned to the
// submitter, logged and published as a finding without leaking what it
// refused.
package admission

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/schemas"
)

// Codes of refusals: a stable name for each step, which the server uses as
// its metrics outcome and the monitor maps to its finding rules.
const (
	CodeMalformed    = "malformed"         // not an htlog envelope or event
	CodeNotCanonical = "not_canonical"     // a logged entry not in canonical form
	CodeSubmitter    = "unknown_submitter" // no such organisation or key
	CodeForbidden    = "forbidden"         // key not valid then, or kind not allowed
	CodeSignature    = "bad_signature"     // the signature does not verify
	CodeSchema       = "schema"            // body invalid, or version not admitted
	CodePrivacy      = "privacy"           // an identifier in clear, a URL off the list
	CodeIdentity     = "identity"          // an actor the submitter may not speak for
	CodeAuthority    = "authority"         // a trial event by someone else than its sponsor
	CodeTime         = "time"              // occurred_at outside the window, or too precise
)

// Refusal is one reason an entry may not be on the log.
type Refusal struct {
	// Code is one of the Code constants.
	Code string
	// Status is the HTTP status htlog-server answers with.
	Status int
	// Reason is one line for the submitter, naming the field at fault and
	// never quoting its value.
	Reason string
}

// Error returns Reason.
func (r *Refusal) Error() string { return r.Reason }

func refuse(code string, status int, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Status: status, Reason: fmt.Sprintf(format, args...)}
}

// Config configures a Checker.
type Config struct {
	// Registry returns the submitter registry in force.
	Registry func() *registry.Registry
	// Validator validates bodies against the schemas.
	Validator *schemas.Validator
	// MinVersion is the lowest schema version admitted for each kind;
	// zero means schemas.MinAdmitted (version 2: versions 2 and 3 are
	// admitted). The server leaves it zero; a monitor replaying a log that
	// predates version 2 sets it to 1.
	MinVersion int
	// MaxAhead bounds how far occurred_at may lie after the clock; zero
	// means DefaultMaxAhead.
	MaxAhead time.Duration
	// MaxBehind bounds how far occurred_at may lie before the clock; zero
	// means DefaultMaxBehind, a negative value turns the bound off (a
	// monitor replaying old entries cannot know when they were admitted).
	MaxBehind time.Duration
	// URLPrefixes is the allow list of URLs a body may carry (a trial's
	// results reference); nil means DefaultURLPrefixes.
	URLPrefixes []string
}

// Defaults of Config.
const (
	DefaultMaxAhead  = 5 * time.Minute
	DefaultMaxBehind = 72 * time.Hour
)

// DefaultURLPrefixes are the public trial registries and DOI resolver.
var DefaultURLPrefixes = []string{
	"https://clinicaltrials.gov/",
	"https://www.clinicaltrials.gov/",
	"https://euclinicaltrials.eu/",
	"https://www.clinicaltrialsregister.eu/",
	"https://www.isrctn.com/",
	"https://trialsearch.who.int/",
	"https://www.anzctr.org.au/",
	"https://drks.de/",
	"https://doi.org/",
}

// Checker runs the admission check. It is safe for concurrent use.
type Checker struct {
	cfg Config
}

// New returns a Checker; it fails on a configuration that cannot work.
func New(cfg Config) (*Checker, error) {
	if cfg.Registry == nil || cfg.Validator == nil {
		return nil, errors.New("admission: a registry and a validator are required")
	}
	if cfg.MaxAhead == 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.MaxAhead < 0 {
		return nil, errors.New("admission: max ahead must not be negative")
	}
	if cfg.MaxBehind == 0 {
		cfg.MaxBehind = DefaultMaxBehind
	}
	if cfg.URLPrefixes == nil {
		cfg.URLPrefixes = DefaultURLPrefixes
	}
	for _, p := range cfg.URLPrefixes {
		if !strings.HasPrefix(p, "https://") || strings.Count(p, "/") < 3 {
			return nil, fmt.Errorf("admission: URL prefix %q must start with https://<host>/", p)
		}
	}
	return &Checker{cfg: cfg}, nil
}

// Verdict is what Check learned about one entry.
type Verdict struct {
	// Envelope and Event are the parsed entry, nil when it could not be
	// parsed.
	Envelope *event.Envelope
	Event    *event.Event
	// ID is the event id, "" when the envelope could not be parsed.
	ID string
	// Body is the body as the schema validator decoded it, nil when the
	// schema refused it.
	Body map[string]any
	// Canonical reports whether the bytes were the envelope's canonical
	// form.
	Canonical bool
	// Authentic reports whether the registry knows the key and the
	// signature verifies: only then may anything act on the entry.
	Authentic bool
	// Refusals are the problems found, in the order of the steps. The
	// entry is admissible when there are none.
	Refusals []*Refusal
}

// OK reports whether the entry is admissible.
func (v *Verdict) OK() bool { return len(v.Refusals) == 0 }

// First returns the first refusal, nil when the entry is admissible.
func (v *Verdict) First() *Refusal {
	if len(v.Refusals) == 0 {
		return nil
	}
	return v.Refusals[0]
}

// Check checks raw, a submitted envelope or a logged entry, at time now.
// With all set, it runs every step it can and reports every refusal (the
// monitor's findings); otherwise it stops at the first (the server's
// answer). A submitted envelope need not be canonical (the server logs its
// canonical form); a logged one must, which the caller judges from
// Verdict.Canonical.
func (c *Checker) Check(raw []byte, now time.Time, all bool) *Verdict {
	return c.check(raw, now, all, "")
}

// CheckOwn is Check (stopping at the first refusal) of an envelope the
// caller has just signed with its own key, whose key id is keyID: where the
// envelope names that key and the registry lists it for the submitter, the
// signature is not verified again. A registry key id is the hash of the key
// itself, so the key the registry would verify with is the key that signed;
// everything else is checked as Check checks it. htlog-gateway pre-checks
// each event it builds this way.
func (c *Checker) CheckOwn(raw []byte, now time.Time, keyID string) *Verdict {
	return c.check(raw, now, false, keyID)
}

func (c *Checker) check(raw []byte, now time.Time, all bool, ownKeyID string) *Verdict {
	v := new(Verdict)
	add := func(r *Refusal) bool {
		v.Refusals = append(v.Refusals, r)
		return all
	}
	env, canonical, err := event.ParseEnvelopeCanonical(raw)
	if err != nil {
		add(refuse(CodeMalformed, http.StatusBadRequest, "%s", oneLine(err)))
		return v
	}
	v.Envelope, v.Canonical, v.ID = env, canonical, env.ID()
	ev, err := event.ParseEvent(env.Payload)
	if err != nil {
		add(refuse(CodeMalformed, http.StatusBadRequest, "%s", oneLine(err)))
		return v
	}
	v.Event = ev
	if ev.Submitter.KeyID != env.Signatures[0].KeyID {
		add(refuse(CodeMalformed, http.StatusBadRequest, "submitter.key_id does not match the envelope signature's keyid"))
		return v
	}
	reg := c.cfg.Registry()
	at := ev.Time()
	pub, err := reg.Lookup(ev.Submitter.Org, ev.Submitter.KeyID, ev.Kind, at)
	switch {
	case errors.Is(err, registry.ErrUnknownSubmitter):
		if !add(refuse(CodeSubmitter, http.StatusUnauthorized, "%s", oneLine(err))) {
			return v
		}
	case err != nil:
		if !add(refuse(CodeForbidden, http.StatusForbidden, "%s", oneLine(err))) {
			return v
		}
	case ownKeyID != "" && env.Signatures[0].KeyID == ownKeyID:
		v.Authentic = true
	case env.Verify(pub) != nil:
		if !add(refuse(CodeSignature, http.StatusForbidden, "the envelope signature does not verify with key %s… of %s", ev.Submitter.KeyID[:12], ev.Submitter.Org)) {
			return v
		}
	default:
		v.Authentic = true
	}
	if r := c.checkVersion(ev); r != nil {
		if !add(r) {
			return v
		}
	} else if body, err := c.cfg.Validator.ValidateDecoded(ev.Kind, ev.Version, ev.Body); err != nil {
		if !add(schemaRefusal(ev, err)) {
			return v
		}
	} else {
		v.Body = body
	}
	if r := c.checkPrivacy(ev); r != nil {
		if !add(r) {
			return v
		}
	}
	if sub, ok := reg.Submitter(ev.Submitter.Org); ok && v.Body != nil {
		if r := checkIdentity(sub, ev, v.Body); r != nil {
			if !add(r) {
				return v
			}
		}
	}
	if r := c.checkTime(ev, v.Body, at, now); r != nil {
		add(r)
	}
	return v
}

// checkVersion refuses a version below the admitted minimum. An unknown
// version is the validator's to report.
func (c *Checker) checkVersion(ev *event.Event) *Refusal {
	latest := schemas.Latest(ev.Kind)
	minimum := c.cfg.MinVersion
	if minimum <= 0 {
		minimum = schemas.MinAdmitted
	}
	if ev.Version < minimum {
		return refuse(CodeSchema, http.StatusBadRequest, "version: %s events must use schema version %d to %d (schemas/%s/v%d.json); version %d allowed free text and is no longer admitted", ev.Kind, minimum, latest, ev.Kind, latest, ev.Version)
	}
	return nil
}

func schemaRefusal(ev *event.Event, err error) *Refusal {
	var ve *schemas.ValidationError
	switch {
	case errors.As(err, &ve):
		return refuse(CodeSchema, http.StatusBadRequest, "body%s: %s", ve.Field, ve.Reason)
	case errors.Is(err, schemas.ErrUnknownVersion):
		return refuse(CodeSchema, http.StatusBadRequest, "version: %s has no schema version %d", ev.Kind, ev.Version)
	default:
		return refuse(CodeSchema, http.StatusBadRequest, "body: %s", oneLine(err))
	}
}

// checkTime bounds occurred_at around now and, for the kinds whose times
// can single a person out, requires whole minutes.
func (c *Checker) checkTime(ev *event.Event, body map[string]any, at, now time.Time) *Refusal {
	if at.After(now.Add(c.cfg.MaxAhead)) {
		return refuse(CodeTime, http.StatusBadRequest, "occurred_at: more than %v after the log's clock (the upper bound of the admission window)", c.cfg.MaxAhead)
	}
	if c.cfg.MaxBehind > 0 && at.Before(now.Add(-c.cfg.MaxBehind)) {
		return refuse(CodeTime, http.StatusBadRequest, "occurred_at: more than %v before the log's clock (the lower bound of the admission window)", c.cfg.MaxBehind)
	}
	if ev.Version >= 2 && ev.Kind != "trial" && (at.Second() != 0 || at.Nanosecond() != 0) {
		return refuse(CodeTime, http.StatusBadRequest, "occurred_at: %s events carry whole minutes (seconds 00, no fraction): a precise time helps link an event to a person", ev.Kind)
	}
	if ev.Version >= 3 && body != nil {
		return c.checkBodyTimes(ev, body, at, now)
	}
	return nil
}

// oneLine cuts an error to its first line and 200 bytes.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
