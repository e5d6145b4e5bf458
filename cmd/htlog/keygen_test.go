package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestKeygenLog(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log.key")
	code, vkey, stderr := runCLI(t, "keygen", "--kind", "log", "--name", "example.com/log", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", st.Mode().Perm())
	}
	skey, _ := os.ReadFile(out)
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := note.Sign(&note.Note{Text: "hello\n"}, signer)
	if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
		t.Errorf("printed vkey does not verify the written skey: %v", err)
	}
	if code, _, stderr := runCLI(t, "keygen", "--kind", "log", "--name", "example.com/log", "--out", out); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("overwrite: exit %d %q", code, stderr)
	}
}

func TestKeygenWitness(t *testing.T) {
	out := filepath.Join(t.TempDir(), "w.key")
	code, vkey, stderr := runCLI(t, "keygen", "--kind", "witness", "--name", "w1.example", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	skey, _ := os.ReadFile(out)
	signer, err := fnote.NewSignerForCosignatureV1(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := fnote.NewVerifierForCosignatureV1(strings.TrimSpace(vkey))
	if err != nil {
		t.Fatal(err)
	}
	if signer.KeyHash() != verifier.KeyHash() {
		t.Error("cosignature key hashes differ")
	}
	msg, _ := note.Sign(&note.Note{Text: "o\n1\nAAAA\n"}, signer)
	if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
		t.Errorf("cosignature does not verify: %v", err)
	}
}

func TestKeygenSubmitter(t *testing.T) {
	for _, alg := range []string{"ed25519", "p256"} {
		out := filepath.Join(t.TempDir(), "s.key")
		code, pub, stderr := runCLI(t, "keygen", "--kind", "submitter", "--name", "org", "--alg", alg, "--out", out)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", alg, code, stderr)
		}
		skey, _ := os.ReadFile(out)
		block, _ := pem.Decode(skey)
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			t.Errorf("%s: private key: %v", alg, err)
		}
		if !strings.HasPrefix(pub, "# key id ") {
			t.Errorf("%s: no key id in %q", alg, pub)
		}
	}
}

func TestKeygenUsage(t *testing.T) {
	for _, args := range [][]string{
		{"keygen"},
		{"keygen", "--kind", "bogus", "--name", "x", "--out", filepath.Join(t.TempDir(), "k")},
		{"keygen", "--kind", "submitter", "--alg", "rsa", "--name", "x", "--out", filepath.Join(t.TempDir(), "k")},
		{"keygen", "--nope"},
		{"nosuchcommand"},
	} {
		if code, _, stderr := runCLI(t, args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
