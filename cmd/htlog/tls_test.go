package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
)

// TestCAFile reads a log served over HTTPS with a certificate from a
// private CA: trusted through --ca-file or HTLOG_CA_FILE, refused (log
// unreachable) without it, and a bad CA file is a usage error.
func TestCAFile(t *testing.T) {
	log := testonly.NewFakeLog(t, "example.com/log")
	log.AppendN("tls", 3)
	ca := testonly.NewCA(t, "private CA")
	url := log.TLSURL(t, ca)
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("fake log URL %q", url)
	}
	policy := filepath.Join(t.TempDir(), "policy.txt")
	if err := os.WriteFile(policy, []byte("log "+log.VKey+" "+url+"\nquorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, e := runCLI(t, "checkpoint", "--policy", policy, "--ca-file", ca.CertFile, "--json"); code != 0 || !strings.Contains(out, `"size":3`) {
		t.Errorf("--ca-file: exit %d: %s %s", code, out, e)
	}
	// Without the CA: refused at once (not retried until the timeout), as
	// unreachable, naming the certificate.
	if code, _, e := runCLI(t, "checkpoint", "--policy", policy, "--timeout", "10m"); code != exitUnavailable || !strings.Contains(e, "certificate is not trusted") {
		t.Errorf("without the CA: exit %d: %s, want %d and a certificate error", code, e, exitUnavailable)
	}
	if code, _, e := runCLI(t, "checkpoint", "--policy", policy, "--ca-file", policy); code != exitUsage || !strings.Contains(e, "--ca-file") {
		t.Errorf("a CA file without certificates: exit %d: %s", code, e)
	}
	t.Setenv("HTLOG_CA_FILE", ca.CertFile)
	if code, _, e := runCLI(t, "checkpoint", "--policy", policy); code != 0 {
		t.Errorf("HTLOG_CA_FILE: exit %d: %s", code, e)
	}
}
