package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// TestBundle: htlog bundle writes a bundle every reader accepts (mode
// 0600), printing the patient's tag; a broken input is a usage error.
func TestBundle(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), 0o600)
		return p
	}
	key := event.NewTagKey()
	keyFile := write("patient.key", hex.EncodeToString(key)+"\n")
	l := testonly.NewFakeLog(t, "example.test/log")
	policy := write("policy.txt", "log "+l.VKey+"\nquorum none\n")
	mon := testonly.NewFakeMonitor(t, "monitor.example", l.Origin)
	monKey := write("monitor.vkey", mon.VKey+"\n")
	out := filepath.Join(dir, "bundle.json")
	args := []string{"bundle", "--log", "http://127.0.0.1:8080/", "--custodian", "npi:1234567893", "--key-file", keyFile,
		"--policy", policy, "--monitor", mon.URL, "--monitor-key", monKey, "--out", out}
	code, stdout, stderr := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(out)
	b, err := client.ParsePatientBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stdout) != event.PatientTag(key, "npi:1234567893") || b.Log != "http://127.0.0.1:8080" || len(b.Monitors) != 1 || b.Monitors[0].VKey != mon.VKey {
		t.Errorf("stdout %q, bundle %+v", stdout, b)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	for name, bad := range map[string][]string{
		"exists":          args,
		"unpaired":        append(args[:len(args)-2:len(args)-2], "--monitor", mon.URL, "--out", out+"2"),
		"bad custodian":   {"bundle", "--log", "http://x", "--custodian", "npi:1234567890", "--key-file", keyFile, "--policy", policy, "--out", out + "3"},
		"bad monitor key": {"bundle", "--log", "http://x", "--custodian", "npi:1234567893", "--key-file", keyFile, "--policy", policy, "--monitor", mon.URL, "--monitor-key", "nonsense", "--out", out + "4"},
	} {
		if code, _, stderr := runCLI(t, bad...); code == 0 {
			t.Errorf("%s: exit 0 (%s)", name, stderr)
		}
	}
}
