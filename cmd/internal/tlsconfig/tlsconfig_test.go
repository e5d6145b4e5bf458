package tlsconfig

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// TestValidateErrors checks that every bad section is refused with an error
// naming its key.
func TestValidateErrors(t *testing.T) {
	ca := testonly.NewCA(t, "test CA")
	cert, key := ca.Issue(t, "127.0.0.1")
	other, otherKey := ca.Issue(t, "127.0.0.1")
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	b, _ := os.ReadFile(key)
	os.WriteFile(open, b, 0o644)
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)

	for _, tc := range []struct {
		name string
		s    Server
		want string
	}{
		{"cert without key", Server{CertFile: cert}, "tls: set both cert_file and key_file"},
		{"key without cert", Server{KeyFile: key}, "tls: set both cert_file and key_file"},
		{"missing cert", Server{CertFile: cert + "x", KeyFile: key}, "tls.cert_file:"},
		{"key readable by others", Server{CertFile: cert, KeyFile: open}, "tls.key_file: key file " + open + " has mode 0644, readable by others; chmod 600 it"},
		{"key of another certificate", Server{CertFile: cert, KeyFile: otherKey}, "tls.cert_file and tls.key_file: couldn't load"},
		{"files and acme", Server{CertFile: other, KeyFile: otherKey, ACME: ACME{Domains: []string{"a.example"}}}, "tls: set cert_file and key_file, or acme, not both"},
		{"acme without domains", Server{ACME: ACME{CacheDir: dir}}, "tls.acme.domains: required"},
		{"acme bad domain", Server{ACME: ACME{Domains: []string{"https://a.example"}, CacheDir: dir}}, "tls.acme.domains[0]: must be a DNS name"},
		{"acme without cache", Server{ACME: ACME{Domains: []string{"a.example"}}}, "tls.acme.cache_dir: required"},
		{"acme plain directory", Server{ACME: ACME{Domains: []string{"a.example"}, CacheDir: dir, DirectoryURL: "http://ca.example/dir"}}, "tls.acme.directory_url: must be an https:// URL"},
		{"acme email only", Server{ACME: ACME{Email: "ops@example.org"}}, "tls.acme.domains: required"},
		{"ca not PEM", Server{CAFile: notPEM}, "tls.ca_file: no PEM certificate"},
		{"ca missing", Server{CAFile: notPEM + "x"}, "tls.ca_file: couldn't read the CA file"},
	} {
		err := tc.s.Validate("tls")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		c    Client
		want string
	}{
		{"ca not PEM", Client{CAFile: notPEM}, "trillian.tls.ca_file: no PEM certificate"},
		{"client cert without key", Client{CAFile: ca.CertFile, CertFile: cert}, "trillian.tls: set both cert_file and key_file"},
		{"client key readable by others", Client{CertFile: cert, KeyFile: open}, "trillian.tls.key_file: key file"},
		{"bad server name", Client{ServerName: ".example"}, "trillian.tls.server_name: must be a DNS name"},
	} {
		err := tc.c.Validate("trillian.tls")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("client %s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}

	for name, s := range map[string]Server{
		"empty":     {},
		"files":     {CertFile: cert, KeyFile: key, CAFile: ca.CertFile},
		"acme":      {ACME: ACME{Domains: []string{"log.example.org"}, CacheDir: dir, Email: "ops@example.org"}},
		"ca client": {CAFile: ca.CertFile},
	} {
		if err := s.Validate("tls"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if c, err := (&Server{CAFile: ca.CertFile}).Config(nil); c != nil || err != nil {
		t.Errorf("a section with only ca_file serves HTTPS: %v %v", c, err)
	}
	if c, err := (&Client{}).Config("database.tls", nil); c != nil || err != nil {
		t.Errorf("an empty client section dials TLS: %v %v", c, err)
	}
}

// TestACMEConfig checks the ACME configuration answers the TLS-ALPN-01
// challenge and keeps TLS 1.2 as the floor, without reaching any CA.
func TestACMEConfig(t *testing.T) {
	s := Server{ACME: ACME{Domains: []string{"log.example.org"}, CacheDir: t.TempDir()}}
	c, err := s.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || c.GetCertificate == nil || !strings.Contains(strings.Join(c.NextProtos, ","), "acme-tls/1") {
		t.Errorf("ACME tls.Config: min %x, protos %v", c.MinVersion, c.NextProtos)
	}
	// A name outside the domains gets no certificate (and no ACME order).
	if _, err := c.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.example.org"}); err == nil {
		t.Error("a certificate was offered for a name outside acme.domains")
	}
}

// serveTLS serves h with the section's configuration, as ServeHTTP does
// (httptest's StartTLS would add a certificate of its own), and returns
// the base URL.
func serveTLS(t *testing.T, s *Server, h http.Handler) string {
	t.Helper()
	c, err := s.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: HSTS(h), TLSConfig: c, ErrorLog: log.New(io.Discard, "", 0)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// TestServeReloadAndHSTS serves HTTPS from certificate files, checks the
// client side (a private CA through HTTPClient, another CA refused), HSTS on
// HTTPS only, TLS 1.1 refused, and a renewed certificate served without a
// restart.
func TestServeReloadAndHSTS(t *testing.T) {
	ca := testonly.NewCA(t, "test CA")
	cert, key := ca.Issue(t, "127.0.0.1")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(c, k string) {
		for _, f := range [][2]string{{c, certFile}, {k, keyFile}} {
			b, _ := os.ReadFile(f[0])
			if err := os.WriteFile(f[1]+".new", b, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Rename(f[1]+".new", f[1])
		}
	}
	install(cert, key)
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	url := serveTLS(t, &Server{CertFile: certFile, KeyFile: keyFile}, hello)

	client, err := HTTPClient(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != HSTSValue {
			t.Errorf("HSTS over HTTPS = %q, want %q", got, HSTSValue)
		}
		// The next call makes a new connection, hence a new handshake.
		client.CloseIdleConnections()
		return resp.TLS.PeerCertificates[0].SerialNumber.String()
	}
	first := serial()

	if _, err := http.Get(url); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v, want a certificate error", err)
	}
	otherCA := testonly.NewCA(t, "other CA")
	if c, _ := HTTPClient(otherCA.CertFile); c != nil {
		if _, err := c.Get(url); err == nil {
			t.Error("a client trusting another CA connected")
		}
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(url); err == nil {
		t.Error("TLS 1.1 was accepted")
	}

	// A renewed certificate (and a half-finished renewal before it) is
	// picked up at the next check, without a restart.
	cert2, key2 := ca.Issue(t, "127.0.0.1")
	b, _ := os.ReadFile(cert2)
	os.WriteFile(certFile, b, 0o644) // the key is still the old one
	time.Sleep(recheck + 100*time.Millisecond)
	if got := serial(); got != first {
		t.Errorf("a mismatched pair replaced the certificate")
	}
	install(cert2, key2)
	time.Sleep(recheck + 100*time.Millisecond)
	if got := serial(); got == first {
		t.Errorf("the renewed certificate was not served")
	}

	// Over plain HTTP the header would be ignored by browsers and is not sent.
	plain := httptest.NewServer(HSTS(hello))
	defer plain.Close()
	resp, err := http.Get(plain.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("HSTS over plain HTTP: %q", got)
	}
}
