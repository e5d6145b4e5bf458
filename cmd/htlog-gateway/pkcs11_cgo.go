//go:build cgo

package main

import (
	"crypto"
	"fmt"

	"github.com/ThalesGroup/crypto11"
)

// tokenKey is a key pair on a PKCS#11 token and the session it is used in.
type tokenKey struct {
	crypto.Signer
	ctx *crypto11.Context
}

// Close ends the token session.
func (k *tokenKey) Close() error { return k.ctx.Close() }

// openToken logs in to the token with pin and finds the key pair, through
// github.com/ThalesGroup/crypto11 (which loads the module with cgo).
func openToken(p PKCS11, pin string) (*tokenKey, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: p.Module, TokenLabel: p.TokenLabel, Pin: pin})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: couldn't log in to token %q with module %s: %v", p.TokenLabel, p.Module, err)
	}
	s, err := ctx.FindKeyPair(nil, []byte(p.KeyLabel))
	if err == nil && s == nil {
		err = fmt.Errorf("no key pair labelled %q", p.KeyLabel)
	}
	if err != nil {
		ctx.Close()
		return nil, fmt.Errorf("pkcs11.key_label: on token %q: %v", p.TokenLabel, err)
	}
	return &tokenKey{Signer: s, ctx: ctx}, nil
}
