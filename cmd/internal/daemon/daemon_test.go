package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// emptyConfig is the smallest configuration: the --listen address.
type emptyConfig struct {
	Listen string `mapstructure:"listen"`
	err    error
}

func (c *emptyConfig) Validate() error { return c.err }

func TestRunExitCodes(t *testing.T) {
	ctx := context.Background()
	var stderr bytes.Buffer
	if code := Run(ctx, "d", []string{"--no-such-flag"}, &emptyConfig{}, &stderr, nil); code != ExitBadConfig {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitBadConfig)
	}
	if !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("unknown flag: stderr %q does not name it", stderr.String())
	}
	fail := func(context.Context, *slog.Logger) error { return io.ErrUnexpectedEOF }
	if code := Run(ctx, "d", nil, &emptyConfig{}, io.Discard, fail); code != ExitFailure {
		t.Errorf("serve failed: exit %d, want %d", code, ExitFailure)
	}
	ok := func(context.Context, *slog.Logger) error { return nil }
	if code := Run(ctx, "d", nil, &emptyConfig{}, io.Discard, ok); code != ExitOK {
		t.Errorf("clean stop: exit %d, want %d", code, ExitOK)
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
