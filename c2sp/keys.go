package c2sp

import (
	"crypto/ed25519"
	"crypto/rand"
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

// Witness key types: the first byte of a witness vkey's key material, as
// signed-note and tlog-cosignature number them.
const (
	// KeyTypeEd25519Cosignature is an Ed25519 cosignature/v1 key: a 32-byte
	// public key, signatures of 8 (timestamp) + 64 bytes over
	// "cosignature/v1\ntime <t>\n" and the whole checkpoint body.
	KeyTypeEd25519Cosignature = 0x04
	// KeyTypeMLDSA44Cosignature is an ML-DSA-44 (FIPS 204) cosignature key,
	// which tlog-cosignature recommends for new deployments: a 1312-byte
	// public key, signatures of 8 (timestamp) + 2420 bytes over a binary
	// subtree/v1 message that commits to the cosigner's name, the origin,
	// the range [0, size) and the root, but not to extension lines.
	KeyTypeMLDSA44Cosignature = 0x06
)

// maxMLDSAName bounds the cosigner name of an ML-DSA-44 key: the signed
// message carries it with a one-byte length (opaque cosigner_name<1..2^8-1>).
const maxMLDSAName = 255

// Witness key algorithms GenerateWitnessKey accepts.
const (
	WitnessAlgEd25519 = "ed25519"
	WitnessAlgMLDSA44 = "mldsa44"
)

// GenerateWitnessKey returns a new witness key pair named name: skey for
// htlog-witness (PRIVATE+KEY+...), vkey for tlog-policy witness lines. alg
// is WitnessAlgEd25519 (vkey type 0x04) or WitnessAlgMLDSA44 (vkey type 0x06,
// whose vkey is about 1.8 KB of text).
func GenerateWitnessKey(name, alg string) (skey, vkey string, err error) {
	switch alg {
	case WitnessAlgEd25519:
		skey, vkey, err = note.GenerateKey(rand.Reader, name)
		if err == nil {
			vkey, err = fnote.VKeyToCosignatureV1(vkey)
		}
	case WitnessAlgMLDSA44:
		if len(name) > maxMLDSAName {
			return "", "", fmt.Errorf("an ML-DSA-44 cosigner name is at most %d bytes", maxMLDSAName)
		}
		skey, vkey, err = fnote.GenerateMLDSAKey(name)
	default:
		return "", "", fmt.Errorf("unknown witness key algorithm %q: want %s or %s", alg, WitnessAlgEd25519, WitnessAlgMLDSA44)
	}
	if err != nil {
		return "", "", fmt.Errorf("couldn't generate a witness key: %w", err)
	}
	return skey, vkey, nil
}

// keyType returns the name and the type byte of a vkey or skey
// (<name>+<hash>+<base64>, after PRIVATE+KEY+ for an skey), or 0 when the
// key is malformed (the note packages then say why).
func keyType(key string) (name string, typ byte) {
	key = strings.TrimPrefix(key, "PRIVATE+KEY+")
	parts := strings.SplitN(key, "+", 3)
	if len(parts) != 3 {
		return "", 0
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) == 0 {
		return parts[0], 0
	}
	return parts[0], raw[0]
}

// checkMLDSAName refuses an ML-DSA-44 key whose name the signed message
// cannot carry (formats would wrap its one-byte length).
func checkMLDSAName(key string) error {
	if name, typ := keyType(key); typ == KeyTypeMLDSA44Cosignature && len(name) > maxMLDSAName {
		return fmt.Errorf("an ML-DSA-44 cosigner name is at most %d bytes, this one is %d", maxMLDSAName, len(name))
	}
	return nil
}

// NewCosigner returns a cosignature/v1 signer from a witness's private key:
// an Ed25519 key (type 0x01 or 0x04) or an ML-DSA-44 key (type 0x06). Each
// signature it makes carries the current time in seconds; an ML-DSA-44
// signature covers the whole tree (start 0, end the checkpoint size).
func NewCosigner(skey string) (*fnote.Signer, error) {
	if err := checkMLDSAName(skey); err != nil {
		return nil, fmt.Errorf("couldn't parse witness signing key: %w", err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse witness signing key: %w", err)
	}
	return s, nil
}

// NewCosignatureVerifier returns the verifier of a witness's cosignatures
// from its vkey: Ed25519 (type 0x04, or a plain Ed25519 vkey of type 0x01,
// which is read as the same key used for cosignatures) or ML-DSA-44 (type
// 0x06). Both are verified by github.com/transparency-dev/formats/note, the
// ML-DSA-44 signatures through filippo.io/mldsa.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	if err := checkMLDSAName(vkey); err != nil {
		return nil, fmt.Errorf("couldn't parse witness verifier key %q: %w", truncate(vkey), err)
	}
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
