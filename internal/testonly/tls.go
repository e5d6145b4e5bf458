package testonly

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority for TLS tests: its certificate is
// in CertFile (PEM), and Issue signs server and client certificates.
type CA struct {
	// CertFile holds the CA certificate, PEM.
	CertFile string
	// Cert is the CA certificate.
	Cert *x509.Certificate

	key *ecdsa.PrivateKey
	dir string
}

// NewCA creates a CA valid for a day, its files under a test directory.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{Cert: cert, key: key, dir: t.TempDir()}
	ca.CertFile = ca.write(t, "ca.pem", pemOf("CERTIFICATE", der), 0o644)
	return ca
}

// Pool returns a pool holding the CA certificate only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue signs a certificate for hosts (DNS names or IP addresses), usable
// by a server and a client, and writes it and its key (mode 0600) to files.
func (ca *CA) Issue(t testing.TB, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	name := tmpl.SerialNumber.Text(16)
	return ca.write(t, name+".pem", pemOf("CERTIFICATE", der), 0o644),
		ca.write(t, name+".key", pemOf("PRIVATE KEY", k), 0o600)
}

func (ca *CA) write(t testing.TB, name string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// StartTLSServer starts one more trillian_log_server on tr's database, its
// gRPC served over TLS with certFile and keyFile (Trillian's --tls_cert_file
// and --tls_key_file), and returns its address. It is killed when the test
// ends.
func (tr *Trillian) StartTLSServer(t testing.TB, certFile, keyFile string) string {
	t.Helper()
	addr := FreePort(t)
	cmd := tr.start(t, "trillian_log_server", "--storage_system=mysql", "--quota_system=noop",
		"--mysql_uri="+tr.DSN, "--rpc_endpoint="+addr, "--http_endpoint="+FreePort(t),
		"--tls_cert_file="+certFile, "--tls_key_file="+keyFile)
	t.Cleanup(func() { cmd.Process.Kill() })
	waitForTCP(t, addr, "trillian_log_server (TLS)")
	return addr
}

// BadTLSConfig is a configuration fragment a daemon must refuse (exit 2)
// with an error containing Want.
type BadTLSConfig struct {
	Name, YAML, Want string
}

// BadTLSConfigs returns top-level YAML fragments with a wrong `tls:` or
// `database.tls:` section, the sections every daemon has, for the daemons'
// configuration tests.
func BadTLSConfigs(t testing.TB) []BadTLSConfig {
	t.Helper()
	ca := NewCA(t, "config CA")
	cert, key := ca.Issue(t, "127.0.0.1")
	loose := ca.write(t, "loose.key", mustRead(t, key), 0o644)
	notPEM := ca.write(t, "ca.txt", []byte("not a certificate\n"), 0o644)
	return []BadTLSConfig{
		{"cert without key", "tls: {cert_file: " + cert + "}\n", "tls: set both cert_file and key_file"},
		{"key readable by others", "tls: {cert_file: " + cert + ", key_file: " + loose + "}\n", "tls.key_file: key file " + loose + " has mode 0644, readable by others; chmod 600 it"},
		{"missing certificate", "tls: {cert_file: " + cert + ".gone, key_file: " + key + "}\n", "tls.cert_file:"},
		{"files and acme", "tls: {cert_file: " + cert + ", key_file: " + key + ", acme: {domains: [log.example.org], cache_dir: /tmp}}\n", "tls: set cert_file and key_file, or acme, not both"},
		{"acme without cache", "tls: {acme: {domains: [log.example.org]}}\n", "tls.acme.cache_dir: required"},
		{"acme without domains", "tls: {acme: {cache_dir: /tmp/acme}}\n", "tls.acme.domains: required"},
		{"outgoing CA not PEM", "tls: {ca_file: " + notPEM + "}\n", "tls.ca_file: no PEM certificate"},
		{"unknown tls key", "tls: {cert: " + cert + "}\n", "cert"},
		{"database CA not PEM", "database: {tls: {ca_file: " + notPEM + "}}\n", "database.tls.ca_file: no PEM certificate"},
		{"database client key readable", "database: {tls: {cert_file: " + cert + ", key_file: " + loose + "}}\n", "database.tls.key_file: key file"},
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TLSURL starts (once more) the fake log's tlog-tiles API over HTTPS, with a
// certificate for 127.0.0.1 from ca, and returns its base URL.
func (l *FakeLog) TLSURL(t testing.TB, ca *CA) string {
	t.Helper()
	certFile, keyFile := ca.Issue(t, "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(l.serveHTTP))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}
