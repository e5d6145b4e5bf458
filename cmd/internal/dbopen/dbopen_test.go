package dbopen

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
)

// TestConfigTLS checks how database.tls and the DSN's own tls parameter
// combine: either alone is honoured, both at once is refused unless the DSN
// only says tls=true, and a required TLS never falls back to clear text.
func TestConfigTLS(t *testing.T) {
	tc := &tls.Config{ServerName: "db.internal", MinVersion: tls.VersionTLS12}
	for _, c := range []struct {
		dsn      string
		tc       *tls.Config
		wantTLS  bool
		wantName string
		wantErr  string
	}{
		{dsn: "root@tcp(127.0.0.1:3306)/htlog"},
		{dsn: "root@tcp(db.example:3306)/htlog?tls=true", wantTLS: true, wantName: "db.example"},
		{dsn: "root@tcp(127.0.0.1:3306)/htlog", tc: tc, wantTLS: true, wantName: "db.internal"},
		{dsn: "root@tcp(127.0.0.1:3306)/htlog?tls=true", tc: tc, wantTLS: true, wantName: "db.internal"},
		{dsn: "root@tcp(127.0.0.1:3306)/htlog?tls=skip-verify", tc: tc, wantErr: "database.tls: the DSN's tls=skip-verify conflicts with database.tls"},
		{dsn: "root@tcp(127.0.0.1:3306)/htlog?tls=preferred", tc: tc, wantErr: "conflicts with database.tls"},
		{dsn: "root@tcp(127.0.0.1:3306)/htlog?tls=false", tc: tc, wantErr: "conflicts with database.tls"},
		{dsn: "root@tcp(127.0.0.1:3306)/", wantErr: "database.dsn: must name a database"},
	} {
		cfg, err := Config(c.dsn, c.tc)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want %q", c.dsn, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.dsn, err)
			continue
		}
		if (cfg.TLS != nil) != c.wantTLS || cfg.AllowFallbackToPlaintext {
			t.Errorf("%s: TLS %v (fallback %v), want TLS %v and no fallback", c.dsn, cfg.TLS != nil, cfg.AllowFallbackToPlaintext, c.wantTLS)
			continue
		}
		if c.wantTLS && cfg.TLS.ServerName != c.wantName {
			t.Errorf("%s: server name %q, want %q", c.dsn, cfg.TLS.ServerName, c.wantName)
		}
		if !cfg.ParseTime || cfg.MultiStatements {
			t.Errorf("%s: parseTime %v multiStatements %v", c.dsn, cfg.ParseTime, cfg.MultiStatements)
		}
	}
	if tc.ServerName != "db.internal" || tc.RootCAs != nil {
		t.Error("Config changed the caller's tls.Config")
	}
}

// TestOpenRequiresTLS connects to the test server, which offers no TLS,
// with TLS required: Open must fail and say why, never fall back to clear
// text. (On a server with TLS it would instead fail on the unknown CA.)
func TestOpenRequiresTLS(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.DSNFor(t, "htlog_tls_never_created")
	ca := testonly.NewCA(t, "db CA")
	_, err := Open(context.Background(), dsn, &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
	if err == nil {
		t.Fatal("Open with database.tls succeeded on a server without TLS (or with a certificate from an unknown CA)")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "does not offer TLS") && !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, want it to say the server offers no TLS or its certificate is not trusted", err)
	}
	if !strings.Contains(dsn, "tls") {
		if _, err := Open(context.Background(), dsn+"&tls=true", nil); err == nil {
			t.Error("Open with tls=true in the DSN succeeded")
		} else {
			t.Logf("tls=true: %v", err)
		}
	}
}
