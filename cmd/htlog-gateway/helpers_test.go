package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/testonly"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// gatewayBinary builds cmd/htlog-gateway once per test binary.
func gatewayBinary(t testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "htlog-gateway-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "htlog-gateway")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/htlog-gateway")
		cmd.Dir = testonly.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/htlog-gateway: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// gateway is a running htlog-gateway process in front of a stack.
type gateway struct {
	URL, Token, Config, logPath string
	// DSN is the gateway's database.
	DSN   string
	stack *testonly.Stack
	cmd   *exec.Cmd
	db    *sql.DB
}

// database returns a connection pool to the gateway's database, opened once.
func (g *gateway) database(t testing.TB) *sql.DB {
	if g.db == nil {
		g.db = testonly.OpenDB(t, g.DSN)
		g.db.SetMaxOpenConns(2)
	}
	return g.db
}

const testToken = "custodian-token-0123456789"

// newGateway writes a configuration for the stack's submitter, with a
// database of its own, and starts the gateway.
func newGateway(t testing.TB, s *testonly.Stack, extra string) *gateway {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wk := write("workforce.key", strings.Repeat("5a", 32)+"\n")
	tok := write("token", testToken+"\n")
	addr := testonly.FreePort(t)
	dsn := testonly.NewDatabase(t, "gateway")
	key := "key_file: " + s.KeyFile
	if strings.Contains(extra, "pkcs11:") {
		key = "" // the key is on a token
	}
	cfg := write("gateway.yaml", fmt.Sprintf(`listen: %s
database: {dsn: '%s'}
log: %s
policy_file: %s
org: %s
%s
workforce_key_file: %s
registry_file: %s
source_system: ehr-fhir
default_purpose_of_use: TREAT
default_agent_role: "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor"
token_file: %s
max_backoff: 1s
%s`, addr, dsn, s.URL, s.PolicyFile, s.Org, key, wk, s.RegistryFile, tok, extra))
	g := &gateway{DSN: dsn, URL: "http://" + addr, Token: testToken, Config: cfg, logPath: filepath.Join(dir, "gateway.log"), stack: s}
	g.Start(t)
	return g
}

// Start (re)starts the process and waits until it answers /healthz.
func (g *gateway) Start(t testing.TB) {
	t.Helper()
	g.cmd = exec.Command(gatewayBinary(t), "--config", g.Config)
	if addr := os.Getenv("HTLOG_GATEWAY_PPROF_ADDR"); addr != "" {
		// Profiles the gateway alone (HTLOG_PPROF_ADDR would be taken by
		// the stack's server first).
		g.cmd.Env = append(os.Environ(), "HTLOG_PPROF_ADDR="+addr)
	}
	out, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stdout, g.cmd.Stderr = out, out
	if err := testonly.StartChild(t, g.cmd); err != nil {
		t.Fatal(err)
	}
	cmd := g.cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(g.logPath)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("htlog-gateway output, last lines:\n%s", b)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("htlog-gateway did not become healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill kills the process with SIGKILL, as a crash would.
func (g *gateway) Kill() {
	g.cmd.Process.Kill()
	g.cmd.Wait()
}

// post sends a document and returns the status and the answer.
func (g *gateway) post(t testing.TB, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(g.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// get fetches path, with the token when auth is set.
func (g *gateway) get(t testing.TB, path string, auth bool) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+g.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// item is GET /items/{id}.
type item struct {
	EventID  string `json:"event_id"`
	State    string `json:"state"`
	Index    *int64 `json:"index"`
	Reason   string `json:"reason"`
	Receipt  string `json:"receipt"`
	Envelope string `json:"envelope"`
}

func (g *gateway) item(t testing.TB, id string) item {
	t.Helper()
	code, b := g.get(t, "/items/"+id, false)
	if code != 200 {
		t.Fatalf("GET /items/%s: %d %s", id, code, b)
	}
	var it item
	if err := json.Unmarshal(b, &it); err != nil {
		t.Fatal(err)
	}
	return it
}

// waitLogged waits until every item is logged (its verified receipt
// stored) and returns them.
func (g *gateway) waitLogged(t testing.TB, ids []string, within time.Duration) map[string]item {
	t.Helper()
	deadline := time.Now().Add(within)
	out := map[string]item{}
	for _, id := range ids {
		for {
			it := g.item(t, id)
			if it.State == "logged" {
				out[id] = it
				break
			}
			if it.State == "refused" {
				t.Fatalf("the log refused %s: %s", id, it.Reason)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still %s after %v", id, it.State, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out
}

func logClient(s *testonly.Stack) *client.Client {
	return &client.Client{URL: s.URL, Policy: s.Policy}
}

// withTimes returns a FHIR resource with its times moved to now (the log
// admits events inside its window only): recorded, period and dateTime.
func withTimes(t testing.TB, resource []byte, now time.Time) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resource, &m); err != nil {
		t.Fatal(err)
	}
	ts := now.UTC().Format(time.RFC3339)
	if _, ok := m["recorded"]; ok {
		m["recorded"] = ts
	}
	delete(m, "period")
	for _, k := range []string{"dateTime", "date"} { // R4 Consent's dateTime, R5's date
		if _, ok := m[k]; ok {
			m[k] = ts
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// counts returns the number of the gateway's items in each state.
func (g *gateway) counts(t testing.TB) map[string]int {
	t.Helper()
	rows, err := g.database(t).Query("SELECT state, COUNT(*) FROM gw_items GROUP BY state")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := []string{"pending", "submitted", "logged", "refused"}
	out := map[string]int{}
	for rows.Next() {
		var st, n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		out[names[st]] = n
	}
	return out
}

// eventIDs returns the event ids of all the gateway's items.
func (g *gateway) eventIDs(t testing.TB) []string {
	t.Helper()
	rows, err := g.database(t).Query("SELECT event_id FROM gw_items")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// accessDoc returns the BALP read example about patient p, with a request
// id of its own (a distinct resource) and the given time.
func accessDoc(t testing.TB, base []byte, p, req int, at time.Time) []byte {
	t.Helper()
	s := strings.Replace(string(base), "Patient/ex-patient", fmt.Sprintf("Patient/p%d", p), 1)
	s = strings.Replace(s, "76d148b6-586d-11ec-bf63-0242ac130002", fmt.Sprintf("req-%d-%d", req, at.UnixNano()), 1)
	return withTimes(t, []byte(s), at)
}

// acceptedID returns the event id a 201 OperationOutcome names ("accepted
// as htlog event sha256:...").
func acceptedID(t testing.TB, body []byte) string {
	t.Helper()
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	json.Unmarshal(body, &oo)
	const prefix = "accepted as htlog event "
	if len(oo.Issue) == 0 || !strings.HasPrefix(oo.Issue[0].Diagnostics, prefix) || len(oo.Issue[0].Diagnostics) < len(prefix)+71 {
		t.Fatalf("no event id in %s", body)
	}
	return oo.Issue[0].Diagnostics[len(prefix) : len(prefix)+71]
}
