// Command htlog-monitor runs an htlog monitor: it follows a log over C2SP
// tlog-tiles, replays and verifies every entry and every checkpoint it hears
// of (from the log, witnesses, peers and posted proofs), writes split-view
// evidence, runs the compliance rules, and serves a dashboard, findings,
// evidence and metrics.
//
//	htlog-monitor --config monitor.yaml
//	htlog-monitor report --config monitor.yaml --since 2026-01-01 --org npi:1234567893 --format html
//	htlog-monitor report --config monitor.yaml --since 2026-01-01 --out reports/
//
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on a bad
// configuration or usage.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/daemon"
	"github.com/htlog/htlog/cmd/internal/dbopen"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/report"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
	"github.com/spf13/pflag"
)

func main() {
	daemon.Exec(func(ctx context.Context, args []string) int { return run(ctx, args, os.Stdout, os.Stderr) })
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runReport(ctx, args[1:], stdout, stderr)
	}
	cfg := defaults()
	return daemon.Run(ctx, "htlog-monitor", args, cfg, stderr, func(ctx context.Context, logger *slog.Logger, db *sql.DB) error {
		return serve(ctx, cfg, logger, db)
	})
}

func serve(ctx context.Context, cfg *Config, logger *slog.Logger, db *sql.DB) error {
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
	serverTLS, client, err := cfg.TLSConfigs(logger, 30*time.Second)
	if err != nil {
		return err
	}
	reg := daemon.NewRegistry()
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
	return daemon.Listen(ctx, logger, "htlog-monitor", cfg.Listen, m.Handler(reg), serverTLS, 60*time.Second, 10*time.Second,
		"log", cfg.Log.URL, "origin", m.Origin())
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("htlog-monitor report", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "YAML configuration file (database.dsn is read; submitters_file and log.vkey_file, if set, name organisations and the log)")
	fs.String("database.dsn", "", "database DSN (overrides the file)")
	since := fs.String("since", "", "only findings about events that occurred at or after this time (RFC 3339, or a date YYYY-MM-DD)")
	until := fs.String("until", "", "only findings about events that occurred before this time (RFC 3339, or a date: before that day)")
	recSince := fs.String("recorded-since", "", "only findings the monitor recorded at or after this RFC 3339 time")
	recUntil := fs.String("recorded-until", "", "only findings the monitor recorded before this RFC 3339 time")
	org := fs.String("org", "", "only findings about this organisation, such as npi:1234567893")
	format := fs.String("format", "json", "output format on standard output: json, csv or html")
	out := fs.String("out", "", "write one report per organisation into this directory, in every format (<org>.json, .csv, .html), instead of standard output")
	rule := fs.String("rule", "", "only findings of this rule")
	severity := fs.String("severity", "", "only findings of this severity: critical, high, medium or review")
	state := fs.String("state", "", "only findings in this triage state: open, acknowledged, disputed or resolved")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "htlog-monitor report: "+format+"\n", a...)
		return 2
	}
	q := finding.Filter{Rule: *rule, Submitter: *org}
	for _, t := range []struct {
		flag   string
		in     string
		out    *time.Time
		dateOK bool
	}{{"--since", *since, &q.EventSince, true}, {"--until", *until, &q.EventUntil, true},
		{"--recorded-since", *recSince, &q.Since, false}, {"--recorded-until", *recUntil, &q.Until, false}} {
		if t.in == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.in)
		if err != nil && t.dateOK {
			if v, err = time.Parse(time.DateOnly, t.in); err == nil && t.flag == "--until" {
				v = v.AddDate(0, 0, 1)
			}
		}
		if err != nil {
			return usage("%s: must be an RFC 3339 time such as 2026-01-01T00:00:00Z%s, got %q", t.flag,
				map[bool]string{true: " or a date such as 2026-01-01", false: ""}[t.dateOK], t.in)
		}
		*t.out = v
	}
	if *severity != "" {
		s, err := finding.ParseSeverity(*severity)
		if err != nil {
			return usage("--%v", err)
		}
		q.Severity = s
	}
	if *state != "" {
		s, err := finding.ParseState(*state)
		if err != nil {
			return usage("--%v", err)
		}
		q.State = s
	}
	if !slices.Contains(report.Formats, *format) {
		return usage("--format: must be json, csv or html, got %q", *format)
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
	rep := report.Report{Generated: time.Now().UTC(), Since: q.EventSince, Until: q.EventUntil}
	if cfg.SubmittersFile != "" {
		reg, err := registry.Load(cfg.SubmittersFile)
		if err != nil {
			return usage("submitters_file: %v", err)
		}
		rep.OrgName = func(o string) string {
			if s, ok := reg.Submitter(o); ok {
				return s.Name
			}
			return ""
		}
	}
	if cfg.Log.VKeyFile != "" {
		if vkey, err := config.ReadPublicFile("log.vkey_file", cfg.Log.VKeyFile); err == nil {
			if v, err := c2sp.NewLogVerifier(vkey); err == nil {
				rep.Origin = v.Name()
			}
		}
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
	// Oldest event first; findings about no event last, by recording.
	slices.Reverse(found)
	slices.SortStableFunc(found, func(a, b finding.Finding) int {
		switch {
		case a.EventTime.IsZero() != b.EventTime.IsZero():
			if a.EventTime.IsZero() {
				return 1
			}
			return -1
		}
		return a.EventTime.Compare(b.EventTime)
	})
	if *out == "" {
		if *org != "" {
			rep.Org, rep.Title = *org, rep.Name(*org)
		}
		if err := rep.Write(stdout, found, *format); err != nil {
			fmt.Fprintln(stderr, "htlog-monitor report:", err)
			return 1
		}
		return 0
	}
	if err := writeReports(*out, rep, found); err != nil {
		fmt.Fprintln(stderr, "htlog-monitor report:", err)
		return 1
	}
	return 0
}

// writeReports writes one report per organisation into dir, in every
// format, and names each file on standard error.
func writeReports(dir string, rep report.Report, found []finding.Finding) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	byOrg := map[string][]finding.Finding{}
	var orgs []string
	for _, f := range found {
		if _, ok := byOrg[f.Submitter]; !ok {
			orgs = append(orgs, f.Submitter)
		}
		byOrg[f.Submitter] = append(byOrg[f.Submitter], f)
	}
	slices.Sort(orgs)
	for _, o := range orgs {
		r := rep
		r.Org, r.Title = o, rep.Name(o)
		if o == "" {
			r.Title = "the log itself"
		}
		for _, format := range report.Formats {
			path := filepath.Join(dir, report.FileName(o)+"."+format)
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			err = r.Write(f, byOrg[o], format)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("couldn't write %s: %w", path, err)
			}
		}
	}
	return nil
}
