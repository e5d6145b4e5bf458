package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/rules"
)

// Config is htlog-monitor's configuration: a YAML file (--config), HTLOG_*
// environment variables (HTLOG_LOG_URL sets log.url) and flags, in that
// order of precedence.
type Config struct {
	// Base holds listen (the dashboard and API), tls and database (see
	// daemon.Base).
	daemon.Base `mapstructure:",squash"`
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
	// Admission mirrors the log's admission settings the monitor needs on
	// replay: max_ahead (default 5m) and url_prefixes (default: the log's
	// default allow list).
	Admission struct {
		MaxAhead    time.Duration `mapstructure:"max_ahead"`
		URLPrefixes []string      `mapstructure:"url_prefixes"`
	} `mapstructure:"admission"`
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
	// Pollinate rate-limits POST /pollinate per client address: per_second
	// sustained (default 1) and burst (default 10).
	Pollinate struct {
		PerSecond float64 `mapstructure:"per_second"`
		Burst     int     `mapstructure:"burst"`
	} `mapstructure:"pollinate"`
	// Rules tune the compliance rules (rules.Options); an absent or zero key
	// keeps the rules' default.
	Rules struct {
		// BreakGlassMax is how many break-glass (ETREAT) accesses one agent
		// tag may make within BreakGlassWindow before a finding (default 2).
		BreakGlassMax int `mapstructure:"break_glass_max"`
		// BreakGlassWindow is the window BreakGlassMax counts in (default 24h).
		BreakGlassWindow time.Duration `mapstructure:"break_glass_window"`
		// VolumeMax is how many accesses one agent tag may make within
		// VolumeWindow before a finding (default 100).
		VolumeMax int `mapstructure:"volume_max"`
		// VolumeWindow is the window VolumeMax counts in (default 1h).
		VolumeWindow time.Duration `mapstructure:"volume_window"`
		// ConsentPurposes are the purpose-of-use codes, such as HRESCH, for
		// which an access needs a consent besides every disclosure and every
		// access citing one (default [HRESCH]; [] means none). The rules
		// compare them with purpose_of_use exactly, so they are uppercase.
		ConsentPurposes []string `mapstructure:"consent_purposes"`
		// SettleWindow is how far the log's clock must move past an event
		// before the rules stop waiting for a counterpart logged late
		// (default 24h); a negative window, such as -1s, turns waiting off.
		SettleWindow time.Duration `mapstructure:"settle_window"`
		// SettleMax bounds each queue of held and recent events (default 4096).
		SettleMax int `mapstructure:"settle_max"`
	} `mapstructure:"rules"`

	// SigningKeyFile, if set, is the monitor's own signed-note private key
	// (create it with `htlog keygen --kind log --name <monitor name>`); it
	// signs the verdicts GET /verdicts serves. Without it that endpoint
	// answers 404.
	SigningKeyFile string `mapstructure:"signing_key_file"`
	// Regulators may triage findings (acknowledge, dispute, resolve) on the
	// dashboard and through POST /findings/<id>/state; everything else the
	// monitor serves stays public. Each has a name (recorded in the
	// finding's history) and a token_file holding a secret of at least 16
	// characters (mode 0600), presented as a bearer token, as the password
	// of HTTP basic authentication with the name as user, or on the
	// dashboard's sign-in form.
	Regulators []struct {
		Name      string `mapstructure:"name"`
		TokenFile string `mapstructure:"token_file"`
	} `mapstructure:"regulators"`

	reportOnly bool // the report subcommand needs only database.dsn

	signer     note.Signer
	regulators []monitor.Regulator

	vkey     string
	policy   *c2sp.Policy
	registry *registry.Watcher
}

func defaults() *Config {
	c := &Config{Base: daemon.Base{Listen: "127.0.0.1:8280"}, PollInterval: 2 * time.Second, EvidenceDir: "var/evidence"}
	c.Database.DSN = "root@tcp(127.0.0.1:3306)/htlog_monitor"
	return c
}

