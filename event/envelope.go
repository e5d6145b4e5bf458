// Package event is htlog's signed event: a DSSE envelope (the format in-toto
// and Sigstore use) whose payload is one JSON event of kind access, consent,
// custody or trial, signed by the submitter's Ed25519 or ECDSA P-256 key.
//
// The log entry is the envelope in its canonical form (Marshal): the payload
// bytes are exactly the bytes the submitter signed, and the event id is the
// SHA-256 of those bytes, so anyone holding the entry can recompute the id
// and check the signature. The personality dedups on the event id.
//
// A submitter builds events with a [Builder] (its organisation id and
// signing key): [Builder.Build] fills in the submitter, the schema version
// and the time, checks the event and signs it. Identifiers go into bodies
// as tags, never in clear: [Builder.PatientTag] for the patient (under the
// patient's own key, see [NewTagKey]) and [Tag] for the submitter's own
// identifiers under keys it keeps; sensitive values go in as commitments
// ([Commit]). Readers parse entries with [ParseEnvelope] and [ParseEvent]
// and check signatures with [Envelope.Verify].
package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/htlog/htlog/internal/strictjson"
	"slices"
	"strconv"
)

// PayloadType is the DSSE payload type of every htlog event.
const PayloadType = "application/vnd.htlog.event+json"

// MaxEnvelopeSize bounds a submitted envelope. A tlog-tiles entry bundle
// stores each entry behind a 16-bit length, so entries must stay below 64 KiB.
const MaxEnvelopeSize = 60 << 10

// Envelope is a DSSE envelope with exactly one signature.
type Envelope struct {
	// PayloadType is always PayloadType.
	PayloadType string `json:"payloadType"`
	// Payload is the signed event JSON (base64 in the envelope).
	Payload []byte `json:"payload"`
	// Signatures holds the submitter's single signature.
	Signatures []Signature `json:"signatures"`
}

// Signature is one DSSE signature.
type Signature struct {
	// KeyID is the hex SHA-256 of the submitter key's PKIX DER encoding.
	KeyID string `json:"keyid"`
	// Sig is the signature over PAE(PayloadType, Payload).
	Sig []byte `json:"sig"`
}

// ErrMalformed wraps every reason an envelope or event cannot be parsed.
var ErrMalformed = errors.New("malformed event")

// PAE is DSSE's pre-authentication encoding: what the submitter signs.
func PAE(payloadType string, payload []byte) []byte {
	return appendPAE(nil, payloadType, payload)
}

// appendPAE appends PAE(payloadType, payload) to dst.
func appendPAE(dst []byte, payloadType string, payload []byte) []byte {
	// At most one allocation: room for the prefix, two decimal lengths of
	// up to 20 digits, three separators and the two strings.
	dst = slices.Grow(dst, len("DSSEv1 ")+20+1+len(payloadType)+1+20+1+len(payload))
	dst = append(dst, "DSSEv1 "...)
	dst = strconv.AppendInt(dst, int64(len(payloadType)), 10)
	dst = append(dst, ' ')
	dst = append(dst, payloadType...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, ' ')
	return append(dst, payload...)
}

// ParseEnvelope parses a submitted envelope strictly: at most
// MaxEnvelopeSize bytes, one JSON object with no unknown or duplicate fields
// and nothing after it, the htlog payload type and exactly one signature.
// It does not verify the signature.
func ParseEnvelope(data []byte) (*Envelope, error) {
	e, _, err := ParseEnvelopeCanonical(data)
	return e, err
}

// ParseEnvelopeCanonical is ParseEnvelope that also reports whether data is
// the envelope's canonical form (data equals the envelope's Marshal), as
// every logged entry must be. It costs no more than ParseEnvelope.
func ParseEnvelopeCanonical(data []byte) (e *Envelope, canonical bool, err error) {
	if len(data) > MaxEnvelopeSize {
		return nil, false, fmt.Errorf("%w: envelope is %d bytes, at most %d allowed", ErrMalformed, len(data), MaxEnvelopeSize)
	}
	// Fastest path: data matched byte for byte against the canonical
	// layout, without encoding/json (see parseCanonicalEnvelope). Every
	// logged entry the monitor replays takes it.
	if e, ok := parseCanonicalEnvelope(data); ok {
		if err := e.check(); err != nil {
			return nil, false, err
		}
		return e, true, nil
	}
	e = new(Envelope)
	// Fast path for the canonical encoding, which is what clients submit
	// and what the log serves, when the fastest one gave up (a key id that
	// Marshal escapes, for instance). It is safe because its result is
	// exactly the strict path's: if re-encoding the leniently decoded
	// envelope gives back data byte for byte, then data is Marshal's
	// output, so it is one JSON object (nothing trailing) holding only the
	// three envelope fields and the two signature fields, spelled exactly,
	// each once (Marshal never writes a key twice or an unknown field). On
	// such input DisallowUnknownFields and the duplicate-key check cannot
	// fire, and decoding the same bytes again would give the same envelope.
	// When the bytes differ, the strict path runs from scratch on a fresh
	// envelope. FuzzFastPaths checks this against the strict-only
	// parser.
	if json.Unmarshal(data, e) == nil {
		if bytes.Equal(e.Marshal(), data) {
			canonical = true
		} else {
			*e = Envelope{}
		}
	} else {
		*e = Envelope{}
	}
	if !canonical {
		if err := strictjson.Decode(data, e); err != nil {
			return nil, false, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
		}
		// Not canonical: the strict decoder read the value the lenient one
		// did (it only refuses more), whose encoding differs from data.
	}
	if err := e.check(); err != nil {
		return nil, false, err
	}
	return e, canonical, nil
}

// check checks a decoded envelope's fields.
func (e *Envelope) check() error {
	switch {
	case e.PayloadType != PayloadType:
		return fmt.Errorf("%w: payloadType must be %q", ErrMalformed, PayloadType)
	case len(e.Payload) == 0:
		return fmt.Errorf("%w: payload is empty", ErrMalformed)
	case len(e.Signatures) != 1:
		return fmt.Errorf("%w: exactly one signature is required, got %d", ErrMalformed, len(e.Signatures))
	case len(e.Signatures[0].KeyID) != 64 || !isLowerHex(e.Signatures[0].KeyID):
		return fmt.Errorf("%w: signatures[0].keyid must be 64 lowercase hex digits", ErrMalformed)
	case len(e.Signatures[0].Sig) == 0 || len(e.Signatures[0].Sig) > 256:
		return fmt.Errorf("%w: signatures[0].sig has a bad length", ErrMalformed)
	}
	return nil
}

// Marshal returns the canonical (compact, fixed field order) form of the
// envelope: the bytes htlog logs.
func (e *Envelope) Marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // only []byte and strings: cannot fail
	}
	return b
}

// ID returns the event id: "sha256:" and the hex SHA-256 of the payload.
func (e *Envelope) ID() string { return IDOf(e.Payload) }

// IDOf returns the event id of a payload.
func IDOf(payload []byte) string {
	sum := sha256.Sum256(payload)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// IdentityHash returns the raw 32 bytes of the event id, which Trillian uses
// to deduplicate leaves.
func (e *Envelope) IdentityHash() [32]byte { return sha256.Sum256(e.Payload) }

func isLowerHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
