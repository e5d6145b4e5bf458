package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// recheck is how often, at most, the certificate files are looked at again.
const recheck = time.Second

// reloader serves a certificate and key from files, reading them again at
// the first handshake after either changes (size or modification time), so
// that a renewed certificate needs no restart. A pair that fails to load
// (a half-written renewal, a key readable by others) is logged and the
// previous one kept; it is tried again at the next check. Safe for
// concurrent use.
type reloader struct {
	key, certFile, keyFile string
	logger                 *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // of the files the certificate was loaded from
	checked time.Time
}

// newReloader loads the pair once; key names the section in errors.
func newReloader(key, certFile, keyFile string, logger *slog.Logger) (*reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("%s: set both cert_file and key_file", key)
	}
	r := &reloader{key: key, certFile: certFile, keyFile: keyFile, logger: logger}
	stamp, err := r.stampNow()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *reloader) stampNow() (string, error) {
	stamp := ""
	for _, f := range [...]struct{ key, path string }{{r.key + ".cert_file", r.certFile}, {r.key + ".key_file", r.keyFile}} {
		st, err := os.Stat(f.path)
		if err != nil {
			return "", fmt.Errorf("%s: %v", f.key, err)
		}
		stamp += fmt.Sprintf("%d/%d/", st.Size(), st.ModTime().UnixNano())
	}
	return stamp, nil
}

func (r *reloader) load(stamp string) error {
	if err := checkOwnerOnly(r.key+".key_file", r.keyFile); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("%s.cert_file and %s.key_file: couldn't load the certificate and its key: %v", r.key, r.key, err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, time.Now()
	return nil
}

// current returns the certificate, reloading it first if the files changed.
func (r *reloader) current() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < recheck {
		return r.cert
	}
	r.checked = time.Now()
	stamp, err := r.stampNow()
	if err == nil && stamp != r.stamp {
		err = r.load(stamp)
		if err == nil && r.logger != nil {
			r.logger.Info("reloaded the TLS certificate", "cert_file", r.certFile, "not_after", r.cert.Leaf.NotAfter)
		}
	}
	if err != nil && r.logger != nil {
		r.logger.Error("couldn't reload the TLS certificate; serving the previous one", "err", err)
	}
	return r.cert
}

func (r *reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current(), nil
}

func (r *reloader) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.current(), nil
}
