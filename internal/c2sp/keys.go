package c2sp

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// NewLogSigner returns the signer for a log's checkpoints from its signed-note
// private key (PRIVATE+KEY+<origin>+<hash>+<base64>). The key name is the
// log's origin.
func NewLogSigner(skey string) (note.Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log signing key: %w", err)
	}
	return s, nil
}

// NewLogVerifier returns the verifier of a log's checkpoints from its vkey
// (<origin>+<hash>+<base64 of 0x01 || Ed25519 public key>).
func NewLogVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log verifier key %q: %w", truncate(vkey), err)
	}
	return v, nil
}

// NewCosigner returns a cosignature/v1 signer from a witness's private key.
// Each signature it makes carries the current time in seconds.
func NewCosigner(skey string) (*fnote.Signer, error) {
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse witness signing key: %w", err)
	}
	return s, nil
}

// NewCosignatureVerifier returns the verifier of a witness's cosignature/v1
// signatures from its vkey (type 0x04, or a plain Ed25519 vkey of type 0x01,
// which is read as the same key used for cosignatures).
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse witness verifier key %q: %w", truncate(vkey), err)
	}
	return v, nil
}

// CosignatureTime returns the timestamp inside a cosignature/v1 signature.
func CosignatureTime(sig note.Signature) (time.Time, error) {
	t, err := fnote.CoSigV1Timestamp(sig)
	if err != nil {
		return time.Time{}, fmt.Errorf("couldn't read cosignature timestamp: %w", err)
	}
	return t, nil
}

// VKeyFromSKey derives the signed-note verifier key of an Ed25519 note
// private key ("PRIVATE+KEY+<name>+<hash>+<key>"), so a daemon holding only
// its private key can verify its own signatures and print its vkey.
func VKeyFromSKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a signed-note private key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("not an Ed25519 signed-note private key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	if v, err := note.NewVerifier(vkey); err != nil || fmt.Sprintf("%08x", v.KeyHash()) != parts[3] {
		return "", errors.New("the private key's hash does not match its key")
	}
	return vkey, nil
}
