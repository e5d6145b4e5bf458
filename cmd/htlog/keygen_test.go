package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
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
	for _, tc := range []struct {
		args    []string
		keyType byte
		keySize int
	}{
		{nil, 0x04, 32}, // the default stays Ed25519
		{[]string{"--alg", "ed25519"}, 0x04, 32},
		{[]string{"--alg", "mldsa44"}, 0x06, 1312},
	} {
		out := filepath.Join(t.TempDir(), "w.key")
		code, vkey, stderr := runCLI(t, append([]string{"keygen", "--kind", "witness", "--name", "w1.example", "--out", out}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		vkey = strings.TrimSpace(vkey)
		raw, err := base64.StdEncoding.DecodeString(strings.SplitN(vkey, "+", 3)[2])
		if err != nil || len(raw) != 1+tc.keySize || raw[0] != tc.keyType {
			t.Errorf("%v: vkey holds %d bytes of type %#x, want %d of type %#x", tc.args, len(raw)-1, raw[0], tc.keySize, tc.keyType)
		}
		pub, _ := os.ReadFile(out + ".pub")
		if strings.TrimSpace(string(pub)) != vkey {
			t.Errorf("%v: %s.pub differs from the printed vkey", tc.args, out)
		}
		skey, _ := os.ReadFile(out)
		signer, err := c2sp.NewCosigner(strings.TrimSpace(string(skey)))
		if err != nil {
			t.Fatal(err)
		}
		verifier, err := c2sp.NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		if signer.KeyHash() != verifier.KeyHash() {
			t.Errorf("%v: cosignature key hashes differ", tc.args)
		}
		body := c2sp.Checkpoint{Origin: "o", Size: 1, Hash: c2sp.LeafHash(nil)}.Marshal()
		msg, _ := note.Sign(&note.Note{Text: string(body)}, signer)
		if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
			t.Errorf("%v: cosignature does not verify: %v", tc.args, err)
		}
	}
	if code, _, stderr := runCLI(t, "keygen", "--kind", "witness", "--alg", "p256", "--name", "w", "--out", filepath.Join(t.TempDir(), "k")); code != 2 {
		t.Errorf("witness --alg p256: exit %d %q, want 2", code, stderr)
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
