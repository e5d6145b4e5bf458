package main

import (
	"errors"
	"strings"

	"github.com/htlog/htlog/cmd/internal/config"
)

// PKCS11 names the submitter's signing key on a PKCS#11 token (an HSM, a
// smart card, SoftHSM), used instead of key_file: the private key never
// leaves the token. The key is Ed25519 or ECDSA P-256, its public key
// registered with the log as for a key file.
type PKCS11 struct {
	// Module is the token's PKCS#11 library, such as
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string `mapstructure:"module"`
	// TokenLabel is the token's label.
	TokenLabel string `mapstructure:"token_label"`
	// PinFile holds the user PIN (a file only its owner may read).
	PinFile string `mapstructure:"pin_file"`
	// KeyLabel is the label (CKA_LABEL) of the key pair.
	KeyLabel string `mapstructure:"key_label"`
}

// openKey logs in to the token and opens the key p names; the key's Close
// ends the session.
func (p PKCS11) openKey() (*tokenKey, error) {
	if p.TokenLabel == "" || p.KeyLabel == "" || p.PinFile == "" {
		return nil, errors.New("pkcs11: module, token_label, pin_file and key_label are all required")
	}
	pin, err := config.CheckPrivateKeyFile("pkcs11.pin_file", p.PinFile)
	if err != nil {
		return nil, err
	}
	return openToken(p, strings.TrimSpace(pin))
}
