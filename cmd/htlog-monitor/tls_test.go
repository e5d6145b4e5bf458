package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
)

// TestBadTLSConfigExits2 checks the tls and database.tls keys' validation:
// the error names the key and the monitor (and its report command, for
// database.tls) exits 2.
func TestBadTLSConfigExits2(t *testing.T) {
	for _, tc := range testonly.BadTLSConfigs(t) {
		path := validConfig(t, tc.YAML)
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{"--config", path}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.Want) {
			t.Errorf("%s: exit %d (%q), want 2 and %q", tc.Name, code, strings.TrimSpace(stderr.String()), tc.Want)
		}
		if !strings.HasPrefix(tc.YAML, "database:") {
			continue
		}
		// The report command reads database.dsn and database.tls only.
		path = validConfig(t, strings.Replace(tc.YAML, "database: {", "database: {dsn: 'root@tcp(127.0.0.1:1)/htlog_monitor', ", 1))
		stderr.Reset()
		if code := run(context.Background(), []string{"report", "--config", path}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.Want) {
			t.Errorf("report, %s: exit %d (%q), want 2 and %q", tc.Name, code, strings.TrimSpace(stderr.String()), tc.Want)
		}
	}
}
