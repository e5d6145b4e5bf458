package event

import (
	"encoding/json"
	"fmt"
	"regexp"
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

var (
	orgPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,15}:[A-Za-z0-9._-]{1,64}$`)
	idPattern  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// MaxSupersedes bounds the supersedes list.
const MaxSupersedes = 16

// ParseEvent parses and checks a payload: known kind, positive version,
// organisation id, key id, RFC 3339 time with an offset, well-formed
// superseded ids and an object body. Schema validation of the body is the
// schemas package's job.
func ParseEvent(payload []byte) (*Event, error) {
	var ev Event
	if err := decodeStrict(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	known := false
	for _, k := range Kinds {
		known = known || ev.Kind == k
	}
	switch {
	case !known:
		return nil, fmt.Errorf("%w: kind: must be one of access, consent, custody, trial, got %q", ErrMalformed, truncate(ev.Kind))
	case ev.Version < 1:
		return nil, fmt.Errorf("%w: version: must be a positive integer", ErrMalformed)
	case !orgPattern.MatchString(ev.Submitter.Org):
		return nil, fmt.Errorf("%w: submitter.org: must look like npi:1234567893 or gln:0614141000005", ErrMalformed)
	case len(ev.Submitter.KeyID) != 64 || !isLowerHex(ev.Submitter.KeyID):
		return nil, fmt.Errorf("%w: submitter.key_id: must be 64 lowercase hex digits", ErrMalformed)
	case len(ev.Supersedes) > MaxSupersedes:
		return nil, fmt.Errorf("%w: supersedes: at most %d event ids", ErrMalformed, MaxSupersedes)
	case len(ev.Body) == 0 || ev.Body[0] != '{':
		return nil, fmt.Errorf("%w: body: must be a JSON object", ErrMalformed)
	}
	t, err := time.Parse(time.RFC3339Nano, ev.OccurredAt)
	if err != nil || ev.OccurredAt[len(ev.OccurredAt)-1] == 'z' {
		return nil, fmt.Errorf("%w: occurred_at: must be an RFC 3339 time with an offset, such as 2026-11-23T10:00:00Z", ErrMalformed)
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return nil, fmt.Errorf("%w: occurred_at: out of range", ErrMalformed)
	}
	for i, id := range ev.Supersedes {
		if !idPattern.MatchString(id) {
			return nil, fmt.Errorf("%w: supersedes[%d]: must be an event id sha256:<64 hex>", ErrMalformed, i)
		}
	}
	return &ev, nil
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
