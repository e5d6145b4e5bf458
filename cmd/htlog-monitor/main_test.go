package main

import (
	"bytes"
	"context"
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

func TestReport(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "monreport")
	st, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	st.AddFindings(context.Background(), []finding.Finding{
		{Rule: "old", Index: 1, Detail: "a", Time: now.Add(-48 * time.Hour)},
		{Rule: "new", Index: 2, Detail: "b", Time: now},
	})
	var out, stderr bytes.Buffer
	code := run(context.Background(), []string{"report", "--database.dsn", dsn, "--format", "csv",
		"--since", now.Add(-time.Hour).Format(time.RFC3339)}, &out, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(out.String(), ",new,") || strings.Contains(out.String(), ",old,") {
		t.Fatalf("report:\n%s", out.String())
	}
}
