package event

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// ErrBadSignature is returned when an envelope's signature does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// ParsePublicKey parses a PEM "PUBLIC KEY" (PKIX) holding an Ed25519 or
// ECDSA P-256 key, as `htlog keygen --kind submitter` writes.
func ParsePublicKey(pemText []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("ECDSA keys must be on P-256")
		}
		return k, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: use Ed25519 or ECDSA P-256", pub)
}

// ParsePrivateKey parses a PEM "PRIVATE KEY" (PKCS #8) Ed25519 or P-256 key.
func ParsePrivateKey(pemText []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemText)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PRIVATE KEY")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	switch s := k.(type) {
	case ed25519.PrivateKey:
		return s, nil
	case *ecdsa.PrivateKey:
		if s.Curve != elliptic.P256() {
			return nil, errors.New("ECDSA keys must be on P-256")
		}
		return s, nil
	}
	return nil, fmt.Errorf("unsupported key type %T: use Ed25519 or ECDSA P-256", k)
}

// KeyID returns the hex SHA-256 of the key's PKIX DER encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Sign wraps payload in an envelope signed by signer.
func Sign(payload []byte, signer crypto.Signer) (*Envelope, error) {
	id, err := KeyID(signer.Public())
	if err != nil {
		return nil, err
	}
	msg := PAE(PayloadType, payload)
	var sig []byte
	switch s := signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(s, msg)
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(msg)
		if sig, err = ecdsa.SignASN1(rand.Reader, s, sum[:]); err != nil {
			return nil, err
		}
	default:
		if sig, err = signOpaque(signer, msg); err != nil {
			return nil, err
		}
	}
	return &Envelope{PayloadType: PayloadType, Payload: payload, Signatures: []Signature{{KeyID: id, Sig: sig}}}, nil
}

// signOpaque signs msg (a PAE) with a signer whose private key is not in
// memory, chosen by its public key: Ed25519 signs the message, ECDSA P-256
// its SHA-256 (an ASN.1 signature, as crypto.Signer returns it).
func signOpaque(signer crypto.Signer, msg []byte) ([]byte, error) {
	switch pub := signer.Public().(type) {
	case ed25519.PublicKey:
		return signer.Sign(rand.Reader, msg, crypto.Hash(0))
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, errors.New("ECDSA keys must be on P-256")
		}
		sum := sha256.Sum256(msg)
		return signer.Sign(rand.Reader, sum[:], crypto.SHA256)
	default:
		return nil, fmt.Errorf("unsupported signer %T with a %T public key: use Ed25519 or ECDSA P-256", signer, pub)
	}
}

// checkSigner signs a test envelope with signer and verifies it with the
// signer's public key.
func checkSigner(signer crypto.Signer) error {
	env, err := Sign([]byte(`{"htlog":"key check"}`), signer)
	if err != nil {
		return fmt.Errorf("the key couldn't sign: %w", err)
	}
	if err := env.Verify(signer.Public()); err != nil {
		return fmt.Errorf("the key's signature does not verify with its public key: %w", err)
	}
	return nil
}

// paeBuffers holds buffers for Verify's PAE.
var paeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Verify checks the envelope's signature with pub (Ed25519 over the PAE, or
// ECDSA P-256 ASN.1 over its SHA-256).
func (e *Envelope) Verify(pub crypto.PublicKey) error {
	// The PAE is built in a pooled buffer: a monitor verifies every entry
	// of the log, and neither verifier keeps the message.
	buf := paeBuffers.Get().(*[]byte)
	msg := appendPAE((*buf)[:0], e.PayloadType, e.Payload)
	defer func() {
		*buf = msg[:0]
		paeBuffers.Put(buf)
	}()
	sig := e.Signatures[0].Sig
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256(msg)
		if ecdsa.VerifyASN1(k, sum[:], sig) {
			return nil
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return ErrBadSignature
}
