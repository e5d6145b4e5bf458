package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/spf13/pflag"
)

// TestBadTLSConfigExits2 checks the tls and database.tls keys' validation:
// the error names the key and the witness exits 2.
func TestBadTLSConfigExits2(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := testonly.NewWitnessKeyFile(t, "w.example")
	log := testonly.NewFakeLog(t, "example.com/log")
	base := "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\nlogs: [{vkey: " + log.VKey + ", url: 'https://log.example.org/'}]\npeers: ['https://w2.example.org']\n"
	load := func(path string) error {
		fs := pflag.NewFlagSet("htlog-witness", pflag.ContinueOnError)
		fs.String("config", path, "")
		return config.Load(fs, defaults())
	}
	for i, tc := range testonly.BadTLSConfigs(t) {
		path := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
		if err := os.WriteFile(path, []byte(base+tc.YAML), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := load(path); err == nil || !strings.Contains(err.Error(), tc.Want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.Name, err, tc.Want)
		}
		if code := run(context.Background(), []string{"--config", path}); code != 2 {
			t.Errorf("%s: exit code %d, want 2", tc.Name, code)
		}
	}
	path := filepath.Join(dir, "good.yaml")
	os.WriteFile(path, []byte(base), 0o600)
	if err := load(path); err != nil {
		t.Fatalf("the base configuration (https:// log and peer URLs): %v", err)
	}
}
