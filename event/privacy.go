package event

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/htlog/htlog/internal/strictjson"
	"regexp"
	"slices"
)

// Privacy by construction: identifiers never appear on the log in clear.
//
// A tag is a keyed pseudonym: HMAC-SHA-256 under a key held by the patient or
// the custodian (never by the log), so a reader of the log cannot brute-force
// a medical record number or a serial number back out of it, yet the key
// holder can find every event about one identifier. A commitment hides a
// sensitive value behind a random 32-byte opening kept off the log; revealing
// the opening proves the value, destroying it makes the entry meaningless.

var (
	tagPattern    = regexp.MustCompile(`^tag:v1:[0-9a-f]{64}$`)
	commitPattern = regexp.MustCompile(`^commit:v1:[0-9a-f]{64}$`)
)

// A patient's tag key belongs to that patient alone: a custodian makes one
// per patient (NewTagKey), keeps it with the patient's record and hands it
// to the patient, and tags the patient in its events with PatientTag. A
// key holder can thus find its own patient's events and no one else's, and
// a key that several custodians use for the same patient still gives each
// custodian different tags (PatientTag binds the custodian), so one event
// that leaks who it is about links that patient's history at one
// custodian only. Workforce identifiers and package serials stay tags under
// the custodian's own keys (Tag), which are never handed out.

// TagKeySize is the size of a tag key in bytes.
const TagKeySize = 32

// NewTagKey returns a fresh random tag key.
func NewTagKey() []byte {
	k := make([]byte, TagKeySize)
	rand.Read(k)
	return k
}

// PatientTag returns the tag of the patient whose own key is patientKey,
// in the events of custodian (its organisation id, such as
// "npi:1234567893"). It is Tag(patientKey, "patient:"+custodian), so any
// client that computes Tag computes it too.
func PatientTag(patientKey []byte, custodian string) string {
	return Tag(patientKey, "patient:"+custodian)
}

// Tag returns the pseudonymous tag of identifier under key.
func Tag(key []byte, identifier string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("htlog tag v1\x00"))
	m.Write([]byte(identifier))
	return "tag:v1:" + hex.EncodeToString(m.Sum(nil))
}

// Commit returns a commitment to value and the opening that proves it.
func Commit(value []byte) (commitment string, opening []byte) {
	opening = make([]byte, 32)
	rand.Read(opening)
	return commitWith(opening, value), opening
}

func commitWith(opening, value []byte) string {
	m := hmac.New(sha256.New, opening)
	m.Write([]byte("htlog commitment v1\x00"))
	m.Write(value)
	return "commit:v1:" + hex.EncodeToString(m.Sum(nil))
}

// VerifyCommitment reports whether opening reveals value in commitment.
func VerifyCommitment(commitment string, opening, value []byte) bool {
	return len(opening) == 32 && hmac.Equal([]byte(commitment), []byte(commitWith(opening, value)))
}

// IsTag reports whether s has the syntax of a tag.
func IsTag(s string) bool { return tagPattern.MatchString(s) }

// IsCommitment reports whether s has the syntax of a commitment.
func IsCommitment(s string) bool { return commitPattern.MatchString(s) }

// Tags returns every distinct tag that appears as a string value anywhere in
// body, sorted: the index a patient searches by.
func Tags(body json.RawMessage) []string {
	var out []string
	err := strictjson.WalkStrings(body, func(_, value []byte) {
		if IsTag(string(value)) && !slices.Contains(out, string(value)) {
			out = append(out, string(value))
		}
	})
	if err != nil {
		return nil
	}
	slices.Sort(out)
	return out
}
