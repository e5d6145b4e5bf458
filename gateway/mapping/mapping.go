// Package mapping holds what every standard's mapper shares: the event a
// mapper produces (Item), the keys it needs (Keys), how it hides sensitive
// values (Committer) and how it reports input it cannot map (Error). The
// mappers themselves live one per standard (gateway/fhir, gateway/epcis,
// gateway/trds); each keeps its whole mapping in one file, documented field
// by field in docs/gateway.md.
package mapping

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/schemas"
)

// Item is one htlog event a mapper made from (part of) an input document,
// before it is signed.
type Item struct {
	// Kind is access, consent, custody or trial.
	Kind string
	// Version is the schema version Body follows.
	Version int
	// Source names what the item came from, such as "AuditEvent/example"
	// or an EPCIS eventID; "" when the input had no identifier. It is
	// how a later document refers to this one (a revocation names its
	// grant, an access names its consent).
	Source string
	// OccurredAt is the event time, RFC 3339, already rounded as the log
	// requires.
	OccurredAt string
	// Supersedes lists event ids this event corrects or revokes.
	Supersedes []string
	// Body is the kind's body, encoded with encoding/json.
	Body map[string]any
	// Subject orders the outbox: the space-separated keys of what the
	// item is about (one patient, the packages or lots of an EPCIS event,
	// one trial); two items sharing a key reach the log in the order they
	// were accepted.
	Subject string
	// Openings are the commitments the body carries, with their openings.
	Openings []Opening
	// Lots are the lots and expiries the item tells of packages (a
	// commissioning event's ILMD): recorded when the item is accepted, not
	// before, so that a refused document records nothing.
	Lots []PackageLot
	// Input is the input the item was made from (the resource, the EPCIS
	// event): the same input accepted twice is one item.
	Input []byte
}

// Opening is a commitment the gateway made and what opens it.
type Opening struct {
	// Patient is the patient the value concerns ("" for none): the bundle
	// of that patient carries the opening.
	Patient string
	// Commitment is the commit:v1:... string in the body.
	Commitment string
	// Value is the committed value, Opening the 32-byte opening.
	Value   string
	Opening []byte
}

// OpeningHex returns the opening in hex.
func (o Opening) OpeningHex() string { return hex.EncodeToString(o.Opening) }

// PackageLot is a package's lot and expiry (YYYY-MM-DD).
type PackageLot struct {
	GTIN, Serial, Lot, Expiry string
}

// Keys gives a mapper the keys and the history it needs. Implementations
// are safe for concurrent use; a key, once returned, never changes.
type Keys interface {
	// PatientKey returns the tag key of the patient the custodian knows
	// as ref, creating and storing it durably on first use.
	PatientKey(ctx context.Context, ref string) ([]byte, error)
	// PackageKey returns the tag key of the package gtin+serial, creating
	// and storing it on first use; known reports whether it existed.
	PackageKey(ctx context.Context, gtin, serial string) (key []byte, err error)
	// Package returns the lot and expiry (YYYY-MM-DD) recorded for a
	// package, ok false when none are.
	Package(ctx context.Context, gtin, serial string) (lot, expiry string, ok bool, err error)
	// EventOf returns the event id of the last item accepted from source,
	// ok false when none was.
	EventOf(ctx context.Context, source string) (eventID string, ok bool, err error)
}

// Config is what every mapper needs to know about its submitter.
type Config struct {
	// Org is the custodian: the organisation that signs, as the registry
	// spells it (npi:..., gln:...).
	Org string
	// WorkforceKey is the custodian's own tag key for workforce members and
	// people other than the patient (never handed out).
	WorkforceKey []byte
	// SourceSystem is the source system id the custodian declared in the
	// registry, used when a document's observer is not one of
	// SourceSystems.
	SourceSystem string
	// SourceSystems are the other declared source system ids; an observer
	// whose identifier is one of them is logged as itself.
	SourceSystems []string
	// DefaultPurpose is the purpose of use (a v3-ActReason code) of an
	// AuditEvent that states none; "" refuses such AuditEvents.
	DefaultPurpose string
	// DefaultAgentRole is the role (system|code of value set agent-role)
	// of an agent whose role and type carry no code of that value set; ""
	// refuses such agents.
	DefaultAgentRole string
	// AccessVersion is the access schema version AuditEvents are mapped to:
	// 2, or 3 (the default; 0 means 3).
	AccessVersion int
	// CustodyVersion is the custody schema version EPCIS events are mapped
	// to: 2, or 3 (the default; 0 means 3).
	CustodyVersion int
	// ConsentVersion is the consent schema version FHIR Consents are mapped
	// to: 2 (the default; 0 means 2), or 3. Version 3 names a provision's
	// actors by a role of value set agent-role and refuses other roles, so
	// it is not the default while the published R4 examples (roles of
	// v3-ParticipationType) are what senders send.
	ConsentVersion int
}

// Error is input the gateway cannot map: the HTTP status and one line for
// the sender, naming the field at fault and never quoting a value.
type Error struct {
	Status int
	// Path is where in the input the problem is, such as "AuditEvent.agent[0].role".
	Path   string
	Reason string
}

// Error returns the path and the reason on one line.
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Unmappable returns a 422 Error at path.
func Unmappable(path, format string, args ...any) *Error {
	return &Error{Status: 422, Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Malformed returns a 400 Error at path.
func Malformed(path, format string, args ...any) *Error {
	return &Error{Status: 400, Path: path, Reason: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, wrapping anything else as a 500.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: 500, Reason: "internal error"}
}

// Committer makes commitments and keeps their openings for one item.
type Committer struct {
	Openings []Opening
}

// Commit commits to value on behalf of patient ("" for none) and returns
// the commitment.
func (c *Committer) Commit(patient, value string) string {
	cm, op := event.Commit([]byte(value))
	c.Openings = append(c.Openings, Opening{Patient: patient, Commitment: cm, Value: value, Opening: op})
	return cm
}

// Minute returns t, an RFC 3339 time (or a FHIR dateTime with at least a
// minute), in UTC truncated to the minute, as the log requires of ACCESS,
// CONSENT and CUSTODY times.
func Minute(path, t string) (string, error) {
	tm, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return "", Malformed(path, "must be a date and time with a time zone (RFC 3339)")
	}
	return tm.UTC().Truncate(time.Minute).Format(time.RFC3339), nil
}

// Code is a system and a code.
type Code struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// InValueSet reports whether system|code is a concept of the named value set.
func InValueSet(name, system, code string) bool {
	vs, ok := schemas.LookupValueSet(name)
	return ok && vs.Has(system, code)
}

// ParseCode splits "system|code".
func ParseCode(s string) (Code, bool) {
	i := strings.LastIndexByte(s, '|')
	if i <= 0 || i == len(s)-1 {
		return Code{}, false
	}
	return Code{System: s[:i], Code: s[i+1:]}, true
}
