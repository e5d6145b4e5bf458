package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/event"
	"github.com/htlog/htlog/internal/registry"
)

func TestTag(t *testing.T) {
	key := filepath.Join(t.TempDir(), "patient.key")
	if code, _, e := runCLI(t, "tag", "--new-key", key); code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	code, out, e := runCLI(t, "tag", "--key-file", key, "MRN-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	hexKey, _ := os.ReadFile(key)
	code, out2, _ := runCLI(t, "tag", "--key-hex", strings.TrimSpace(string(hexKey)), "--json", "MRN-1")
	var j struct{ Tag string }
	json.Unmarshal([]byte(out2), &j)
	if code != 0 || !event.IsTag(strings.TrimSpace(out)) || j.Tag != strings.TrimSpace(out) {
		t.Errorf("got %q and %q", out, out2)
	}
	if code, _, _ := runCLI(t, "tag", "MRN-1"); code != exitUsage {
		t.Errorf("no key: exit %d", code)
	}
	if code, _, _ := runCLI(t, "tag", "--help"); code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
}

func TestCommit(t *testing.T) {
	code, out, _ := runCLI(t, "commit", "--json", "psychiatry notes")
	var c struct{ Commitment, Opening string }
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || !event.IsCommitment(c.Commitment) {
		t.Fatalf("exit %d: %s", code, out)
	}
	if code, _, e := runCLI(t, "commit", "--verify", "--commitment", c.Commitment, "--opening", c.Opening, "psychiatry notes"); code != 0 {
		t.Errorf("valid opening: exit %d: %s", code, e)
	}
	if code, _, _ := runCLI(t, "commit", "--verify", "--commitment", c.Commitment, "--opening", c.Opening, "cardiology notes"); code != exitNotVerified {
		t.Errorf("wrong value: exit %d", code)
	}
}

func TestRegister(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "h.key")
	if code, _, e := runCLI(t, "keygen", "--kind", "submitter", "--name", "npi:1234567893", "--out", key); code != 0 {
		t.Fatal(e)
	}
	code, out, e := runCLI(t, "register", "--org", "npi:1234567893", "--name", "General Hospital", "--public-key", key+".pub", "--kinds", "access,consent")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	reg, err := registry.Parse([]byte(out), dir)
	if err != nil {
		t.Fatalf("the snippet is not a registry: %v\n%s", err, out)
	}
	if got := reg.Orgs(); len(got) != 1 || got[0] != "npi:1234567893" {
		t.Errorf("orgs %v", got)
	}
	if code, _, _ := runCLI(t, "register", "--org", "npi:1", "--public-key", key+".pub", "--kinds", "surgery"); code != exitUsage {
		t.Errorf("unknown kind: exit %d", code)
	}
}
