// Package daemon is the part of a daemon's main that htlog-server,
// htlog-witness, htlog-monitor and htlog-gateway share: signals ([Exec]),
// the command line (--config, --listen), loading and validating the
// configuration, exit codes (2 for a bad configuration, 1 for a runtime
// failure), the metrics registry ([NewRegistry]) and serving HTTP or HTTPS
// with the house timeouts until SIGINT/SIGTERM, with a graceful shutdown
// ([Listen]).
package daemon

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/htlog/htlog/cmd/internal/config"
	"github.com/htlog/htlog/cmd/internal/dbopen"
	"github.com/htlog/htlog/cmd/internal/tlsconfig"
	"github.com/spf13/pflag"
)

// Exit codes of every daemon.
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitBadConfig = 2
)

// Base is the configuration every daemon has; each daemon's Config embeds
// it with `mapstructure:",squash"`, so its keys are top-level.
type Base struct {
	// Listen is the HTTP address (HTTPS when TLS is set).
	Listen string `mapstructure:"listen"`
	// TLS, if set, makes the daemon serve HTTPS only, with HSTS; its
	// ca_file is trusted beside the system's roots by the daemon's HTTP
	// clients.
	TLS tlsconfig.Server `mapstructure:"tls"`
	// Database holds the daemon's durable state.
	Database dbopen.Section `mapstructure:"database"`
	// GCPercent is the garbage collector's target (what GOGC sets): a
	// larger one trades memory for CPU. 0 leaves Go's default (100); a
	// GOGC environment variable wins over it.
	GCPercent int `mapstructure:"gc_percent"`
}

// Validate checks the listen address, both TLS sections and that a
// database is named, naming the key at fault.
func (b *Base) Validate() error {
	if err := config.CheckListen("listen", b.Listen); err != nil {
		return err
	}
	if err := b.TLS.Validate("tls"); err != nil {
		return err
	}
	if err := b.Database.TLS.Validate("database.tls"); err != nil {
		return err
	}
	if b.Database.DSN == "" {
		return errors.New("database.dsn: required")
	}
	if b.GCPercent < 0 || b.GCPercent > 10000 {
		return errors.New("gc_percent: between 0 (Go's default) and 10000")
	}
	return nil
}

