package main

import (
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/ident"
)

// Config is htlog-gateway's configuration: a YAML file (--config), HTLOG_*
// environment variables and flags, in that order of precedence. See
// docs/gateway.md for an example.
type Config struct {
	// Base holds listen (the gateway's API), tls and database (its own
	// state; see daemon.Base).
	daemon.Base `mapstructure:",squash"`
	// Log is the log's base URL; PolicyFile its C2SP tlog-policy (the log's
	// key and the witness quorum receipts must meet).
	Log        string `mapstructure:"log"`
	PolicyFile string `mapstructure:"policy_file"`
	// Org is the submitter's organisation id, KeyFile its private key
	// (htlog keygen --kind submitter), as registered with the log; or
	// PKCS11 names the key on a token instead.
	Org     string `mapstructure:"org"`
	KeyFile string `mapstructure:"key_file"`
	PKCS11  PKCS11 `mapstructure:"pkcs11"`
	// WorkforceKeyFile holds the custodian's tag key for workforce members
	// and other people (64 hex digits; htlog tag --new-key FILE).
	WorkforceKeyFile string `mapstructure:"workforce_key_file"`
	// RegistryFile, if set, is the log's submitter registry: the gateway
	// runs the log's admission check against it before accepting. Without
	// it the gateway checks against its own entry, built from Org, the key,
	// ActsFor, SourceSystems and GS1CompanyPrefixes (as registered).
	RegistryFile       string   `mapstructure:"registry_file"`
	ActsFor            []string `mapstructure:"acts_for"`
	SourceSystem       string   `mapstructure:"source_system"`
	SourceSystems      []string `mapstructure:"source_systems"`
	GS1CompanyPrefixes []string `mapstructure:"gs1_company_prefixes"`
	// DefaultPurposeOfUse and DefaultAgentRole fill what an AuditEvent
	// does not say (see docs/gateway.md); empty refuses such AuditEvents.
	DefaultPurposeOfUse string `mapstructure:"default_purpose_of_use"`
	DefaultAgentRole    string `mapstructure:"default_agent_role"`
	// TokenFile holds the bearer token of the custodian's internal API
	// (patient bundles, package keys); without it that API is off.
	TokenFile string `mapstructure:"token_file"`
	// Monitors go into patient bundles.
	Monitors []struct {
		URL  string `mapstructure:"url"`
		VKey string `mapstructure:"vkey"`
	} `mapstructure:"monitors"`
	// AccessVersion and CustodyVersion choose the schema version
	// AuditEvents and EPCIS events are mapped to: 3 (the default) or 2.
	AccessVersion  int `mapstructure:"access_version"`
	CustodyVersion int `mapstructure:"custody_version"`
	// ConsentVersion chooses the schema version FHIR Consents are mapped
	// to: 2 (the default) or 3, which refuses provision actors whose role
	// is outside value set agent-role (docs/gateway.md).
	ConsentVersion int `mapstructure:"consent_version"`
	// Window is how many items the outbox submits concurrently.
	Window int `mapstructure:"window"`
	// MaxBackoff bounds the outbox's wait between retries.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`

	key          crypto.Signer
	pkcs11Key    *tokenKey // the PKCS#11 session key comes from, if any
	workforceKey []byte
	policyText   string
	policy       *c2sp.Policy
	token        string
}

// loadKey reads key_file, or opens the key pkcs11 names: exactly one.
func (c *Config) loadKey() error {
	switch {
	case c.KeyFile != "" && c.PKCS11.Module != "":
		return errors.New("key_file and pkcs11: set one, not both")
	case c.PKCS11.Module != "":
		t, err := c.PKCS11.openKey()
		if err != nil {
			return err
		}
		c.key, c.pkcs11Key = t, t
		return nil
	case c.KeyFile == "":
		return errors.New("key_file: the submitter's private key is required (or pkcs11 for a key on a token)")
	}
	b, err := os.ReadFile(c.KeyFile)
	if err != nil {
		return fmt.Errorf("key_file: %v", err)
	}
	if c.key, err = event.ParsePrivateKey(b); err != nil {
		return fmt.Errorf("key_file: %s is not a submitter private key: %v", c.KeyFile, err)
	}
	return nil
}

func defaults() *Config {
	// A collector target of 400 takes about a fifth off the gateway's CPU
	// per event (docs/performance.md, "Gateway") for a few hundred MiB.
	c := &Config{Base: daemon.Base{Listen: "127.0.0.1:8480", GCPercent: 400}, Window: 64, MaxBackoff: 30 * time.Second, SourceSystem: "ehr-fhir"}
	c.Database.DSN = "root@tcp(127.0.0.1:3306)/htlog_gateway"
	return c
}

// Validate checks the configuration and reads the files it names.
func (c *Config) Validate() error {
	if err := c.Base.Validate(); err != nil {
		return err
	}
	if u, err := url.Parse(c.Log); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("log: the log's base URL (http or https) is required")
	}
	if !ident.OrgID(c.Org) {
		return errors.New("org: the submitter's organisation id (npi:..., gln:..., urn:oid:...) with a valid check digit is required")
	}
	if err := c.loadKey(); err != nil {
		return err
	}
	b, err := os.ReadFile(c.WorkforceKeyFile)
	if err != nil {
		return fmt.Errorf("workforce_key_file: %v (create one with htlog tag --new-key FILE)", err)
	}
	if c.workforceKey, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil || len(c.workforceKey) < 16 {
		return errors.New("workforce_key_file: must hold a tag key of at least 16 bytes as hex digits")
	}
	if b, err = os.ReadFile(c.PolicyFile); err != nil {
		return fmt.Errorf("policy_file: %v", err)
	}
	c.policyText = string(b)
	if c.policy, err = c2sp.ParsePolicy(b); err != nil {
		return fmt.Errorf("policy_file: %v", err)
	}
	if c.DefaultAgentRole != "" {
		code, ok := mapping.ParseCode(c.DefaultAgentRole)
		if !ok || !mapping.InValueSet("agent-role", code.System, code.Code) {
			return errors.New("default_agent_role: must be <system>|<code> of value set agent-role")
		}
	}
	if c.DefaultPurposeOfUse != "" && !mapping.InValueSet("purpose-of-use", "http://terminology.hl7.org/CodeSystem/v3-ActReason", c.DefaultPurposeOfUse) {
		return errors.New("default_purpose_of_use: must be a code of value set purpose-of-use (such as TREAT)")
	}
	if c.TokenFile != "" {
		if b, err = os.ReadFile(c.TokenFile); err != nil {
			return fmt.Errorf("token_file: %v", err)
		}
		if c.token = strings.TrimSpace(string(b)); len(c.token) < 16 {
			return errors.New("token_file: the token must be at least 16 characters")
		}
	}
	for key, v := range map[string]int{"access_version": c.AccessVersion, "custody_version": c.CustodyVersion, "consent_version": c.ConsentVersion} {
		if v != 0 && v != 2 && v != 3 {
			return fmt.Errorf("%s: 2 or 3", key)
		}
	}
	if c.Window <= 0 {
		return errors.New("window: must be positive")
	}
	return config.CheckPositive("max_backoff", c.MaxBackoff)
}
