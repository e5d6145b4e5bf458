package c2sp

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// HashSize is the size of every tree hash: SHA-256, as RFC 6962 uses.
const HashSize = 32

// Hash is one node of an RFC 6962 Merkle tree.
type Hash [HashSize]byte

// String returns the standard base64 form used on every C2SP wire.
func (h Hash) String() string { return base64.StdEncoding.EncodeToString(h[:]) }

// MarshalText returns the standard base64 form, so that a Hash (and a
// []Hash) is a base64 string in JSON, as every htlog JSON answer documents,
// not an array of 32 numbers.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses the standard base64 form strictly (see ParseHash).
func (h *Hash) UnmarshalText(text []byte) error {
	p, err := ParseHash(string(text))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash decodes a standard-base64 hash and insists on exactly 32 bytes in
// canonical padding, written as the 44 characters String writes (Go's
// decoder skips carriage returns and newlines, which would let two texts
// name one hash).
func ParseHash(s string) (Hash, error) {
	var h Hash
	if strings.ContainsAny(s, "\r\n") {
		return h, fmt.Errorf("hash %q holds a line break", truncate(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("hash %q is not standard base64: %w", truncate(s), err)
	}
	if len(b) != HashSize {
		return h, fmt.Errorf("hash is %d bytes, want %d", len(b), HashSize)
	}
	copy(h[:], b)
	return h, nil
}

// HashesToBytes converts hashes to the [][]byte form the merkle proof package uses.
func HashesToBytes(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// BytesToHashes converts [][]byte hashes (for example from Trillian) to Hash
// values, failing if any is not 32 bytes long.
func BytesToHashes(bs [][]byte) ([]Hash, error) {
	out := make([]Hash, len(bs))
	for i, b := range bs {
		if len(b) != HashSize {
			return nil, fmt.Errorf("hash %d is %d bytes, want %d", i, len(b), HashSize)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// truncate shortens untrusted text before it is quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
