package daemon

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// testConfig is the smallest configuration: Base and an error to return.
type testConfig struct {
	Base `mapstructure:",squash"`
	err  error
}

func (c *testConfig) Validate() error {
	if c.err != nil {
		return c.err
	}
	return c.Base.Validate()
}

func TestRunExitCodes(t *testing.T) {
	ctx := context.Background()
	never := func(context.Context, *slog.Logger, *sql.DB) error {
		t.Error("serve ran")
		return nil
	}
	var stderr bytes.Buffer
	if code := Run(ctx, "d", []string{"--no-such-flag"}, &testConfig{}, &stderr, never); code != ExitBadConfig {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitBadConfig)
	}
	if !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("unknown flag: stderr %q does not name it", stderr.String())
	}
	stderr.Reset()
	if code := Run(ctx, "d", []string{"--listen", "127.0.0.1:0"}, &testConfig{}, &stderr, never); code != ExitBadConfig ||
		!strings.Contains(stderr.String(), "database.dsn: required") {
		t.Errorf("no database: exit %d (%q), want %d naming database.dsn", code, stderr.String(), ExitBadConfig)
	}
	if code := Run(ctx, "d", nil, &testConfig{err: io.ErrUnexpectedEOF}, io.Discard, never); code != ExitBadConfig {
		t.Errorf("invalid config: exit %d, want %d", code, ExitBadConfig)
	}
}

// TestRunOpensTheDatabase: serve gets the database the configuration names,
// open; a failing serve is exit code 1, a clean stop 0.
func TestRunOpensTheDatabase(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "daemon")
	ctx := context.Background()
	cfg := func() *testConfig {
		c := &testConfig{}
		c.Listen, c.Database.DSN = "127.0.0.1:0", dsn
		return c
	}
	ping := func(ctx context.Context, _ *slog.Logger, db *sql.DB) error { return db.PingContext(ctx) }
	var stderr bytes.Buffer
	if code := Run(ctx, "d", []string{"--listen", "127.0.0.1:0"}, cfg(), &stderr, ping); code != ExitOK {
		t.Log(stderr.String())
		t.Errorf("clean stop: exit %d, want %d", code, ExitOK)
	}
	fail := func(context.Context, *slog.Logger, *sql.DB) error { return io.ErrUnexpectedEOF }
	if code := Run(ctx, "d", []string{"--listen", "127.0.0.1:0"}, cfg(), io.Discard, fail); code != ExitFailure {
		t.Errorf("serve failed: exit %d, want %d", code, ExitFailure)
	}
}

// TestListenStopsWithContext: Listen serves until its context ends, then
// shuts down cleanly (nil error).
func TestListenStopsWithContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	go func() {
		done <- Listen(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), "d", addr, h, nil, time.Second, time.Second)
	}()
	var resp *http.Response
	for i := 0; ; i++ {
		if resp, err = http.Get("http://" + addr + "/"); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("Listen never served: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("served %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Listen after cancel: %v", err)
	}
}

func TestNewRegistry(t *testing.T) {
	mfs, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "go_goroutines") {
		t.Errorf("no Go runtime metrics in %v", names)
	}
}

// TestCommand: each run gets a fresh configuration from defaults, loaded
// from the command line, and serve sees it.
func TestCommand(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "daemon")
	defaults := func() *testConfig {
		c := &testConfig{}
		c.Database.DSN = dsn
		return c
	}
	var seen []string
	serve := func(_ context.Context, c *testConfig, _ *slog.Logger, db *sql.DB) error {
		seen = append(seen, c.Listen)
		return db.Ping()
	}
	run := Command("d", defaults, serve)
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		if code := run(context.Background(), []string{"--listen", addr}); code != ExitOK {
			t.Fatalf("--listen %s: exit %d", addr, code)
		}
	}
	if strings.Join(seen, " ") != "127.0.0.1:0 localhost:0" {
		t.Errorf("serve saw %q", seen)
	}
}

// TestGCPercent: gc_percent sets the collector's target, GOGC wins over
// it, 0 leaves it, and a value out of range is refused.
func TestGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	applyGCPercent(400)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Fatalf("gc_percent 400 set %d", got)
	}
	applyGCPercent(0)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("gc_percent 0 changed the target to %d", got)
	}
	t.Setenv("GOGC", "150")
	applyGCPercent(400)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("gc_percent overrode GOGC: %d", got)
	}
	b := Base{Listen: "127.0.0.1:1", GCPercent: -1}
	b.Database.DSN = "x"
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "gc_percent") {
		t.Fatalf("gc_percent -1: %v", err)
	}
}
