// Package tlsconfig turns the TLS sections of a daemon's configuration into
// crypto/tls configurations: the `tls:` section a daemon serves HTTPS with
// (certificate files reloaded when they change, or ACME through
// golang.org/x/crypto/acme/autocert), and the sections of its outgoing links
// (trillian.tls, database.tls, and the CA its HTTP clients trust).
//
// The structs carry mapstructure tags so that each daemon's Config embeds
// them; viper itself stays in cmd/internal/config. Every Validate names the
// key at fault, as the other keys' checks do, so a bad section exits 2.
//
// Serving: with a Server section set, a daemon serves HTTPS only (TLS 1.2 or
// later, Go's defaults otherwise), and every response carries HSTS; without
// it, plain HTTP as before (make up serves loopback HTTP).
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Server is a daemon's `tls:` section: the certificate it serves HTTPS
// with, from files or from an ACME CA, and the CA its own HTTP clients trust.
type Server struct {
	// CertFile is the certificate chain, PEM, leaf first.
	CertFile string `mapstructure:"cert_file"`
	// KeyFile is the certificate's private key, PEM; readable by its owner
	// only. Both files are read again when either changes on disk, so a
	// renewed certificate is served from the next handshake on.
	KeyFile string `mapstructure:"key_file"`
	// ACME, instead of the files, obtains and renews the certificate from
	// an ACME CA (Let's Encrypt by default) through the TLS-ALPN-01
	// challenge: the daemon must be reachable on port 443 of every domain.
	ACME ACME `mapstructure:"acme"`
	// CAFile, if set, holds CA certificates (PEM) trusted beside the
	// system's for the HTTPS URLs this daemon calls: witnesses, peers, the
	// log. It is independent of serving HTTPS.
	CAFile string `mapstructure:"ca_file"`
}

// ACME is the `tls.acme:` section.
type ACME struct {
	// Domains are the names the certificate is for; a request for any other
	// name gets no certificate.
	Domains []string `mapstructure:"domains"`
	// CacheDir keeps the account key and certificates across restarts
	// (required: without it every restart would ask the CA again and soon
	// hit its rate limits). It holds private keys: mode 0700.
	CacheDir string `mapstructure:"cache_dir"`
	// Email is given to the CA for expiry and problem notices; optional.
	Email string `mapstructure:"email"`
	// DirectoryURL is the CA's ACME directory; empty means Let's Encrypt's
	// production directory.
	DirectoryURL string `mapstructure:"directory_url"`
}

// Enabled reports whether the daemon serves HTTPS.
func (s *Server) Enabled() bool {
	return s.CertFile != "" || s.KeyFile != "" || len(s.ACME.Domains) > 0 || s.ACME.CacheDir != ""
}

// Validate checks the section; key is its name ("tls"). Certificate files
// are loaded once to prove they parse and match; the CA file must parse.
func (s *Server) Validate(key string) error {
	if s.CAFile != "" {
		if _, err := loadPool(key+".ca_file", s.CAFile); err != nil {
			return err
		}
	}
	files := s.CertFile != "" || s.KeyFile != ""
	acme := len(s.ACME.Domains) > 0 || s.ACME.CacheDir != "" || s.ACME.Email != "" || s.ACME.DirectoryURL != ""
	switch {
	case files && acme:
		return fmt.Errorf("%s: set cert_file and key_file, or acme, not both", key)
	case files:
		_, err := newReloader(key, s.CertFile, s.KeyFile, nil)
		return err
	case acme:
		a := s.ACME
		if len(a.Domains) == 0 {
			return fmt.Errorf("%s.acme.domains: required, the names to get a certificate for, such as [log.example.org]", key)
		}
		for i, d := range a.Domains {
			if d == "" || strings.ContainsAny(d, "/: *") {
				return fmt.Errorf("%s.acme.domains[%d]: must be a DNS name such as log.example.org, got %q", key, i, d)
			}
		}
		if a.CacheDir == "" {
			return fmt.Errorf("%s.acme.cache_dir: required, a private directory keeping the account key and certificates across restarts", key)
		}
		if a.DirectoryURL != "" && !strings.HasPrefix(a.DirectoryURL, "https://") {
			return fmt.Errorf("%s.acme.directory_url: must be an https:// URL, got %q", key, a.DirectoryURL)
		}
	}
	return nil
}

// Config returns the tls.Config to serve with, or nil when the section is
// empty (serve plain HTTP). Call it after Validate.
func (s *Server) Config(logger *slog.Logger) (*tls.Config, error) {
	if !s.Enabled() {
		return nil, nil
	}
	if s.CertFile != "" {
		r, err := newReloader("tls", s.CertFile, s.KeyFile, logger)
		if err != nil {
			return nil, err
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}, nil
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(s.ACME.Domains...),
		Cache:      autocert.DirCache(s.ACME.CacheDir),
		Email:      s.ACME.Email,
	}
	if s.ACME.DirectoryURL != "" {
		m.Client = &acme.Client{DirectoryURL: s.ACME.DirectoryURL}
	}
	c := m.TLSConfig()
	c.MinVersion = tls.VersionTLS12
	return c, nil
}

// HTTPClient returns an HTTP client for this daemon's outgoing requests:
// http.DefaultTransport's settings, trusting the system roots and CAFile.
func (s *Server) HTTPClient() (*http.Client, error) {
	return HTTPClient(s.CAFile)
}

// HTTPClient returns an HTTP client with http.DefaultTransport's settings
// that trusts the system roots and, if caFile is set, its certificates too.
// Bound each request with its context.
func HTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{}, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if err := appendPEM(pool, caFile); err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return &http.Client{Transport: t}, nil
}

// HSTSValue is the Strict-Transport-Security header every HTTPS response
// carries: two years, subdomains included.
const HSTSValue = "max-age=63072000; includeSubDomains"

// HSTS wraps h so that every response to a request that came over TLS
// carries Strict-Transport-Security. Over plain HTTP browsers ignore the
// header, so it is not sent there.
func HSTS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", HSTSValue)
		}
		h.ServeHTTP(w, r)
	})
}

// checkOwnerOnly refuses a private key file that others may read, as the
// daemons do for their signing keys.
func checkOwnerOnly(key, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %v", key, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: key file %s has mode %04o, readable by others; chmod 600 it", key, path, st.Mode().Perm())
	}
	return nil
}

func loadPool(key, path string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if err := appendPEM(pool, path); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return pool, nil
}

func appendPEM(pool *x509.CertPool, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("couldn't read the CA file: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return errors.New("no PEM certificate in " + path)
	}
	return nil
}
