package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"
)

func init() {
	register("keygen", subcommand{
		summary: "create a log, witness or submitter key pair",
		run:     keygen,
	})
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("keygen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", "", "log | witness | submitter")
	name := fs.String("name", "", "key name: the log's origin, the witness's name, or the submitter organisation")
	out := fs.String("out", "", "private key file to write (mode 0600); the public key goes to <out>.pub")
	alg := fs.String("alg", "ed25519", "submitter keys: ed25519 | p256; witness keys: ed25519 | mldsa44 (ML-DSA-44 cosignatures, tlog-cosignature's recommendation)")
	force := fs.Bool("force", false, "overwrite existing key files")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *kind == "" || *name == "" || *out == "" {
		return usageError{"--kind, --name and --out are required"}
	}
	var priv, pub string
	var err error
	switch *kind {
	case "log":
		priv, pub, err = note.GenerateKey(rand.Reader, *name)
	case "witness":
		if *alg != c2sp.WitnessAlgEd25519 && *alg != c2sp.WitnessAlgMLDSA44 {
			return usageError{fmt.Sprintf("--alg must be ed25519 or mldsa44 for a witness key, not %q", *alg)}
		}
		priv, pub, err = c2sp.GenerateWitnessKey(*name, *alg)
	case "submitter":
		priv, pub, err = submitterKey(*alg)
	default:
		return usageError{fmt.Sprintf("--kind must be log, witness or submitter, not %q", *kind)}
	}
	if err != nil {
		return fmt.Errorf("couldn't generate the key: %w", err)
	}
	if err := writeKeyFile(*out, priv+"\n", 0o600, *force); err != nil {
		return err
	}
	if err := writeKeyFile(*out+".pub", pub+"\n", 0o644, *force); err != nil {
		return err
	}
	fmt.Fprintln(stdout, pub)
	return nil
}

func submitterKey(alg string) (priv, pub string, err error) {
	var signer crypto.Signer
	switch alg {
	case "ed25519":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case "p256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", "", usageError{fmt.Sprintf("--alg must be ed25519 or p256, not %q", alg)}
	}
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return "", "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return "", "", err
	}
	keyID, err := event.KeyID(signer.Public())
	if err != nil {
		return "", "", err
	}
	priv = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	pub = "# key id " + keyID + "\n" + string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	return priv, pub[:len(pub)-1], nil
}

func writeKeyFile(path, data string, mode os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, mode)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists; use --force to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("couldn't create %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return fmt.Errorf("couldn't write %s: %w", path, err)
	}
	return f.Close()
}
