// Command htlog-monitor runs an htlog monitor: it follows a log over C2SP
// tlog-tiles, replays and verifies every entry and every checkpoint it hears
// of (from the log, witnesses, peers and posted proofs), writes split-view
// evidence, runs the compliance rules, and serves a dashboard, findings,
// evidence and metrics.
//
//	htlog-monitor --config monitor.yaml
//	htlog-monitor report --config monitor.yaml --since 2026-01-01T00:00:00Z --format csv
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad
// configuration or usage.
package main

import (
	"context"
	"fmt"
	"golang.org/x/time/rate"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/cmd/internal/dbopen"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/report"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runReport(ctx, args[1:], stdout, stderr)
	}
	cfg := defaults()
	return daemon.Run(ctx, "htlog-monitor", args, cfg, stderr, func(ctx context.Context, logger *slog.Logger) error {
		return serve(ctx, cfg, logger)
	})
}

func serve(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	db, err := cfg.Database.Open(ctx, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := store.NewMySQL(ctx, db)
	if err != nil {
		return err
	}
	logVerifier, err := c2sp.NewLogVerifier(cfg.vkey)
	if err != nil {
		return err
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		return err
	}
	client, err := cfg.TLS.HTTPClient()
	if err != nil {
		return fmt.Errorf("tls.ca_file: %w", err)
	}
	client.Timeout = 30 * time.Second
	serverTLS, err := cfg.TLS.Config(logger)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := monitor.New(ctx, monitor.Config{
		LogURL: cfg.Log.URL, LogVerifier: logVerifier, Policy: cfg.policy,
		Registry: cfg.registry.Current, MaxAhead: cfg.Admission.MaxAhead, URLPrefixes: cfg.Admission.URLPrefixes,
		Validator: validator, Witnesses: cfg.Witnesses, Peers: cfg.Peers, Webhooks: cfg.Webhooks,
		PollinateLimit: rate.Limit(cfg.Pollinate.PerSecond), PollinateBurst: cfg.Pollinate.Burst,
		EvidenceDir: cfg.EvidenceDir, PollInterval: cfg.PollInterval, Rules: cfg.ruleOptions(), Store: st,
		HTTPClient: client, Logger: logger, Metrics: monitor.NewMetrics(reg),
		Signer: cfg.signer, Regulators: cfg.regulators, SecureCookies: serverTLS != nil,
		OrgName: func(org string) string {
			if s, ok := cfg.registry.Current().Submitter(org); ok {
				return s.Name
			}
			return ""
		},
	})
	if err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := cfg.registry.Reload(); err != nil {
					logger.Warn("couldn't reload the submitter registry; keeping the previous one", "err", err)
				}
			}
		}
	}()
	go m.Run(ctx)
	srv := &http.Server{
		Addr: cfg.Listen, Handler: m.Handler(reg), TLSConfig: serverTLS,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
	}
	logger.Info("htlog-monitor listening", "addr", cfg.Listen, "https", serverTLS != nil, "log", cfg.Log.URL, "origin", m.Origin())
	return daemon.ServeHTTP(ctx, logger, "htlog-monitor", srv, 10*time.Second)
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("htlog-monitor report", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "YAML configuration file (only database.dsn is read)")
	fs.String("database.dsn", "", "database DSN (overrides the file)")
	since := fs.String("since", "", "only findings recorded at or after this RFC 3339 time")
	until := fs.String("until", "", "only findings recorded before this RFC 3339 time")
	format := fs.String("format", "json", "output format: json or csv")
	rule := fs.String("rule", "", "only findings of this rule")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 2
	}
	q := finding.Filter{Rule: *rule}
	for _, t := range []struct {
		flag string
		in   string
		out  *time.Time
	}{{"--since", *since, &q.Since}, {"--until", *until, &q.Until}} {
		if t.in == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.in)
		if err != nil {
			fmt.Fprintf(stderr, "htlog-monitor report: %s: must be an RFC 3339 time such as 2026-01-01T00:00:00Z, got %q\n", t.flag, t.in)
			return 2
		}
		*t.out = v
	}
	if !slices.Contains(report.Formats, *format) {
		fmt.Fprintf(stderr, "htlog-monitor report: --format: must be json or csv, got %q\n", *format)
		return 2
	}
	// config.Load binds every flag of the set it is given as a key: give it
	// only the configuration flags.
	cfs := pflag.NewFlagSet("htlog-monitor report", pflag.ContinueOnError)
	cfs.String("config", fs.Lookup("config").Value.String(), "")
	cfs.String("database.dsn", "", "")
	if f := fs.Lookup("database.dsn"); f.Changed {
		cfs.Set("database.dsn", f.Value.String())
	}
	cfg := defaults()
	cfg.reportOnly = true
	if err := config.Load(cfs, cfg); err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 2
	}
	dbTLS, err := cfg.Database.TLS.Config("database.tls", nil)
	if err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 2
	}
	db, err := dbopen.Open(ctx, cfg.Database.DSN, dbTLS)
	if err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 1
	}
	defer db.Close()
	st, err := store.NewMySQL(ctx, db)
	if err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 1
	}
	found, err := st.Findings(ctx, q)
	if err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 1
	}
	slices.Reverse(found) // oldest first
	if err := report.Write(stdout, found, *format); err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 1
	}
	return 0
}
