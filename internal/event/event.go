// Package event re-exports github.com/htlog/htlog/event, where the code moved when it became
// public (issue 17), for the packages that still import this path.
// Each name is an alias of, or calls, the public one, so values pass
// freely between the two paths. New code imports github.com/htlog/htlog/event.
package event

import (
	"crypto"
	"encoding/json"
	moved "github.com/htlog/htlog/event"
)

// Builder is [moved.Builder].
type Builder = moved.Builder

// Commit is [moved.Commit].
func Commit(value []byte) (commitment string, opening []byte) {
	return moved.Commit(value)
}

// Draft is [moved.Draft].
type Draft = moved.Draft

// Envelope is [moved.Envelope].
type Envelope = moved.Envelope

// ErrBadSignature is [moved.ErrBadSignature].
var ErrBadSignature = moved.ErrBadSignature

// ErrMalformed is [moved.ErrMalformed].
var ErrMalformed = moved.ErrMalformed

// Event is [moved.Event].
type Event = moved.Event

// IDOf is [moved.IDOf].
func IDOf(payload []byte) string {
	return moved.IDOf(payload)
}

// IsCommitment is [moved.IsCommitment].
func IsCommitment(s string) bool {
	return moved.IsCommitment(s)
}

// IsTag is [moved.IsTag].
func IsTag(s string) bool {
	return moved.IsTag(s)
}

// KeyID is [moved.KeyID].
func KeyID(pub crypto.PublicKey) (string, error) {
	return moved.KeyID(pub)
}

// Kinds is [moved.Kinds].
var Kinds = moved.Kinds

// MaxEnvelopeSize is [moved.MaxEnvelopeSize].
const MaxEnvelopeSize = moved.MaxEnvelopeSize

// MaxSupersedes is [moved.MaxSupersedes].
const MaxSupersedes = moved.MaxSupersedes

// NewBuilder is [moved.NewBuilder].
func NewBuilder(org string, key crypto.Signer) (*Builder, error) {
	return moved.NewBuilder(org, key)
}

// NewTagKey is [moved.NewTagKey].
func NewTagKey() []byte {
	return moved.NewTagKey()
}

// PAE is [moved.PAE].
func PAE(payloadType string, payload []byte) []byte {
	return moved.PAE(payloadType, payload)
}

// ParseEnvelope is [moved.ParseEnvelope].
func ParseEnvelope(data []byte) (*Envelope, error) {
	return moved.ParseEnvelope(data)
}

// ParseEnvelopeCanonical is [moved.ParseEnvelopeCanonical].
func ParseEnvelopeCanonical(data []byte) (e *Envelope, canonical bool, err error) {
	return moved.ParseEnvelopeCanonical(data)
}

// ParseEvent is [moved.ParseEvent].
func ParseEvent(payload []byte) (*Event, error) {
	return moved.ParseEvent(payload)
}

// ParsePrivateKey is [moved.ParsePrivateKey].
func ParsePrivateKey(pemText []byte) (crypto.Signer, error) {
	return moved.ParsePrivateKey(pemText)
}

// ParsePublicKey is [moved.ParsePublicKey].
func ParsePublicKey(pemText []byte) (crypto.PublicKey, error) {
	return moved.ParsePublicKey(pemText)
}

// PatientTag is [moved.PatientTag].
func PatientTag(patientKey []byte, custodian string) string {
	return moved.PatientTag(patientKey, custodian)
}

// PayloadType is [moved.PayloadType].
const PayloadType = moved.PayloadType

// Sign is [moved.Sign].
func Sign(payload []byte, signer crypto.Signer) (*Envelope, error) {
	return moved.Sign(payload, signer)
}

// Signature is [moved.Signature].
type Signature = moved.Signature

// Submitter is [moved.Submitter].
type Submitter = moved.Submitter

// Tag is [moved.Tag].
func Tag(key []byte, identifier string) string {
	return moved.Tag(key, identifier)
}

// TagKeySize is [moved.TagKeySize].
const TagKeySize = moved.TagKeySize

// Tags is [moved.Tags].
func Tags(body json.RawMessage) []string {
	return moved.Tags(body)
}

// VerifyCommitment is [moved.VerifyCommitment].
func VerifyCommitment(commitment string, opening, value []byte) bool {
	return moved.VerifyCommitment(commitment, opening, value)
}

// WalkStrings is [moved.WalkStrings].
func WalkStrings(data []byte, fn func(path, value []byte)) error {
	return moved.WalkStrings(data, fn)
}
