package event

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case string:
			if IsTag(t) && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	slices.Sort(out)
	return out
}
