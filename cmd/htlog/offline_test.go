package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/event"
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
	if code, _, _ := runCLI(t, "register", "--org", "npi:1234567893", "--public-key", key+".pub", "--kinds", "surgery"); code != exitUsage {
		t.Errorf("unknown kind: exit %d", code)
	}
	for _, org := range []string{"npi:1234567890", "gln:0614141000013", "npi:1"} {
		if code, _, e := runCLI(t, "register", "--org", org, "--public-key", key+".pub"); code != exitUsage || !strings.Contains(e, "check digit") {
			t.Errorf("%s: exit %d %q, want a usage error naming the check digit", org, code, e)
		}
	}
}

// TestPatientKey: one key per patient, kept in the custodian's store;
// export, import, refusal to replace, bad input.
func TestPatientKey(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	run := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"patient-key", "--store", store}, args...)...)
		if code != want {
			t.Fatalf("patient-key %v: exit %d, want %d: %s", args, code, want, errOut)
		}
		return strings.TrimSpace(out)
	}
	a := run(0, "--patient", "MRN-1", "--custodian", "npi:1234567893", "--export", filepath.Join(dir, "a.key"))
	if !event.IsTag(a) || run(0, "--patient", "MRN-1", "--custodian", "npi:1234567893") != a {
		t.Fatal("the stored key does not give the same tag")
	}
	if b := run(0, "--patient", "MRN-2", "--custodian", "npi:1234567893"); b == a {
		t.Fatal("two patients share a tag")
	}
	exported, _ := os.ReadFile(filepath.Join(dir, "a.key"))
	key, _ := loadTagKey(filepath.Join(dir, "a.key"), "")
	if event.PatientTag(key, "npi:1234567893") != a || len(strings.TrimSpace(string(exported))) != 64 {
		t.Fatal("the exported key is not the patient's")
	}
	if st, _ := os.Stat(filepath.Join(dir, "a.key")); st.Mode().Perm() != 0o600 {
		t.Errorf("exported key mode %v", st.Mode())
	}
	// The patient brings the same key to a second provider: another tag.
	store2 := filepath.Join(dir, "store2")
	code, out, _ := runCLI(t, "patient-key", "--store", store2, "--patient", "P-77", "--custodian", "gln:0614141000012", "--import", filepath.Join(dir, "a.key"))
	if code != 0 || strings.TrimSpace(out) != event.PatientTag(key, "gln:0614141000012") || strings.TrimSpace(out) == a {
		t.Fatalf("import: exit %d, %q", code, out)
	}
	if code, _, _ := runCLI(t, "patient-key", "--store", store2, "--patient", "P-77", "--custodian", "gln:0614141000012", "--import", filepath.Join(dir, "a.key")); code == 0 {
		t.Error("importing over a stored key succeeded")
	}
	run(exitUsage, "--patient", "MRN-1", "--custodian", "npi:1234567890") // check digit
	run(exitUsage, "--patient", "MRN-1")
}
