package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

func TestBadConfigExits2(t *testing.T) {
	dir := t.TempDir()
	for name, yaml := range map[string]string{
		"unknown key": "listen: 127.0.0.1:0\nbogus: 1\n",
		"no log url":  "listen: 127.0.0.1:0\n",
		"bad url":     "listen: 127.0.0.1:0\nlog:\n  url: ftp://x\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(path, []byte(yaml), 0o644)
		var stderr bytes.Buffer
		if code := run(context.Background(), []string{"--config", path}, &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"report", "--format", "xml"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("report --format xml: exit %d", code)
	}
}

// TestReport: report selects by the events' time, not the recording
// time, and by organisation, and writes JSON, CSV and HTML per
// organisation with the organisations' names.
func TestReport(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "monreport")
	st, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	may := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	st.AddFindings(context.Background(), []finding.Finding{
		// Recorded now about an old event, and recorded long ago about a new one.
		{Rule: "old_event", Index: 1, Detail: "a", Time: now, EventTime: may.AddDate(0, -2, 0), Submitter: "npi:1234567893"},
		{Rule: "new_event", Index: 2, Detail: "b", Time: now.Add(-48 * time.Hour), EventTime: may, Submitter: "npi:1234567893"},
		{Rule: "other_org", Index: 3, Detail: "c", Time: now, EventTime: may, Submitter: "npi:1245319599"},
		{Rule: "split_view", Index: -1, Detail: "d", Time: now},
	})
	dir := t.TempDir()
	subs := filepath.Join(dir, "submitters.yaml")
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	os.WriteFile(filepath.Join(dir, "gh.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	os.WriteFile(subs, []byte("submitters:\n  - org: npi:1234567893\n    name: General Hospital\n    kinds: [access]\n    keys:\n      - public_key_file: gh.pub\n"), 0o644)
	conf := filepath.Join(dir, "monitor.yaml")
	os.WriteFile(conf, []byte("database:\n  dsn: "+dsn+"\nsubmitters_file: "+subs+"\n"), 0o644)
	var out, stderr bytes.Buffer
	code := run(context.Background(), []string{"report", "--config", conf, "--format", "csv", "--since", "2026-05-01"}, &out, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(out.String(), ",new_event,") || !strings.Contains(out.String(), ",other_org,") ||
		strings.Contains(out.String(), ",old_event,") || strings.Contains(out.String(), "split_view") ||
		!strings.Contains(out.String(), "General Hospital") {
		t.Fatalf("report --since:\n%s", out.String())
	}
	out.Reset()
	code = run(context.Background(), []string{"report", "--config", conf, "--format", "json", "--org", "npi:1234567893", "--until", "2026-05-02"}, &out, &stderr)
	if code != 0 || !strings.Contains(out.String(), "old_event") || strings.Contains(out.String(), "new_event") || strings.Contains(out.String(), "other_org") {
		t.Fatalf("report --org --until: %d\n%s%s", code, out.String(), stderr.String())
	}
	reports := filepath.Join(dir, "reports")
	if code := run(context.Background(), []string{"report", "--config", conf, "--out", reports}, &out, &stderr); code != 0 {
		t.Fatalf("report --out: exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"npi_1234567893", "npi_1245319599", "log"} {
		for _, ext := range []string{"json", "csv", "html"} {
			if _, err := os.Stat(filepath.Join(reports, name+"."+ext)); err != nil {
				t.Error(err)
			}
		}
	}
	html, _ := os.ReadFile(filepath.Join(reports, "npi_1234567893.html"))
	if !strings.Contains(string(html), "Findings report: General Hospital") || !strings.Contains(string(html), "old event") ||
		strings.Contains(string(html), "other org") || strings.Index(string(html), "old event") > strings.Index(string(html), "new event") {
		t.Fatalf("the HTML report:\n%s", html)
	}
	if code := run(context.Background(), []string{"report", "--config", conf, "--since", "last week"}, &out, &stderr); code != 2 {
		t.Fatalf("--since last week: exit %d", code)
	}
}
