package event

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/htlog/htlog/schemas"
)

// Builder builds and signs the events of one submitter: an organisation and
// one of its registered keys. It is the one place where htlog's tools (the
// htlog command, the load generator, the tests) and a submitter's own
// program turn a kind-specific body into a logged entry. A Builder is safe
// for concurrent use.
type Builder struct {
	org   string
	key   crypto.Signer
	keyID string
}

// NewBuilder returns a Builder that signs as org (an organisation id such as
// "npi:1234567893", as the log's submitter registry spells it) with key, an
// Ed25519 or ECDSA P-256 private key (ParsePrivateKey reads the PEM file
// `htlog keygen --kind submitter` writes) or any crypto.Signer of such a key
// (a hardware token's, as PKCS#11 libraries return them). A key that is not
// held in memory signs a test message first, verified with its public key,
// so that a token that signs wrongly is refused here rather than by the log.
func NewBuilder(org string, key crypto.Signer) (*Builder, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("ECDSA keys must be on P-256")
		}
	default:
		if err := checkSigner(key); err != nil {
			return nil, err
		}
	}
	if !isOrgID(org) {
		return nil, fmt.Errorf("%w: submitter.org: must look like npi:1234567893 or gln:0614141000005", ErrMalformed)
	}
	id, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Builder{org: org, key: key, keyID: id}, nil
}

// Org returns the organisation the Builder signs as.
func (b *Builder) Org() string { return b.org }

// KeyID returns the key id of the Builder's key: the hex SHA-256 of its
// PKIX encoding, as the envelope and the event's submitter.key_id carry it.
func (b *Builder) KeyID() string { return b.keyID }

// PatientTag returns the tag of the patient whose own tag key is patientKey
// in this submitter's events (PatientTag with the Builder's organisation as
// the custodian): the value of the body's "patient" (and "grantor") fields.
func (b *Builder) PatientTag(patientKey []byte) string { return PatientTag(patientKey, b.org) }

// Draft is an event before it is signed: what the submitter chooses. The
// Builder fills in the submitter.
type Draft struct {
	// Kind is access, consent, custody or trial.
	Kind string
	// Version is the schema version of Body; 0 means the default version
	// (schemas.Default: version 2; name 3 to write a version 3 body).
	Version int
	// OccurredAt is when the event happened, RFC 3339 with an offset; ""
	// means now, in UTC, truncated to the minute (the log refuses more
	// precise access, consent and custody times).
	OccurredAt string
	// Supersedes lists event ids this event corrects or revokes.
	Supersedes []string
	// Body is the kind-specific body, a JSON object: []byte and
	// json.RawMessage are taken as JSON text (and compacted); any other value
	// is encoded with encoding/json. Identifiers go in as tags (Tag,
	// PatientTag) and sensitive values as commitments (Commit), never in
	// clear.
	Body any
}

// Build signs d as an event of the Builder's submitter and returns the
// envelope; its Marshal is the entry to submit and its ID the event id. The
// event is checked as the log's first check does (ParseEvent: kind, version,
// ids, time, body an object) and a failure wraps ErrMalformed; the body is
// not validated against its schema here (schemas.Validator does that, and
// the log does it again).
func (b *Builder) Build(d Draft) (*Envelope, error) {
	var body []byte
	switch v := d.Body.(type) {
	case []byte:
		body = v
	case json.RawMessage:
		body = v
	case nil:
		return nil, fmt.Errorf("%w: body: missing", ErrMalformed)
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return nil, fmt.Errorf("%w: body: not JSON: %v", ErrMalformed, err)
	}
	if d.Version == 0 {
		d.Version = schemas.Default(d.Kind)
	}
	if d.OccurredAt == "" {
		d.OccurredAt = time.Now().UTC().Truncate(time.Minute).Format(time.RFC3339)
	}
	payload, err := json.Marshal(Event{Kind: d.Kind, Version: d.Version, Submitter: Submitter{Org: b.org, KeyID: b.keyID},
		OccurredAt: d.OccurredAt, Supersedes: d.Supersedes, Body: compact.Bytes()})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := ParseEvent(payload); err != nil {
		return nil, err
	}
	return Sign(payload, b.key)
}
