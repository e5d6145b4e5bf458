package event

import (
	"encoding/json"
	"fmt"
	"github.com/htlog/htlog/internal/strictjson"
	"strings"
	"time"
)

// Kinds are the four event kinds.
var Kinds = []string{"access", "consent", "custody", "trial"}

// Event is the signed payload: the envelope fields every kind shares and a
// kind-specific body, which the schema of (Kind, Version) validates.
type Event struct {
	// Kind is access, consent, custody or trial.
	Kind string `json:"kind"`
	// Version is the schema version of Body.
	Version int `json:"version"`
	// Submitter names the organisation and the key that signed.
	Submitter Submitter `json:"submitter"`
	// OccurredAt is when the event happened, RFC 3339 with an offset.
	OccurredAt string `json:"occurred_at"`
	// Supersedes lists event ids this event corrects or revokes.
	Supersedes []string `json:"supersedes,omitempty"`
	// Body is the kind-specific content.
	Body json.RawMessage `json:"body"`
}

// Submitter identifies who submitted an event.
type Submitter struct {
	// Org is the organisation id, such as "npi:1234567893" or "gln:0614141000005".
	Org string `json:"org"`
	// KeyID is the hex SHA-256 of the signing key's PKIX encoding; it must
	// equal the envelope signature's keyid.
	KeyID string `json:"key_id"`
}

// isOrgID reports whether s matches ^[a-z][a-z0-9-]{1,15}:[A-Za-z0-9._-]{1,64}$,
// checked by hand as every entry asks it (TestPatterns holds it to the
// expression).
func isOrgID(s string) bool {
	scheme, id, ok := strings.Cut(s, ":")
	if !ok || len(scheme) < 2 || len(scheme) > 16 || len(id) < 1 || len(id) > 64 || !('a' <= scheme[0] && scheme[0] <= 'z') {
		return false
	}
	for i := 1; i < len(scheme); i++ {
		if c := scheme[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// isEventID reports whether s matches ^sha256:[0-9a-f]{64}$.
func isEventID(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(hex) == 64 && isLowerHex(hex)
}

// MaxSupersedes bounds the supersedes list.
const MaxSupersedes = 16

// ParseEvent parses and checks a payload: known kind, positive version,
// organisation id, key id, RFC 3339 time with an offset, well-formed
// superseded ids and an object body. Schema validation of the body is the
// schemas package's job.
func ParseEvent(payload []byte) (*Event, error) {
	// parseEventFast decodes what strictjson.Decode would, without reflection,
	// for the payloads submitters send; anything else takes the strict path.
	ev, ok := parseEventFast(payload)
	if !ok {
		ev = new(Event)
		if err := strictjson.Decode(payload, ev); err != nil {
			return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
		}
	}
	if err := ev.check(); err != nil {
		return nil, err
	}
	return ev, nil
}

// check checks a decoded event's fields.
func (ev *Event) check() error {
	known := false
	for _, k := range Kinds {
		known = known || ev.Kind == k
	}
	switch {
	case !known:
		return fmt.Errorf("%w: kind: must be one of access, consent, custody, trial, got %q", ErrMalformed, truncate(ev.Kind))
	case ev.Version < 1:
		return fmt.Errorf("%w: version: must be a positive integer", ErrMalformed)
	case !isOrgID(ev.Submitter.Org):
		return fmt.Errorf("%w: submitter.org: must look like npi:1234567893 or gln:0614141000005", ErrMalformed)
	case len(ev.Submitter.KeyID) != 64 || !isLowerHex(ev.Submitter.KeyID):
		return fmt.Errorf("%w: submitter.key_id: must be 64 lowercase hex digits", ErrMalformed)
	case len(ev.Supersedes) > MaxSupersedes:
		return fmt.Errorf("%w: supersedes: at most %d event ids", ErrMalformed, MaxSupersedes)
	case len(ev.Body) == 0 || ev.Body[0] != '{':
		return fmt.Errorf("%w: body: must be a JSON object", ErrMalformed)
	}
	t, err := time.Parse(time.RFC3339Nano, ev.OccurredAt)
	if err != nil || ev.OccurredAt[len(ev.OccurredAt)-1] == 'z' || !rfc3339Offset(ev.OccurredAt) {
		return fmt.Errorf("%w: occurred_at: must be an RFC 3339 time with an offset, such as 2026-11-23T10:00:00Z", ErrMalformed)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return fmt.Errorf("%w: occurred_at: out of range", ErrMalformed)
	}
	for i, id := range ev.Supersedes {
		if !isEventID(id) {
			return fmt.Errorf("%w: supersedes[%d]: must be an event id sha256:<64 hex>", ErrMalformed, i)
		}
	}
	return nil
}

// rfc3339Offset reports whether the offset ending s, a time time.Parse
// accepted under time.RFC3339Nano, is one RFC 3339 allows: Z, or hours
// 00-23 and minutes 00-59. time.Parse also takes +24:00 and +23:60, which
// Time.MarshalJSON then refuses to write, so an entry carrying one would
// stop every reader that saves the time (issue 18).
func rfc3339Offset(s string) bool {
	if s[len(s)-1] == 'Z' {
		return true
	}
	off := s[len(s)-len("+07:00"):] // time.Parse has checked the shape
	return off[1:3] <= "23" && off[4:6] <= "59"
}

// Time returns OccurredAt parsed (ParseEvent has checked it).
func (ev *Event) Time() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, ev.OccurredAt)
	return t
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
