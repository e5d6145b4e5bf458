package main

import (
	"strings"

	"errors"
	"fmt"
	"os"
	"time"

	"github.com/htlog/htlog/internal/admission"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/cmd/internal/tlsconfig"
)

// Config is htlog-server's configuration: a YAML file (--config), HTLOG_*
// environment variables and flags. See deployment/local/server.yaml.
type Config struct {
	// Base holds listen, tls and database (see daemon.Base).
	daemon.Base `mapstructure:",squash"`
	// Origin is the log's checkpoint origin, such as htlog.example/log1. A
	// new shard is a new origin and a new key, never a reused one.
	Origin string `mapstructure:"origin"`
	// KeyFile holds the log's signed-note private key (htlog keygen --kind log).
	KeyFile string `mapstructure:"key_file"`
	// Trillian is the Trillian log server.
	Trillian struct {
		// Address is the log server's gRPC host:port.
		Address string `mapstructure:"address"`
		// TLS, if set, dials the log server over TLS (it runs with
		// --tls_cert_file and --tls_key_file); unset, the link is in clear.
		TLS tlsconfig.Client `mapstructure:"tls"`
	} `mapstructure:"trillian"`
	// CheckpointInterval is how often a checkpoint is published.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// PolicyFile is a C2SP tlog-policy naming this log, the witnesses (with
	// URLs) and the quorum a checkpoint needs before it is published.
	PolicyFile string `mapstructure:"policy_file"`
	// WitnessTimeout bounds each witness request.
	WitnessTimeout time.Duration `mapstructure:"witness_timeout"`
	// FailOpen publishes without the quorum (bootstrap only; logged loudly).
	FailOpen bool `mapstructure:"fail_open"`
	// SubmittersFile is the submitter registry (reloaded when it changes).
	SubmittersFile string `mapstructure:"submitters_file"`
	// RateLimit limits each submitting organisation, per replica.
	RateLimit struct {
		PerSubmitter float64 `mapstructure:"per_submitter"`
		Burst        int     `mapstructure:"burst"`
	} `mapstructure:"rate_limit"`
	// Admission tunes the admission check (package admission).
	Admission struct {
		// MaxAhead bounds how far occurred_at may lie after the log's
		// clock (default 5m).
		MaxAhead time.Duration `mapstructure:"max_ahead"`
		// MaxBehind bounds how far occurred_at may lie before it (default
		// 72h): the late window for batched uploads.
		MaxBehind time.Duration `mapstructure:"max_behind"`
		// URLPrefixes is the allow list of URL prefixes a body may carry
		// (default: the public trial registries and doi.org).
		URLPrefixes []string `mapstructure:"url_prefixes"`
	} `mapstructure:"admission"`
	// MaxBacklog bounds submissions in flight per replica.
	MaxBacklog int `mapstructure:"max_backlog"`
	// MaxMergeDelay is promised in 202 answers: the longest an accepted
	// event may take to appear in a published checkpoint.
	MaxMergeDelay time.Duration `mapstructure:"max_merge_delay"`
	// ReceiptTimeout bounds how long add-event waits for a cosigned checkpoint.
	ReceiptTimeout time.Duration `mapstructure:"receipt_timeout"`
	// MaxCheckpointAge makes /healthz fail when publishing stalls.
	MaxCheckpointAge time.Duration `mapstructure:"max_checkpoint_age"`
	// ReadOnly freezes the log: reads are served, submissions refused.
	ReadOnly bool `mapstructure:"read_only"`

	logKey string
	policy *c2sp.Policy
}

func defaults() *Config {
	c := &Config{Base: daemon.Base{Listen: "127.0.0.1:8080"}, CheckpointInterval: time.Second, WitnessTimeout: 3 * time.Second,
		MaxBacklog: 10000, MaxMergeDelay: time.Minute, ReceiptTimeout: 10 * time.Second, MaxCheckpointAge: 30 * time.Second}
	c.Database.DSN = "root@tcp(127.0.0.1:3306)/htlog"
	c.Trillian.Address = "127.0.0.1:8090"
	c.RateLimit.PerSubmitter = 1000
	c.RateLimit.Burst = 2000
	c.Admission.MaxAhead = admission.DefaultMaxAhead
	c.Admission.MaxBehind = admission.DefaultMaxBehind
	return c
}

// Validate checks every key, naming the one at fault.
func (c *Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if err := c.Trillian.TLS.Validate("trillian.tls"); err != nil {
		return err
	}
	if c.Origin == "" {
		return errors.New("origin: required, such as htlog.example/log1")
	}
	key, err := config.CheckPrivateKeyFile("key_file", c.KeyFile)
	if err != nil {
		return err
	}
	signer, err := c2sp.NewLogSigner(key)
	if err != nil {
		return fmt.Errorf("key_file: %s is not a log private key: %v", c.KeyFile, err)
	}
	if signer.Name() != c.Origin {
		return fmt.Errorf("key_file: the key is named %q but origin is %q; they must match", signer.Name(), c.Origin)
	}
	c.logKey = key
	if c.Trillian.Address == "" {
		return errors.New("trillian.address: required (host:port of trillian_log_server's gRPC)")
	}
	for key, d := range map[string]time.Duration{"checkpoint_interval": c.CheckpointInterval, "witness_timeout": c.WitnessTimeout,
		"receipt_timeout": c.ReceiptTimeout, "max_merge_delay": c.MaxMergeDelay, "max_checkpoint_age": c.MaxCheckpointAge} {
		if err := config.CheckPositive(key, d); err != nil {
			return err
		}
	}
	if c.PolicyFile != "" {
		b, err := os.ReadFile(c.PolicyFile)
		if err != nil {
			return fmt.Errorf("policy_file: %v", err)
		}
		if c.policy, err = c2sp.ParsePolicy(b); err != nil {
			return fmt.Errorf("policy_file: %s: %v", c.PolicyFile, err)
		}
		found := false
		for _, l := range c.policy.Logs {
			found = found || l.Verifier.Name() == c.Origin
		}
		if !found {
			return fmt.Errorf("policy_file: %s does not list this log (%s)", c.PolicyFile, c.Origin)
		}
		for _, w := range c.policy.Witnesses {
			if w.URL == "" {
				return fmt.Errorf("policy_file: witness %s has no URL; the log needs one to ask for cosignatures", w.Name)
			}
		}
	}
	if !c.ReadOnly && c.SubmittersFile == "" {
		return errors.New("submitters_file: required unless read_only (the submitter registry)")
	}
	for key, d := range map[string]time.Duration{"admission.max_ahead": c.Admission.MaxAhead, "admission.max_behind": c.Admission.MaxBehind} {
		if err := config.CheckPositive(key, d); err != nil {
			return err
		}
	}
	for i, p := range c.Admission.URLPrefixes {
		if !strings.HasPrefix(p, "https://") || strings.Count(p, "/") < 3 {
			return fmt.Errorf("admission.url_prefixes[%d]: %q must be https://<host>/ followed by an optional path", i, p)
		}
	}
	if c.RateLimit.PerSubmitter < 0 || c.RateLimit.Burst < 0 || c.MaxBacklog < 1 {
		return errors.New("rate_limit and max_backlog: must not be negative; max_backlog at least 1")
	}
	return nil
}
