package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/internal/registry"
)

// Config is htlog-monitor's configuration: a YAML file (--config), HTLOG_*
// environment variables (HTLOG_LOG_URL sets log.url) and flags, in that
// order of precedence.
type Config struct {
	// Listen is the HTTP address of the dashboard and API.
	Listen string `mapstructure:"listen"`
	// Database holds the monitor's durable state.
	Database struct {
		// DSN is a go-sql-driver DSN, such as
		// root@tcp(127.0.0.1:3306)/htlog_monitor; the database is created if missing.
		DSN string `mapstructure:"dsn"`
	} `mapstructure:"database"`
	// Log names the monitored log.
	Log struct {
		// URL is the log's tlog-tiles base URL, such as http://127.0.0.1:8080.
		URL string `mapstructure:"url"`
		// VKeyFile holds the log's signed-note verifier key.
		VKeyFile string `mapstructure:"vkey_file"`
	} `mapstructure:"log"`
	// PolicyFile, if set, is a C2SP tlog-policy the log's checkpoints must
	// satisfy (witness quorum) before the monitor follows them.
	PolicyFile string `mapstructure:"policy_file"`
	// SubmittersFile is the submitter registry YAML entries are checked against.
	SubmittersFile string `mapstructure:"submitters_file"`
	// Witnesses are witness base URLs whose monitoring checkpoints
	// (/<hex sha256(origin)>/checkpoint) are read every poll.
	Witnesses []string `mapstructure:"witnesses"`
	// Peers are peer monitor base URLs our latest checkpoint is POSTed to
	// (/pollinate) every poll.
	Peers []string `mapstructure:"peers"`
	// PollInterval is the time between follow rounds.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// EvidenceDir receives each split-view evidence bundle as <id>.txt.
	EvidenceDir string `mapstructure:"evidence_dir"`
	// Webhooks receive a JSON POST for each split view.
	Webhooks []string `mapstructure:"webhooks"`

	reportOnly bool // the report subcommand needs only database.dsn

	vkey     string
	policy   *c2sp.Policy
	registry *registry.Watcher
}

func defaults() *Config {
	c := &Config{Listen: "127.0.0.1:8280", PollInterval: 2 * time.Second, EvidenceDir: "var/evidence"}
	c.Database.DSN = "root@tcp(127.0.0.1:3306)/htlog_monitor"
	return c
}

// Validate checks every key and reads the files, naming the key at fault.
func (c *Config) Validate() error {
	if c.Database.DSN == "" {
		return errors.New("database.dsn: required")
	}
	if c.reportOnly {
		return nil
	}
	if err := config.CheckListen("listen", c.Listen); err != nil {
		return err
	}
	if err := checkURL("log.url", c.Log.URL); err != nil {
		return err
	}
	vkey, err := config.ReadPublicFile("log.vkey_file", c.Log.VKeyFile)
	if err != nil {
		return err
	}
	if _, err := c2sp.NewLogVerifier(vkey); err != nil {
		return fmt.Errorf("log.vkey_file: %s is not a log verifier key: %v", c.Log.VKeyFile, err)
	}
	c.vkey = vkey
	if c.PolicyFile != "" {
		text, err := config.ReadPublicFile("policy_file", c.PolicyFile)
		if err != nil {
			return err
		}
		if c.policy, err = c2sp.ParsePolicy([]byte(text + "\n")); err != nil {
			return fmt.Errorf("policy_file: %v", err)
		}
	}
	if c.SubmittersFile == "" {
		return errors.New("submitters_file: required (the submitter registry YAML)")
	}
	if c.registry, err = registry.NewWatcher(c.SubmittersFile); err != nil {
		return fmt.Errorf("submitters_file: %v", err)
	}
	for i, w := range c.Witnesses {
		if err := checkURL(fmt.Sprintf("witnesses[%d]", i), w); err != nil {
			return err
		}
	}
	for i, p := range c.Peers {
		if err := checkURL(fmt.Sprintf("peers[%d]", i), p); err != nil {
			return err
		}
	}
	for i, h := range c.Webhooks {
		if err := checkURL(fmt.Sprintf("webhooks[%d]", i), h); err != nil {
			return err
		}
	}
	if c.EvidenceDir == "" {
		return errors.New("evidence_dir: required")
	}
	return config.CheckPositive("poll_interval", c.PollInterval)
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: must be an http(s) URL, got %q", key, s)
	}
	return nil
}
