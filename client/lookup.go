package client

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/htlog/htlog/event"
)

// Event is one logged event a lookup found, verified.
type Event struct {
	// Index is the entry's position in the log.
	Index uint64
	// ID is the event id (sha256: + hex SHA-256 of the payload).
	ID string
	// Entry is the logged entry: the canonical envelope.
	Entry []byte
	// Envelope and Event are Entry parsed. The submitter's signature is not
	// verified: that needs the submitter registry.
	Envelope *event.Envelope
	Event    *event.Event
	// Proof is the entry's tlog-proof, verified against the policy.
	Proof []byte
	// Checkpoint is the checkpoint the proof leads to.
	Checkpoint *Checkpoint
}

// lookupPage is the JSON of GET /lookup/<tag>.
type lookupPage struct {
	Tag    string `json:"tag"`
	Events []struct {
		Index    uint64          `json:"index"`
		EventID  string          `json:"event_id"`
		Envelope json.RawMessage `json:"envelope"`
		Proof    string          `json:"proof"`
	} `json:"events"`
	Next *uint64 `json:"next"`
}

// maxLookupPages bounds how many pages of 100 events Lookup follows.
const maxLookupPages = 1000

// Lookup returns every event the log says carries tag (compute it with
// PatientTag from the patient's key and the custodian), each verified: its
// tlog-proof verifies against the policy for the entry's leaf hash at the
// claimed index, and its body really contains the tag. Events the log has
// integrated but not yet published in a checkpoint have no proof yet and
// are left out. Any event that fails verification fails the whole lookup
// (wrapping ErrNotVerified): the log is misbehaving. Lookup cannot prove
// that no event was withheld.
func (c *Client) Lookup(ctx context.Context, tag string) ([]Event, error) {
	if !event.IsTag(tag) {
		return nil, fmt.Errorf("%q is not a tag (tag:v1:<64 hex digits>)", truncate(tag))
	}
	var out []Event
	after := ""
	for range maxLookupPages {
		body, err := c.get(ctx, "lookup/"+url.PathEscape(tag)+after)
		if err != nil {
			return nil, fmt.Errorf("couldn't look up the tag: %w", err)
		}
		var page lookupPage
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("couldn't parse the lookup answer: %w", err)
		}
		for _, e := range page.Events {
			if e.Proof == "" {
				continue
			}
			ev, err := c.verifyFound(tag, e.Index, e.Envelope, []byte(e.Proof))
			if err != nil {
				return nil, fmt.Errorf("event at index %d: %w", e.Index, err)
			}
			out = append(out, *ev)
		}
		if page.Next == nil {
			return out, nil
		}
		after = "?after=" + strconv.FormatUint(*page.Next, 10)
	}
	return out, fmt.Errorf("the lookup has more than %d pages", maxLookupPages)
}

// LookupPatient returns, in log order, every verified event about the
// patient whose own tag key is patientKey at each of custodians (the
// providers' organisation ids): it looks up the patient's tag at each
// (PatientTag), as Lookup does. The key never leaves the caller; the log
// learns the tags.
func (c *Client) LookupPatient(ctx context.Context, patientKey []byte, custodians ...string) ([]Event, error) {
	var out []Event
	for _, org := range custodians {
		found, err := c.Lookup(ctx, PatientTag(patientKey, org))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", org, err)
		}
		out = append(out, found...)
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Compare(a.Index, b.Index) })
	return out, nil
}

// PatientTag returns the tag of the patient whose own key is patientKey in
// the events of custodian: a custodian keeps one key per patient (never one
// for several: its holder could enumerate them) and hands it to the patient.
func PatientTag(patientKey []byte, custodian string) string {
	return event.PatientTag(patientKey, custodian)
}

// NewPatientKey returns a fresh tag key for one patient.
func NewPatientKey() []byte { return event.NewTagKey() }

// verifyFound checks one lookup result.
func (c *Client) verifyFound(tag string, index uint64, envelope json.RawMessage, proof []byte) (*Event, error) {
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		return nil, notVerified("the logged envelope does not parse: %v", err)
	}
	ev, err := event.ParseEvent(env.Payload)
	if err != nil {
		return nil, notVerified("the logged event does not parse: %v", err)
	}
	if !slices.Contains(event.Tags(ev.Body), tag) {
		return nil, notVerified("the event does not carry the tag looked up")
	}
	entry := env.Marshal()
	res, err := VerifyProofFile(c.Policy, proof, entry)
	if err != nil {
		return nil, err
	}
	if res.Index != index {
		return nil, notVerified("the proof is for index %d, the log said %d", res.Index, index)
	}
	if c.Origin != "" && res.Checkpoint.Origin != c.Origin {
		return nil, notVerified("the proof is for log %q, want %q", res.Checkpoint.Origin, c.Origin)
	}
	return &Event{Index: index, ID: env.ID(), Entry: entry, Envelope: env, Event: ev, Proof: proof, Checkpoint: res.Checkpoint}, nil
}

// EventIndex asks the log where the event with this id is. The answer is not
// verified: fetch the entry with Entry and check its id.
func (c *Client) EventIndex(ctx context.Context, eventID string) (uint64, error) {
	body, err := c.get(ctx, "event/"+url.PathEscape(eventID))
	if err != nil {
		return 0, fmt.Errorf("couldn't find event %s: %w", truncate(eventID), err)
	}
	var e struct {
		Index *uint64 `json:"index"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Index == nil {
		return 0, fmt.Errorf("couldn't parse the log's answer for event %s", truncate(eventID))
	}
	return *e.Index, nil
}
