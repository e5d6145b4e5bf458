package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/rules"
	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"
)

// validConfig writes a configuration that passes Validate followed by
// extra, and returns its path.
func validConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	vkey := filepath.Join(dir, "log.vkey")
	subs := filepath.Join(dir, "submitters.yaml")
	if err := os.WriteFile(vkey, []byte(testonly.NewFakeLog(t, "example.com/log").VKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(subs, []byte("submitters: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml := "listen: 127.0.0.1:0\nlog:\n  url: http://127.0.0.1:1/\n  vkey_file: " + vkey +
		"\nsubmitters_file: " + subs + "\nevidence_dir: " + filepath.Join(dir, "evidence") + "\n" + extra
	path := filepath.Join(dir, "monitor.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadConfig(t *testing.T, path string) *Config {
	t.Helper()
	fs := pflag.NewFlagSet("htlog-monitor", pflag.ContinueOnError)
	fs.String("config", "", "")
	if err := fs.Parse([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	cfg := defaults()
	if err := config.Load(fs, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRulesConfig(t *testing.T) {
	cfg := loadConfig(t, validConfig(t, `rules:
  break_glass_max: 5
  break_glass_window: 48h
  volume_max: 250
  volume_window: 30m
  consent_purposes: [HRESCH, PUBHLTH]
  settle_window: -1s
  settle_max: 1000
`))
	want := rules.Options{
		BreakGlassMax: 5, BreakGlassWindow: 48 * time.Hour, VolumeMax: 250, VolumeWindow: 30 * time.Minute,
		ConsentPurposes: []string{"HRESCH", "PUBHLTH"}, SettleWindow: -time.Second, SettleMax: 1000,
	}
	if got := cfg.ruleOptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("rules = %+v, want %+v", got, want)
	}

	// Absent keys keep the rules' defaults (zero values in rules.Options).
	if got := loadConfig(t, validConfig(t, "")).ruleOptions(); !reflect.DeepEqual(got, rules.Options{}) {
		t.Errorf("no rules section: %+v, want the zero rules.Options", got)
	}

	// An empty list is kept, not taken for absent: no purpose needs a consent.
	if got := loadConfig(t, validConfig(t, "rules:\n  consent_purposes: []\n")).ruleOptions(); got.ConsentPurposes == nil || len(got.ConsentPurposes) != 0 {
		t.Errorf("consent_purposes: []: got %#v, want an empty, non-nil list", got.ConsentPurposes)
	}

	// Environment variables set the keys as they do poll_interval.
	t.Setenv("HTLOG_RULES_SETTLE_WINDOW", "72h")
	t.Setenv("HTLOG_RULES_VOLUME_MAX", "7")
	t.Setenv("HTLOG_RULES_CONSENT_PURPOSES", "HRESCH,HPAYMT")
	got := loadConfig(t, validConfig(t, "rules:\n  settle_window: 1h\n")).ruleOptions()
	if got.SettleWindow != 72*time.Hour || got.VolumeMax != 7 || !reflect.DeepEqual(got.ConsentPurposes, []string{"HRESCH", "HPAYMT"}) {
		t.Errorf("from the environment: %+v", got)
	}
}

func TestBadRulesConfigExits2(t *testing.T) {
	for _, tc := range []struct{ rules, want string }{
		{"break_glass_max: -1", "rules.break_glass_max: must not be negative"},
		{"break_glass_window: -1h", "rules.break_glass_window: must not be negative"},
		{"break_glass_window: soon", "rules.break_glass_window"},
		{"volume_max: -5", "rules.volume_max: must not be negative"},
		{"volume_max: many", "rules.volume_max"},
		{"volume_window: -1m", "rules.volume_window: must not be negative"},
		{"settle_max: -1", "rules.settle_max: must not be negative"},
		{"settle_window: later", "rules.settle_window"},
		{"consent_purposes: [hresch]", "rules.consent_purposes[0]: must be an uppercase"},
		{"consent_purposes: [HRESCH, '']", "rules.consent_purposes[1]: must be an uppercase"},
		{"consent_purposes: [HRESCH, ' PUBHLTH']", "rules.consent_purposes[1]: must be an uppercase"},
		{"consent_purposes: [H_RESCH]", "rules.consent_purposes[0]: must be an uppercase"},
		{"volum_max: 5", "volum_max"},
	} {
		path := validConfig(t, "rules:\n  "+tc.rules+"\n")
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"--config", path}, &bytes.Buffer{}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("rules: %s: exit %d (%q), want 2 and a message naming %q", tc.rules, code, strings.TrimSpace(stderr.String()), tc.want)
		}
	}
}

func TestPollinateConfig(t *testing.T) {
	c := loadConfig(t, validConfig(t, "pollinate: {per_second: 5, burst: 20}\n"))
	if c.Pollinate.PerSecond != 5 || c.Pollinate.Burst != 20 {
		t.Errorf("pollinate: %+v", c.Pollinate)
	}
	for _, bad := range []string{"pollinate: {per_second: -1}\n", "pollinate: {burst: -2}\n", "pollinate: {burst: lots}\n"} {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"--config", validConfig(t, bad)}, &bytes.Buffer{}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "pollinate") {
			t.Errorf("%s: exit %d (%q), want 2 naming pollinate", strings.TrimSpace(bad), code, strings.TrimSpace(stderr.String()))
		}
	}
}

// TestSigningKeyAndRegulators: signing_key_file takes a note key made by
// `htlog keygen --kind log`; a regulator's token file must be private and
// long enough; names are unique.
func TestSigningKeyAndRegulators(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	skey, _, err := note.GenerateKey(rand.Reader, "monitor.example")
	if err != nil {
		t.Fatal(err)
	}
	key := write("monitor.key", skey+"\n", 0o600)
	token := write("alice.token", "alice-secret-token-0123\n", 0o600)
	cfg := loadConfig(t, validConfig(t, "signing_key_file: "+key+"\nregulators:\n  - name: alice\n    token_file: "+token+"\n"))
	if cfg.signer == nil || cfg.signer.Name() != "monitor.example" || len(cfg.regulators) != 1 || cfg.regulators[0].Name != "alice" {
		t.Fatalf("config: %+v", cfg)
	}
	for name, extra := range map[string]string{
		"public key file": "signing_key_file: " + write("open.key", skey, 0o644) + "\n",
		"not a note key":  "signing_key_file: " + write("bad.key", "nonsense", 0o600) + "\n",
		"short token":     "regulators:\n  - name: bob\n    token_file: " + write("short.token", "short", 0o600) + "\n",
		"readable token":  "regulators:\n  - name: bob\n    token_file: " + write("open.token", "bob-secret-token-0123456", 0o644) + "\n",
		"bad name":        "regulators:\n  - name: bob smith\n    token_file: " + token + "\n",
		"name twice":      "regulators:\n  - name: alice\n    token_file: " + token + "\n  - name: alice\n    token_file: " + token + "\n",
	} {
		fs := pflag.NewFlagSet("htlog-monitor", pflag.ContinueOnError)
		fs.String("config", "", "")
		fs.Parse([]string{"--config", validConfig(t, extra)})
		if err := config.Load(fs, defaults()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
