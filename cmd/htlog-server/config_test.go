package main

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"
)

// TestBadTLSConfigExits2 checks every TLS key's validation: the error names
// the key and the daemon exits 2, before touching the database or Trillian.
func TestBadTLSConfigExits2(t *testing.T) {
	dir := t.TempDir()
	skey, _, err := note.GenerateKey(rand.Reader, "htlog.test/log")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "log.key")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "listen: 127.0.0.1:0\norigin: htlog.test/log\nkey_file: " + keyFile + "\nsubmitters_file: /nonexistent.yaml\n"
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("no\n"), 0o644)
	cases := append(testonly.BadTLSConfigs(t),
		testonly.BadTLSConfig{Name: "trillian CA not PEM", YAML: "trillian: {tls: {ca_file: " + notPEM + "}}\n", Want: "trillian.tls.ca_file: no PEM certificate"},
		testonly.BadTLSConfig{Name: "trillian client cert without key", YAML: "trillian: {tls: {cert_file: " + notPEM + "}}\n", Want: "trillian.tls: set both cert_file and key_file"},
		testonly.BadTLSConfig{Name: "trillian server name", YAML: "trillian: {tls: {server_name: .internal}}\n", Want: "trillian.tls.server_name: must be a DNS name"},
	)
	for i, tc := range cases {
		path := filepath.Join(dir, "c"+string(rune('a'+i))+".yaml")
		if err := os.WriteFile(path, []byte(base+tc.YAML), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := pflag.NewFlagSet("htlog-server", pflag.ContinueOnError)
		fs.String("config", path, "")
		if err := config.Load(fs, defaults()); err == nil || !strings.Contains(err.Error(), tc.Want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.Name, err, tc.Want)
		}
		if code := run(context.Background(), []string{"--config", path}); code != 2 {
			t.Errorf("%s: exit code %d, want 2", tc.Name, code)
		}
	}
	// The base itself is valid: the cases fail for their TLS section only.
	fs := pflag.NewFlagSet("htlog-server", pflag.ContinueOnError)
	path := filepath.Join(dir, "good.yaml")
	os.WriteFile(path, []byte(base), 0o600)
	fs.String("config", path, "")
	if err := config.Load(fs, defaults()); err != nil {
		t.Fatalf("the base configuration: %v", err)
	}
}
