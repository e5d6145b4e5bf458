package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type testConfig struct {
	Listen   string        `mapstructure:"listen"`
	Interval time.Duration `mapstructure:"interval"`
	Database struct {
		DSN  string `mapstructure:"dsn"`
		Name string `mapstructure:"name"`
	} `mapstructure:"database"`
}

func (c *testConfig) Validate() error {
	if c.Listen == "" {
		return errors.New("listen: required")
	}
	return CheckPositive("interval", c.Interval)
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args ...string) (*testConfig, error) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	c := &testConfig{}
	return c, Load(fs, c)
}

func TestLoadPrecedence(t *testing.T) {
	p := writeFile(t, "listen: 127.0.0.1:1\ninterval: 2s\ndatabase:\n  name: fromfile\n")
	t.Setenv("HTLOG_DATABASE_DSN", "root@tcp(x)/")
	t.Setenv("HTLOG_DATABASE_NAME", "fromenv")
	c, err := load(t, "--config", p, "--listen", "127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:2" || c.Interval != 2*time.Second || c.Database.DSN != "root@tcp(x)/" || c.Database.Name != "fromenv" {
		t.Errorf("got %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"listen: a\ninterval: 1s\nlisen: b\n", "lisen"},
		{"listen: a\ninterval: soon\n", "interval"},
		{"interval: 1s\n", "listen: required"},
		{"listen: a\ninterval: 0s\n", "interval: must be a positive duration"},
		{"listen: [a\n", "config file"},
	} {
		_, err := load(t, "--config", writeFile(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("file %q: err = %v, want it to mention %q", tc.file, err, tc.want)
		}
	}
	if _, err := load(t, "--config", "/nonexistent.yaml"); err == nil || !strings.Contains(err.Error(), "/nonexistent.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestChecks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	os.WriteFile(p, []byte("secret\n"), 0o644)
	if _, err := CheckPrivateKeyFile("log.key", p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(p, 0o600)
	if s, err := CheckPrivateKeyFile("log.key", p); err != nil || s != "secret" {
		t.Errorf("good key: %q %v", s, err)
	}
	if _, err := CheckPrivateKeyFile("log.key", p+"x"); err == nil || !strings.Contains(err.Error(), "htlog keygen") {
		t.Errorf("missing key: %v", err)
	}
	if err := CheckListen("listen", "80"); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("bad listen: %v", err)
	}
	l, _ := netListen()
	defer l.Close()
	if err := CheckListen("listen", l.Addr().String()); err == nil || !strings.Contains(err.Error(), "not free") {
		t.Errorf("taken port: %v", err)
	}
}

func ExampleCheckListen() {
	fmt.Println(CheckListen("listen", "8080"))
	// Output: listen: must be host:port, got "8080"
}

// squashed embeds a section whose keys are the parent's, as every daemon's
// Config embeds daemon.Base.
type squashed struct {
	shared `mapstructure:",squash"`
	Extra  string `mapstructure:"extra"`
}

type shared struct {
	Listen   string `mapstructure:"listen"`
	Database struct {
		DSN string `mapstructure:"dsn"`
	} `mapstructure:"database"`
}

func (c *squashed) Validate() error { return nil }

// TestLoadSquashed: an embedded section's keys come from the file, the
// environment and flags at the top level, and an unknown key is still one.
func TestLoadSquashed(t *testing.T) {
	p := writeFile(t, "listen: 127.0.0.1:1\nextra: x\n")
	t.Setenv("HTLOG_DATABASE_DSN", "root@tcp(y)/")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", "", "")
	if err := fs.Parse([]string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	c := &squashed{}
	if err := Load(fs, c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1" || c.Database.DSN != "root@tcp(y)/" || c.Extra != "x" {
		t.Errorf("got %+v", c)
	}
	bad := writeFile(t, "listen: 127.0.0.1:1\nlisten_typo: 2\n")
	fs = pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("config", "", "")
	if err := fs.Parse([]string{"--config", bad}); err != nil {
		t.Fatal(err)
	}
	if err := Load(fs, &squashed{}); err == nil || !strings.Contains(err.Error(), "listen_typo") {
		t.Errorf("unknown key: %v", err)
	}
}

// TestDefaultsSurviveUnsetFlags: a default the daemon set (its listen
// address) stays when neither the file nor the command line sets the key;
// the unset --listen flag's empty default does not replace it.
func TestDefaultsSurviveUnsetFlags(t *testing.T) {
	p := writeFile(t, "interval: 1s\n")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("listen", "", "")
	if err := fs.Parse([]string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	c := &testConfig{Listen: "127.0.0.1:8181"}
	if err := Load(fs, c); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8181" {
		t.Errorf("listen = %q, want the default 127.0.0.1:8181", c.Listen)
	}
}