// applyGCPercent sets the garbage collector's target unless it is 0 or
// GOGC is set.
func applyGCPercent(percent int) {
	if percent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

// TLSConfigs returns what the daemon's tls section makes: the server's TLS
// configuration (nil serves plain HTTP) and an HTTP client for its outgoing
// calls that trusts tls.ca_file beside the system's roots (timeout 0: none).
func (b *Base) TLSConfigs(logger *slog.Logger, timeout time.Duration) (*tls.Config, *http.Client, error) {
	serverTLS, err := b.TLS.Config(logger)
	if err != nil {
		return nil, nil, err
	}
	client, err := b.TLS.HTTPClient()
	if err != nil {
		return nil, nil, fmt.Errorf("tls.ca_file: %w", err)
	}
	client.Timeout = timeout
	return serverTLS, client, nil
}

// Exec is a daemon's func main: it runs run with the command line's
// arguments and a context cancelled on SIGINT or SIGTERM, then exits with
// the code run returns.
func Exec(run func(ctx context.Context, args []string) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// NewRegistry returns the registry a daemon serves at /metrics, with the Go
// runtime's and the process's collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Listen serves h at addr until ctx is done (see [ServeHTTP]), over HTTPS
// when tlsConfig is set, with the house timeouts: 10 s to read the headers,
// 30 s for the whole request, writeTimeout for the response, and grace for
// requests in flight at shutdown. It logs that name is listening, with
// attrs.
func Listen(ctx context.Context, logger *slog.Logger, name, addr string, h http.Handler, tlsConfig *tls.Config, writeTimeout, grace time.Duration, attrs ...any) error {
	srv := &http.Server{Addr: addr, Handler: h, TLSConfig: tlsConfig,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: writeTimeout}
	logger.Info(name+" listening", append([]any{"addr", addr, "https", tlsConfig != nil}, attrs...)...)
	return ServeHTTP(ctx, logger, name, srv, grace)
}

// Config is what Main needs of a daemon's configuration: it validates
// itself and embeds Base.
type Config interface {
	config.Validator
	base() *Base
}

func (b *Base) base() *Base { return b }

// Command returns a daemon's run function (what Exec runs, and what its
// tests call): each call makes a fresh configuration with defaults, loads it
// as Main does and runs serve with it.
func Command[C Config](name string, defaults func() C, serve func(context.Context, C, *slog.Logger, *sql.DB) error) func(context.Context, []string) int {
	return func(ctx context.Context, args []string) int {
		cfg := defaults()
		return Main(ctx, name, args, cfg, func(ctx context.Context, logger *slog.Logger, db *sql.DB) error {
			return serve(ctx, cfg, logger, db)
		})
	}
}

// Main parses args (--config FILE, --listen ADDR), loads cfg through
// config.Load, opens the database cfg names and runs serve with it and a
// JSON logger on stderr. It returns the process exit code. With
// HTLOG_PPROF_ADDR set it also serves net/http/pprof there.
func Main(ctx context.Context, name string, args []string, cfg Config, serve func(context.Context, *slog.Logger, *sql.DB) error) int {
	return Run(ctx, name, args, cfg, os.Stderr, serve)
}

// Run is Main writing its errors and logs to stderr (tests pass a buffer).
func Run(ctx context.Context, name string, args []string, cfg Config, stderr io.Writer, serve func(context.Context, *slog.Logger, *sql.DB) error) int {
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "YAML configuration file")
	fs.String("listen", "", "HTTP listen address (overrides the file)")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitBadConfig
	}
	if err := config.Load(fs, cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitBadConfig
	}
	applyGCPercent(cfg.base().GCPercent)
	if addr := os.Getenv(PprofEnv); addr != "" {
		go servePprof(logger, addr)
	}
	if err := openAndServe(ctx, logger, cfg.base().Database, serve); err != nil {
		logger.Error(name+" stopped", "err", err)
		return ExitFailure
	}
	return ExitOK
}

// openAndServe runs serve with the database db names, closed afterwards.
func openAndServe(ctx context.Context, logger *slog.Logger, db dbopen.Section, serve func(context.Context, *slog.Logger, *sql.DB) error) error {
	conn, err := db.Open(ctx, logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	return serve(ctx, logger, conn)
}

// ServeHTTP serves srv until ctx is done, then stops taking connections and
// lets requests in flight finish within grace. With srv.TLSConfig set (see
// tlsconfig.Server.Config) it serves HTTPS only, and every response carries
// HSTS; otherwise plain HTTP.
func ServeHTTP(ctx context.Context, logger *slog.Logger, name string, srv *http.Server, grace time.Duration) error {
	errc := make(chan error, 1)
	if srv.ErrorLog == nil {
		// Failed TLS handshakes and the like, as structured warnings.
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	}
	if srv.TLSConfig != nil {
		srv.Handler = tlsconfig.HSTS(srv.Handler)
		go func() { errc <- srv.ListenAndServeTLS("", "") }()
	} else {
		go func() { errc <- srv.ListenAndServe() }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info(name + " stopped cleanly")
	return nil
}

// PprofEnv names the environment variable that, when set to an address (for
// example 127.0.0.1:6060), makes a daemon serve Go's runtime profiles
// (/debug/pprof/) there. It is a debugging aid, off by default; bind it to
// localhost only.
const PprofEnv = "HTLOG_PPROF_ADDR"

func servePprof(logger *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("serving runtime profiles", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		logger.Error("couldn't serve runtime profiles", "addr", addr, "err", err)
	}
}
