// Command htlog-gateway runs the gateway a submitter (a hospital, a
// distributor, a trial sponsor) runs inside its own network: it accepts FHIR
// AuditEvent and Consent resources, EPCIS 2.0 documents and WHO TRDS trial
// registrations, maps them to htlog events with identifiers tagged and
// sensitive values committed, signs them with the submitter's key, and
// submits them to the log in order, with retries, without duplicates.
//
//	htlog-gateway --config gateway.yaml
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad
// configuration.
package main

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/gateway/outbox"
	"github.com/htlog/htlog/gateway/server"
	"github.com/htlog/htlog/gateway/store"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/buildinfo"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

func main() { daemon.Exec(run) }

// run is the daemon: main runs it, and so do the tests.
var run = daemon.Command("htlog-gateway", defaults, serve)

// ownRegistry is the registry entry of the gateway's submitter, as the log
// should hold it.
func ownRegistry(cfg *Config) (*registry.Registry, error) {
	der, err := x509.MarshalPKIXPublicKey(cfg.key.Public())
	if err != nil {
		return nil, err
	}
	pub := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n          ")
	quote := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	systems := append([]string{cfg.SourceSystem}, cfg.SourceSystems...)
	y := fmt.Sprintf("submitters:\n  - org: %q\n    kinds: [access, consent, custody, trial]\n    acts_for: %s\n    source_systems: %s\n    gs1_company_prefixes: %s\n    keys:\n      - public_key: |\n          %s\n",
		cfg.Org, quote(cfg.ActsFor), quote(systems), quote(cfg.GS1CompanyPrefixes), pub)
	return registry.Parse([]byte(y), ".")
}

func serve(ctx context.Context, cfg *Config, logger *slog.Logger, db *sql.DB) error {
	if cfg.pkcs11Key != nil {
		defer cfg.pkcs11Key.Close()
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	st, err := store.Open(ctx, db)
	if err != nil {
		return err
	}
	builder, err := event.NewBuilder(cfg.Org, cfg.key)
	if err != nil {
		return err
	}
	var reg *registry.Registry
	if cfg.RegistryFile != "" {
		if reg, err = registry.Load(cfg.RegistryFile); err != nil {
			return fmt.Errorf("registry_file: %w", err)
		}
	} else if reg, err = ownRegistry(cfg); err != nil {
		return fmt.Errorf("couldn't build the submitter's registry entry: %w", err)
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		return err
	}
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: validator})
	if err != nil {
		return err
	}
	promReg := daemon.NewRegistry()
	counter := func(name, help string) func() {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		promReg.MustRegister(c)
		return c.Inc
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Name: "htlog_gateway_build_info", Help: "Build information; always 1.", ConstLabels: prometheus.Labels{"version": buildinfo.Version()}})
	buildInfo.Set(1)
	promReg.MustRegister(buildInfo)
	serverTLS, hc, err := cfg.TLSConfigs(logger, 0)
	if err != nil {
		return err
	}
	tr, _ := http.DefaultTransport.(*http.Transport)
	if t, ok := hc.Transport.(*http.Transport); ok {
		tr = t
	}
	tr = tr.Clone()
	// The outbox keeps a window of submissions in flight: keep their
	// connections (the default keeps 100 in all, so a window of 256 would
	// dial again each time).
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 0, 1024
	hc.Transport = tr
	// The outbox builds receipts from the log's tiles: 1,024 full tiles (8
	// MiB) hold the proofs of the last 262,144 entries.
	logClient := &client.Client{URL: cfg.Log, Policy: cfg.policy, HTTP: hc, Tiles: client.NewTileCache(1024)}
	ob, err := outbox.New(outbox.Config{Store: st, Log: logClient, Policy: cfg.policy, Logger: logger, Window: cfg.Window, MaxBackoff: cfg.MaxBackoff,
		Metrics: outbox.Metrics{
			Submitted: counter("htlog_gateway_submitted_total", "Items the log acknowledged (promise or receipt)."),
			Logged:    counter("htlog_gateway_logged_total", "Items whose verified tlog-proof is stored."),
			Refused:   counter("htlog_gateway_log_refused_total", "Items the log refused (4xx)."),
			Retried:   counter("htlog_gateway_submit_retries_total", "Outbox windows retried after a failure."),
		}})
	if err != nil {
		return err
	}
	var monitors []server.Monitor
	for _, m := range cfg.Monitors {
		monitors = append(monitors, server.Monitor{URL: m.URL, VKey: m.VKey})
	}
	srv, err := server.New(server.Config{
		Mapping: mapping.Config{Org: cfg.Org, WorkforceKey: cfg.workforceKey, SourceSystem: cfg.SourceSystem, SourceSystems: cfg.SourceSystems,
			DefaultPurpose: cfg.DefaultPurposeOfUse, DefaultAgentRole: cfg.DefaultAgentRole,
			AccessVersion: cfg.AccessVersion, CustodyVersion: cfg.CustodyVersion, ConsentVersion: cfg.ConsentVersion},
		Store: st, Builder: builder, Checker: checker, Wake: ob.Wake, Token: cfg.token,
		LogURL: cfg.Log, Policy: cfg.policyText, Monitors: monitors, Logger: logger, Registry: promReg,
	})
	if err != nil {
		return err
	}
	obCtx, stopOutbox := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ob.Run(obCtx) }()
	defer func() { stopOutbox(); wg.Wait() }()
	return daemon.Listen(ctx, logger, "htlog-gateway", cfg.Listen, srv.Handler(), serverTLS, 60*time.Second, 10*time.Second,
		"org", cfg.Org, "log", cfg.Log, "key", keyName(cfg))
}

// keyName says where the signing key is, for the log line at start.
func keyName(cfg *Config) string {
	if cfg.pkcs11Key != nil {
		return "pkcs11:" + cfg.PKCS11.TokenLabel + "/" + cfg.PKCS11.KeyLabel
	}
	return filepath.Base(cfg.KeyFile)
}
