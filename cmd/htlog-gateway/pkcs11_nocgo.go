//go:build !cgo

package main

import (
	"crypto"
	"errors"
)

// tokenKey is a key pair on a PKCS#11 token; without cgo there is none.
type tokenKey struct {
	crypto.Signer
}

// Close does nothing.
func (k *tokenKey) Close() error { return nil }

func openToken(PKCS11, string) (*tokenKey, error) {
	return nil, errors.New("pkcs11: this htlog-gateway was built without cgo, which PKCS#11 modules need: build it with CGO_ENABLED=1 (and a C library the module links against)")
}
