package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/testonly"
)

// TestMLDSA44WitnessReceipt runs a stack whose witness w2 cosigns with
// ML-DSA-44 beside two Ed25519 witnesses under a 2-of-3 policy. With w0
// down the quorum needs w2's cosignature: the receipt verifies with
// `htlog verify` and with the client, under the stack's policy and under a
// policy naming w2 alone, and a receipt whose ML-DSA-44 cosignature is
// altered does not.
func TestMLDSA44WitnessReceipt(t *testing.T) {
	s := testonly.StartStack(t)
	w2 := s.Policy.Witnesses[testonly.MLDSA44Witness]
	if raw, _ := base64.StdEncoding.DecodeString(strings.SplitN(w2.VKey, "+", 3)[2]); len(raw) != 1+1312 || raw[0] != c2sp.KeyTypeMLDSA44Cosignature {
		t.Fatalf("the stack's witness %s is not an ML-DSA-44 witness", w2.Name)
	}
	dir := t.TempDir()
	must := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != want {
			t.Fatalf("htlog %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out
	}
	s.WitnessDown[0].Store(true)
	defer s.WitnessDown[0].Store(false)

	tag := strings.TrimSpace(must(0, "patient-key", "--store", filepath.Join(dir, "keys"), "--patient", "MRN-7", "--custodian", s.Org))
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, withPatient(t, "access", "valid-routine-read.json", tag), 0o644); err != nil {
		t.Fatal(err)
	}
	receipt, env := filepath.Join(dir, "r.tlog-proof"), filepath.Join(dir, "r.envelope.json")
	must(0, "submit", "--log", s.URL, "--policy", s.PolicyFile, "--timeout", "30s", "--key", s.KeyFile, "--org", s.Org,
		"--kind", "access", "--occurred-at", testonly.Minute(-time.Hour), "--out", receipt, "--envelope-out", env, body)

	out := must(0, "verify", "--policy", s.PolicyFile, "--entry", env, "--json", receipt)
	var j struct {
		Verified  bool
		Witnesses []string
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || !j.Verified || strings.Join(j.Witnesses, ",") != "w1,w2" {
		t.Fatalf("htlog verify --json: %s", out)
	}
	// A policy that trusts the ML-DSA-44 witness alone.
	only := filepath.Join(dir, "only-w2.txt")
	if err := os.WriteFile(only, []byte("log "+s.LogVKey+"\nwitness w2 "+w2.VKey+"\nquorum w2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(0, "verify", "--policy", only, "--entry", env, receipt)

	proof, _ := os.ReadFile(receipt)
	entry, _ := os.ReadFile(env)
	res, err := client.VerifyProofFile(s.Policy, proof, entry)
	if err != nil || strings.Join(res.Checkpoint.Witnesses, ",") != "w1,w2" {
		t.Fatalf("client.VerifyProofFile: %v, %+v", err, res)
	}

	// Flip one bit of the ML-DSA-44 signature (not its key ID or timestamp).
	prefix := []byte("\u2014 " + w2.Verifier.Name() + " ")
	i := bytes.Index(proof, prefix)
	if i < 0 {
		t.Fatalf("the receipt has no line from %s:\n%s", w2.Verifier.Name(), proof)
	}
	start := i + len(prefix)
	end := start + bytes.IndexByte(proof[start:], '\n')
	sig, err := base64.StdEncoding.DecodeString(string(proof[start:end]))
	if err != nil || len(sig) != 4+8+2420 {
		t.Fatalf("w2's cosignature is %d bytes (%v)", len(sig), err)
	}
	sig[500] ^= 1
	bad := append(append(bytes.Clone(proof[:start]), base64.StdEncoding.EncodeToString(sig)...), proof[end:]...)
	badFile := filepath.Join(dir, "bad.tlog-proof")
	if err := os.WriteFile(badFile, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	must(exitNotVerified, "verify", "--policy", s.PolicyFile, "--entry", env, badFile)
	must(exitNotVerified, "verify", "--policy", only, "--entry", env, badFile)
	if _, err := client.VerifyProofFile(s.Policy, bad, entry); err == nil {
		t.Error("client.VerifyProofFile accepted an altered ML-DSA-44 cosignature")
	}
}
