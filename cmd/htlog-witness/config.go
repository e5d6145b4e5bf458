package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
)

// Config is htlog-witness's configuration: a YAML file (--config), HTLOG_*
// environment variables (HTLOG_DATABASE_DSN) and flags, in that order of
// precedence. See deployment/local/witness1.yaml for an example.
type Config struct {
	// Base holds listen, tls and database (see daemon.Base).
	daemon.Base `mapstructure:",squash"`
	// KeyFile holds the witness's private key (htlog keygen --kind witness);
	// it must be readable by its owner only.
	KeyFile string `mapstructure:"key_file"`
	// ExtraKeyFiles are more private keys used at the same time, for key
	// rotation: every accepted checkpoint is cosigned by each key, so
	// clients can move to the new key before the old one is retired.
	ExtraKeyFiles []string `mapstructure:"extra_key_files"`
	// Logs are the logs this witness cosigns.
	Logs []LogConfig `mapstructure:"logs"`
	// PullInterval, if above zero, makes the witness fetch each log's
	// checkpoint and tiles itself at this interval (pull mode).
	PullInterval time.Duration `mapstructure:"pull_interval"`
	// Peers are other witnesses' base URLs to gossip checkpoints with.
	Peers []string `mapstructure:"peers"`
	// GossipInterval is how often checkpoints are pushed to Peers.
	GossipInterval time.Duration `mapstructure:"gossip_interval"`

	signers []string      // the private keys, read by Validate
	logs    []resolvedLog // Logs with their vkeys read and checked
}

// LogConfig names one witnessed log.
type LogConfig struct {
	// Origin is the log's checkpoint origin line.
	Origin string `mapstructure:"origin"`
	// VKey is the log's signed-note verifier key; VKeyFile reads it from a file.
	VKey     string `mapstructure:"vkey"`
	VKeyFile string `mapstructure:"vkey_file"`
	// URL is the log's tlog-tiles prefix, used by pull mode and to fetch
	// consistency proofs for pollinated checkpoints; optional.
	URL string `mapstructure:"url"`
}

type resolvedLog struct {
	origin, vkey, url string
}

func defaults() *Config {
	c := &Config{Base: daemon.Base{Listen: "127.0.0.1:8181"}, GossipInterval: 10 * time.Second}
	c.Database.DSN = "root@tcp(127.0.0.1:3306)/htlog_witness"
	return c
}

// Validate checks every key and reads the key files, naming the key at fault.
func (c *Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	for i, path := range append([]string{c.KeyFile}, c.ExtraKeyFiles...) {
		key := "key_file"
		if i > 0 {
			key = fmt.Sprintf("extra_key_files[%d]", i-1)
		}
		skey, err := config.CheckPrivateKeyFile(key, path)
		if err != nil {
			return err
		}
		if _, err := c2sp.NewCosigner(skey); err != nil {
			return fmt.Errorf("%s: %s is not a witness private key: %v", key, path, err)
		}
		c.signers = append(c.signers, skey)
	}
	var err error
	if len(c.Logs) == 0 {
		return errors.New("logs: at least one log (origin and vkey) is required")
	}
	seen := map[string]bool{}
	for i, l := range c.Logs {
		key := fmt.Sprintf("logs[%d]", i)
		vkey := strings.TrimSpace(l.VKey)
		if l.VKeyFile != "" {
			if vkey != "" {
				return fmt.Errorf("%s: set vkey or vkey_file, not both", key)
			}
			if vkey, err = config.ReadPublicFile(key+".vkey_file", l.VKeyFile); err != nil {
				return err
			}
		}
		v, err := c2sp.NewLogVerifier(vkey)
		if err != nil {
			return fmt.Errorf("%s.vkey: %v", key, err)
		}
		if l.Origin == "" {
			l.Origin = v.Name()
		}
		if v.Name() != l.Origin {
			return fmt.Errorf("%s: the vkey's name %q must equal the origin %q", key, v.Name(), l.Origin)
		}
		if seen[l.Origin] {
			return fmt.Errorf("%s: origin %q is listed twice", key, l.Origin)
		}
		seen[l.Origin] = true
		if l.URL != "" {
			if err := checkURL(key+".url", l.URL); err != nil {
				return err
			}
		}
		c.logs = append(c.logs, resolvedLog{origin: l.Origin, vkey: vkey, url: strings.TrimSuffix(l.URL, "/")})
	}
	if c.PullInterval < 0 {
		return fmt.Errorf("pull_interval: must not be negative, got %v", c.PullInterval)
	}
	for i, p := range c.Peers {
		if err := checkURL(fmt.Sprintf("peers[%d]", i), p); err != nil {
			return err
		}
	}
	if len(c.Peers) > 0 {
		return config.CheckPositive("gossip_interval", c.GossipInterval)
	}
	return nil
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: must be an http(s) URL, got %q", key, s)
	}
	return nil
}
