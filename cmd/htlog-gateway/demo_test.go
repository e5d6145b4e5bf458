package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
)

// TestGatewayDemoScript runs deployment/local/gateway-demo.sh (what `make
// up` users run) against a gateway in front of a real stack: it must post
// its AuditEvent, EPCIS chain and TRDS registration and find each on the log.
func TestGatewayDemoScript(t *testing.T) {
	testonly.RequireIntegration(t)
	for _, tool := range []string{"bash", "curl", "jq"} {
		testonly.LookPath(t, tool, tool)
	}
	s := testonly.StartStack(t)
	g := newGateway(t, s, "")
	dir := t.TempDir()
	cli := filepath.Join(dir, "htlog")
	build := exec.Command("go", "build", "-o", cli, "./cmd/htlog")
	build.Dir = testonly.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/htlog: %v\n%s", err, out)
	}
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(testonly.RepoRoot(), "deployment/local/gateway-demo.sh"))
	cmd.Env = append(os.Environ(), "GATEWAY="+g.URL, "LOG="+s.URL, "GATEWAY_TOKEN_FILE="+tok, "POLICY="+s.PolicyFile, "HTLOG_CLI="+cli)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "all documents came back from the log") {
		t.Fatalf("gateway-demo.sh: %v\n%s", err, out)
	}
}
