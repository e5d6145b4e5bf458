package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/cmd/internal/tlsconfig"
	"github.com/htlog/htlog/internal/testonly"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestDialTrillianTLS dials a real trillian_log_server that serves gRPC over
// TLS: with its CA the link works; with another CA, a wrong server name or
// no TLS at all it fails at start, saying what to check.
func TestDialTrillianTLS(t *testing.T) {
	tr := testonly.StartTrillian(t)
	ca := testonly.NewCA(t, "trillian CA")
	cert, key := ca.Issue(t, "trillian.internal", "127.0.0.1")
	addr := tr.StartTLSServer(t, cert, key)
	other := testonly.NewCA(t, "another CA")
	ctx := context.Background()

	dial := func(tc tlsconfig.Client) error {
		cfg := defaults()
		cfg.Trillian.Address, cfg.Trillian.TLS = addr, tc
		conn, err := dialTrillian(ctx, cfg, quiet)
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = trillian.NewTrillianAdminClient(conn).ListTrees(ctx, &trillian.ListTreesRequest{})
		return err
	}
	for name, tc := range map[string]tlsconfig.Client{
		"the CA":                 {CAFile: ca.CertFile},
		"the CA and server name": {CAFile: ca.CertFile, ServerName: "trillian.internal"},
	} {
		if err := dial(tc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, c := range []struct {
		name string
		tc   tlsconfig.Client
		want []string
	}{
		{"another CA", tlsconfig.Client{CAFile: other.CertFile}, []string{"over TLS", "trillian.tls.ca_file", "certificate signed by unknown authority"}},
		{"a wrong server name", tlsconfig.Client{CAFile: ca.CertFile, ServerName: "log.internal"}, []string{"over TLS", "server_name", "log.internal"}},
		{"no TLS", tlsconfig.Client{}, []string{"if it serves TLS, set trillian.tls"}},
	} {
		err := dial(c.tc)
		if err == nil {
			t.Errorf("%s: the dial succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to mention %q", c.name, err, w)
			}
		}
	}
}

// TestServeHTTPS runs htlog-server with a certificate from a private CA and
// Trillian over TLS: a submission through package client and reads over
// HTTPS with that CA succeed, every response carries HSTS, a client without
// the CA is refused, and plain HTTP to the port gets no log data.
func TestServeHTTPS(t *testing.T) {
	s := testonly.PrepareStack(t)
	ca := testonly.NewCA(t, "htlog CA")
	cert, key := ca.Issue(t, "log.htlog.test", "127.0.0.1")
	trCert, trKey := ca.Issue(t, "trillian.internal")
	trAddr := s.Trillian.StartTLSServer(t, trCert, trKey)
	b, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	line := "trillian: {address: " + s.Trillian.LogAddr + "}\n"
	if !strings.Contains(string(b), line) {
		t.Fatalf("the stack's config has no %q line", line)
	}
	text := strings.Replace(string(b), line, "trillian: {address: "+trAddr+", tls: {ca_file: "+ca.CertFile+", server_name: trillian.internal}}\n", 1)
	text += "tls: {cert_file: " + cert + ", key_file: " + key + "}\n"
	if err := os.WriteFile(s.ConfigFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	hostport := strings.TrimPrefix(s.URL, "http://")
	base := "https://" + hostport

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan int, 1)
	go func() { stopped <- run(ctx, []string{"--config", s.ConfigFile}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-stopped; code != 0 {
			t.Errorf("htlog-server exited with %d", code)
		}
	})
	h, err := tlsconfig.HTTPClient(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := h.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("GET %s: Strict-Transport-Security %q", path, got)
		}
		return resp, string(body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := h.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("htlog-server did not become healthy over HTTPS: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	c := &client.Client{URL: base, HTTP: h, Policy: s.Policy}
	env := s.Envelope(t, "access", testonly.Example(t, "access", "valid-routine-read.json"), testonly.Minute(-time.Hour))
	p, err := c.Submit(ctx, env)
	if err != nil {
		t.Fatalf("submission over HTTPS: %v", err)
	}
	if _, _, err := s.Policy.VerifyProof(p, c2sp.LeafHash(env)); err != nil {
		t.Fatalf("the receipt does not verify: %v", err)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil || cp.Size < 1 {
		t.Fatalf("checkpoint over HTTPS: %v", err)
	}
	if got, err := c.Entry(ctx, p.Index, cp); err != nil || string(got) != string(env) {
		t.Fatalf("entry %d over HTTPS: %v", p.Index, err)
	}
	for _, path := range []string{"/checkpoint", "/patient/", "/healthz"} {
		if resp, _ := get(path); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if resp, _ := get("/no-such-path"); resp.StatusCode != 404 {
		t.Errorf("GET /no-such-path: %d", resp.StatusCode)
	}

	if _, err := http.Get(base + "/checkpoint"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v, want a certificate error", err)
	}
	// Go answers a plain request on a TLS port with a 400 of its own; no
	// log data, no HSTS (it means nothing over HTTP).
	resp, err := http.Get("http://" + hostport + "/checkpoint")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || strings.Contains(string(body), s.Origin) || resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("plain HTTP to the HTTPS port: %d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
}

// TestServePlainHTTPHasNoHSTS checks the default: plain HTTP, no HSTS.
func TestServePlainHTTPHasNoHSTS(t *testing.T) {
	s := startStack(t)
	resp, err := http.Get(s.URL + "/patient/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain HTTP /patient/: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}
