package monitor_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
	"github.com/prometheus/client_golang/prometheus"
)

// server serves e.mon's HTTP API.
func (e *env) server(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(e.mon.Handler(prometheus.NewRegistry()))
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPFindings(t *testing.T) {
	e := newEnv(t, store.NewMem())
	e.appendAccesses(t, 5)
	other := montest.NewSubmitter(t, "npi:1999999992") // not registered
	raw, _ := other.Sign(t, "access", t0, montest.Access("npi:1999999992", "x", "p", "TREAT", ""))
	e.log.Append(raw, []byte("not an envelope"), []byte("nor this"))
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	url := e.server(t)
	findings := func(query string) []finding.Finding {
		t.Helper()
		code, body := get(t, url+"/findings"+query)
		if code != 200 {
			t.Fatalf("/findings%s: %d %s", query, code, body)
		}
		var fs []finding.Finding
		if err := json.Unmarshal([]byte(body), &fs); err != nil {
			t.Fatalf("/findings%s: %v", query, err)
		}
		return fs
	}
	if fs := findings(""); len(fs) != 3 {
		t.Fatalf("all findings: %+v", fs)
	}
	if fs := findings("?rule=" + entrycheck.RuleMalformed); len(fs) != 2 || fs[0].Rule != entrycheck.RuleMalformed {
		t.Fatalf("by rule: %+v", fs)
	}
	if fs := findings("?submitter=npi:1999999992"); len(fs) != 1 || fs[0].Rule != entrycheck.RuleSubmitter || fs[0].Index != 5 {
		t.Fatalf("by submitter: %+v", fs)
	}
	if fs := findings("?limit=1"); len(fs) != 1 {
		t.Fatalf("limit: %+v", fs)
	}
	if fs := findings("?rule=no_such_rule"); fs == nil || len(fs) != 0 {
		t.Fatalf("no match must be [], got %+v", fs)
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?limit=100001"} {
		if code, body := get(t, url+"/findings"+q); code != 400 || strings.Count(body, "\n") != 1 {
			t.Errorf("/findings%s: %d %q, want 400 and one line", q, code, body)
		}
	}
}

// splitView forks e's log at 10 entries and has the monitor hear of the
// fork's checkpoint of size 20; it returns the fork's checkpoint.
func splitView(t *testing.T, e *env) []byte {
	t.Helper()
	e.appendAccesses(t, 10)
	fork := e.log.Fork(10)
	e.appendAccesses(t, 10)
	fork.AppendN("fork", 10)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	return fork.Checkpoint(t, 20)
}

func TestHTTPPollinateAndEvidence(t *testing.T) {
	e := newEnv(t, store.NewMem())
	forked := splitView(t, e)
	url := e.server(t)

	if code, body := post(t, url+"/pollinate", e.log.Checkpoint(t, 20)); code != 200 {
		t.Fatalf("honest checkpoint: %d %s", code, body)
	}
	if code, body := post(t, url+"/pollinate", e.log.Checkpoint(t, 15)); code != 200 {
		t.Fatalf("older honest checkpoint: %d %s", code, body)
	}
	tampered := strings.Replace(string(e.log.Checkpoint(t, 20)), "\n20\n", "\n21\n", 1)
	if code, _ := post(t, url+"/pollinate", []byte(tampered)); code != 403 {
		t.Fatalf("bad signature: %d, want 403", code)
	}
	stranger := testonly.NewFakeLog(t, "example.com/another/log")
	stranger.AppendN("x", 3)
	if code, _ := post(t, url+"/pollinate", stranger.Checkpoint(t, 3)); code != 404 {
		t.Fatalf("another log's checkpoint: %d, want 404", code)
	}
	if code, _ := post(t, url+"/pollinate", []byte(strings.Repeat("x", c2sp.MaxCheckpointSize+1))); code != 400 {
		t.Fatalf("oversized body: %d, want 400", code)
	}
	if code, _ := get(t, url+"/evidence"); code != 200 {
		t.Fatal("/evidence failed")
	}
	if _, list := get(t, url+"/evidence"); list != "" {
		t.Fatalf("evidence before any split view: %q", list)
	}

	if code, body := post(t, url+"/pollinate", forked); code != 409 || !strings.Contains(body, "/evidence") {
		t.Fatalf("split view: %d %q, want 409", code, body)
	}
	_, list := get(t, url+"/evidence")
	ids := strings.Fields(list)
	if len(ids) != 1 {
		t.Fatalf("evidence list %q", list)
	}
	code, bundle := get(t, url+"/evidence/"+ids[0])
	if code != 200 {
		t.Fatalf("/evidence/<id>: %d", code)
	}
	verifyIndependently(t, e.log, []byte(bundle))
	if code, _ := get(t, url+"/evidence/"+strings.Repeat("0", 64)); code != 404 {
		t.Fatalf("unknown evidence: %d, want 404", code)
	}
	if code, _ := get(t, url+"/evidence/nothex"); code != 400 {
		t.Fatalf("bad evidence id: %d, want 400", code)
	}
	// The same split view heard again is still a conflict, with one bundle.
	if code, _ := post(t, url+"/pollinate", forked); code != 409 {
		t.Fatalf("split view again: %d", code)
	}
	if _, list := get(t, url+"/evidence"); len(strings.Fields(list)) != 1 {
		t.Fatalf("evidence duplicated: %q", list)
	}
}

func TestHTTPProof(t *testing.T) {
	e := newEnv(t, store.NewMem())
	forked := splitView(t, e)
	url := e.server(t)
	proof := func(cp []byte) []byte {
		return c2sp.Proof{Index: 0, Hashes: nil, Checkpoint: cp}.Marshal()
	}
	if code, body := post(t, url+"/proof", proof(e.log.Checkpoint(t, 20))); code != 200 {
		t.Fatalf("honest proof: %d %s", code, body)
	}
	if code, _ := post(t, url+"/proof", []byte("not a proof")); code != 400 {
		t.Fatalf("garbage proof: %d, want 400", code)
	}
	if code, _ := post(t, url+"/proof", proof(forked)); code != 409 {
		t.Fatalf("proof carrying a split view: %d, want 409", code)
	}
	if fs := e.findings(t, monitor.RuleSplitView); len(fs) != 1 {
		t.Fatalf("split view findings: %+v", fs)
	}
}

func TestDashboard(t *testing.T) {
	e := newEnv(t, store.NewMem())
	forked := splitView(t, e)
	other := montest.NewSubmitter(t, "npi:1999999992")
	raw, _ := other.Sign(t, "access", t0, montest.Access("npi:1999999992", "x", "secret-patient", "TREAT", ""))
	e.log.Append(raw)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.mon.Observe(e.ctx, forked, "pollinate"); err != nil {
		t.Fatal(err)
	}
	url := e.server(t)
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("dashboard: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ids, _ := e.st.EvidenceIDs(e.ctx)
	for _, want := range []string{origin, "21 entries", entrycheck.RuleSubmitter, "npi:1999999992", monitor.RuleSplitView,
		"/evidence/" + ids[0], "pollinate", "log"} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// No event body, payload or tag ever reaches the page.
	for _, entry := range e.log.Entries() {
		env := string(entry)
		payload := env[strings.Index(env, `"payload":"`)+11:]
		if strings.Contains(page, payload[:40]) {
			t.Fatal("the dashboard shows an event payload")
		}
	}
	for _, leak := range []string{montest.Tag("secret-patient"), montest.Tag("p"), "purpose_of_use", "TREAT", `"body"`} {
		if strings.Contains(page, leak) {
			t.Errorf("the dashboard shows event content %q", leak)
		}
	}
	if code, body := get(t, url+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}
