package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

// TestMLDSA44Key runs the htlog-witness binary with an ML-DSA-44 key (as
// `htlog keygen --kind witness --alg mldsa44` writes it) and an Ed25519
// extra key: its add-checkpoint answer carries a cosignature from each,
// and each verifies with its vkey.
func TestMLDSA44Key(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "witness_mldsa")
	pqPath, pqVKey := testonly.NewWitnessKeyFileOf(t, "w.example", c2sp.WitnessAlgMLDSA44)
	edPath, edVKey := testonly.NewWitnessKeyFile(t, "w.example")
	log := testonly.NewFakeLog(t, "example.com/log")
	log.AppendN("e", 5)
	d := &process{bin: buildBinary(t), cfg: filepath.Join(t.TempDir(), "w.yaml")}
	addr := testonly.FreePort(t)
	d.url = "http://" + addr
	cfg := fmt.Sprintf("listen: %s\ndatabase: {dsn: '%s'}\nkey_file: %s\nextra_key_files: [%s]\nlogs: [{vkey: %s}]\n", addr, dsn, pqPath, edPath, log.VKey)
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start(t)
	defer d.kill()

	cp := log.Checkpoint(t, 5)
	code, body, err := post(d.url, c2sp.AddCheckpointRequest{Checkpoint: cp}.Marshal())
	if err != nil || code != 200 {
		t.Fatalf("add-checkpoint: %d %q %v", code, body, err)
	}
	if strings.Count(body, "\n") != 2 {
		t.Fatalf("want two cosignature lines, got %q", body)
	}
	for _, vkey := range []string{pqVKey, edVKey} {
		v, err := c2sp.NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(append(append([]byte{}, cp...), body...), note.VerifierList(log.Verifier, v))
		if err != nil || !c2sp.HasSignature(n, v) {
			t.Errorf("no valid cosignature for %.30s...: %v", vkey, err)
		}
	}
}