// Validate checks every key and reads the files, naming the key at fault.
func (c *Config) Validate() error {
	if c.Database.DSN == "" {
		return errors.New("database.dsn: required")
	}
	if err := c.Database.TLS.Validate("database.tls"); err != nil {
		return err
	}
	if c.reportOnly {
		return nil
	}
	if err := c.TLS.Validate("tls"); err != nil {
		return err
	}
	if c.Admission.MaxAhead < 0 {
		return errors.New("admission.max_ahead: must not be negative")
	}
	for i, p := range c.Admission.URLPrefixes {
		if !strings.HasPrefix(p, "https://") || strings.Count(p, "/") < 3 {
			return fmt.Errorf("admission.url_prefixes[%d]: %q must be https://<host>/ followed by an optional path", i, p)
		}
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
	if c.SigningKeyFile != "" {
		key, err := config.CheckPrivateKeyFile("signing_key_file", c.SigningKeyFile)
		if err != nil {
			return err
		}
		if c.signer, err = note.NewSigner(key); err != nil {
			return fmt.Errorf("signing_key_file: %s is not a signed-note private key (create one with `htlog keygen --kind log --name <monitor name>`): %v", c.SigningKeyFile, err)
		}
	}
	for i, r := range c.Regulators {
		key := fmt.Sprintf("regulators[%d]", i)
		if !regulatorName.MatchString(r.Name) {
			return fmt.Errorf("%s.name: must be 1 to 64 letters, digits, dots, dashes, underscores or @, got %q", key, r.Name)
		}
		token, err := config.CheckPrivateKeyFile(key+".token_file", r.TokenFile)
		if err != nil {
			return err
		}
		if len(token) < 16 {
			return fmt.Errorf("%s.token_file: the token in %s is shorter than 16 characters", key, r.TokenFile)
		}
		for _, o := range c.regulators {
			if o.Name == r.Name {
				return fmt.Errorf("%s.name: %q is named twice", key, r.Name)
			}
		}
		c.regulators = append(c.regulators, monitor.NewRegulator(r.Name, token))
	}
	if c.Pollinate.PerSecond < 0 || c.Pollinate.Burst < 0 {
		return errors.New("pollinate.per_second and pollinate.burst: must not be negative (0 keeps the default)")
	}
	if c.EvidenceDir == "" {
		return errors.New("evidence_dir: required")
	}
	if err := config.CheckPositive("poll_interval", c.PollInterval); err != nil {
		return err
	}
	return c.checkRules()
}

// checkRules checks the rules section. Zero keeps a default and a negative
// settle_window turns waiting off, so only negative counts and other
// negative windows are wrong.
func (c *Config) checkRules() error {
	r := c.Rules
	for _, n := range []struct {
		key string
		v   int
	}{{"rules.break_glass_max", r.BreakGlassMax}, {"rules.volume_max", r.VolumeMax}, {"rules.settle_max", r.SettleMax}} {
		if n.v < 0 {
			return fmt.Errorf("%s: must not be negative, got %d", n.key, n.v)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"rules.break_glass_window", r.BreakGlassWindow}, {"rules.volume_window", r.VolumeWindow}} {
		if d.v < 0 {
			return fmt.Errorf("%s: must not be negative, got %v", d.key, d.v)
		}
	}
	for i, p := range r.ConsentPurposes {
		if !purposeCode.MatchString(p) {
			return fmt.Errorf("rules.consent_purposes[%d]: must be an uppercase purpose-of-use code (letters only) such as HRESCH, got %q", i, p)
		}
	}
	return nil
}

// regulatorName is a regulator's name as the triage history records it.
var regulatorName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// purposeCode is an HL7 v3 ActReason code as purpose_of_use holds it.
var purposeCode = regexp.MustCompile(`^[A-Z]+$`)

// ruleOptions returns the rules section as rules.Options.
func (c *Config) ruleOptions() rules.Options {
	r := c.Rules
	return rules.Options{
		BreakGlassMax: r.BreakGlassMax, BreakGlassWindow: r.BreakGlassWindow,
		VolumeMax: r.VolumeMax, VolumeWindow: r.VolumeWindow,
		ConsentPurposes: r.ConsentPurposes,
		SettleWindow:    r.SettleWindow, SettleMax: r.SettleMax,
	}
}

func checkURL(key, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: must be an http(s) URL, got %q", key, s)
	}
	return nil
}
