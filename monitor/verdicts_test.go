package monitor_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

const regulatorToken = "regulator-token-0123456789"

// withSigner gives the monitor a verdicts key and one regulator, "reg".
func withSigner(t testing.TB) (func(*monitor.Config), note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "monitor.example")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	return func(c *monitor.Config) {
		c.Signer = signer
		c.Regulators = []monitor.Regulator{monitor.NewRegulator("reg", regulatorToken)}
		c.OrgName = func(org string) string {
			if org == "npi:1234567893" {
				return "General Hospital"
			}
			return ""
		}
	}, verifier
}

// logPatientStory logs, for one patient: a consent (0), an access citing
// it (1), a disclosure to public health (2), a break-glass access (3), a
// research access citing no consent (4), a routine treatment access (5),
// and an access citing a consent logged only later, at 7 (6).
func logPatientStory(t testing.TB, e *env) {
	org := "npi:1234567893"
	consent, cid := e.sub.Sign(t, "consent", t0, montest.Consent("pat", org, t0))
	access, _ := e.sub.Sign(t, "access", t0.Add(time.Hour), montest.Access(org, "dr-a", "pat", "TREAT", cid))
	disc := montest.Access(org, "clerk", "pat", "PUBHLTH", "")
	disc["disclosure"] = map[string]any{"flag": true, "recipient": montest.Commit("State health department"),
		"description": montest.Commit("lab result"), "basis": "public-health"}
	disclosure, _ := e.sub.Sign(t, "access", t0.Add(2*time.Hour), disc)
	glass, _ := e.sub.Sign(t, "access", t0.Add(3*time.Hour), montest.Access(org, "dr-b", "pat", "ETREAT", ""))
	research, _ := e.sub.Sign(t, "access", t0.Add(4*time.Hour), montest.Access(org, "dr-c", "pat", "HRESCH", ""))
	routine, _ := e.sub.Sign(t, "access", t0.Add(5*time.Hour), montest.Access(org, "dr-d", "pat", "TREAT", ""))
	late, lateID := e.sub.Sign(t, "consent", t0.Add(5*time.Hour), montest.Consent("pat", org, t0.Add(5*time.Hour)))
	early, _ := e.sub.Sign(t, "access", t0.Add(6*time.Hour), montest.Access(org, "dr-e", "pat", "HRESCH", lateID))
	e.log.Append(consent, access, disclosure, glass, research, routine, early, late)
}

func getVerdicts(t *testing.T, base string, v note.Verifier, entries string) *monitor.Verdicts {
	t.Helper()
	resp, err := http.Get(base + "/verdicts?entries=" + entries)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("GET /verdicts: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	got, err := monitor.OpenVerdicts(b, v, origin)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if lines := strings.Split(string(b), "\n"); lines[0] != client.VerdictsHeader || lines[1] != origin || lines[3] != "" {
		t.Fatalf("note text is not three lines:\n%s", b)
	}
	return got
}

// TestVerdicts: the signed verdicts say which consent allowed an access,
// that a public-health disclosure was permitted, that a break-glass access
// is under review until resolved, that an access without a needed consent
// is flagged, and nothing about a routine access.
func TestVerdicts(t *testing.T) {
	mod, verifier := withSigner(t)
	e := newEnv(t, store.NewMem(), mod)
	logPatientStory(t, e)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	base := e.server(t)
	v := getVerdicts(t, base, verifier, "0,1,2,3,4,5,6,99")
	if v.CheckedSize != 8 || len(v.Verdicts) != 8 {
		t.Fatalf("verdicts: %+v", v)
	}
	want := []string{"no_finding", "allowed", "permitted_disclosure", "under_review", "flagged", "no_finding", "allowed", "not_checked_yet"}
	for i, w := range want {
		if got := v.Verdicts[i]; got.Status != w {
			t.Errorf("entry %d: status %s, want %s (%+v)", got.Entry, got.Status, w, got)
		}
	}
	if a := v.Verdicts[1]; a.ConsentEntry == nil || *a.ConsentEntry != 0 || a.ConsentAt == nil || !a.ConsentAt.Equal(t0) || !strings.HasPrefix(a.EventID, "sha256:") {
		t.Errorf("allowed access: %+v", a)
	}
	if a := v.Verdicts[6]; a.ConsentEntry == nil || *a.ConsentEntry != 7 {
		t.Errorf("access allowed by a consent logged later: %+v", a)
	}
	if len(v.Verdicts[2].Findings) != 0 {
		t.Errorf("the public-health disclosure raised findings: %+v", v.Verdicts[2].Findings)
	}
	glass := v.Verdicts[3]
	if len(glass.Findings) != 1 || glass.Findings[0].Rule != "break_glass_review" || glass.Findings[0].State != "open" ||
		glass.Findings[0].Severity != "low" || glass.Findings[0].Summary == "" {
		t.Fatalf("break-glass: %+v", glass)
	}

	// Resolved, the break-glass access is no longer under review.
	code, body := triage(t, base, glass.Findings[0].ID, "Bearer "+regulatorToken, `{"state":"resolved","note":"reviewed with the ward"}`)
	if code != 200 {
		t.Fatalf("triage: %d %s", code, body)
	}
	v = getVerdicts(t, base, verifier, "3")
	if g := v.Verdicts[0]; g.Status != "no_finding" || g.Findings[0].State != "resolved" {
		t.Fatalf("resolved break-glass: %+v", g)
	}

	for q, wantCode := range map[string]int{
		"": 400, "1,,2": 400, "01": 400, "-1": 400, "1,1": 400, "x": 400,
		strings.TrimSuffix(strings.Repeat("1,", 101), ","): 400, "18446744073709551616": 400,
	} {
		if code, body := get(t, base+"/verdicts?entries="+q); code != wantCode {
			t.Errorf("entries=%q: %d %s", q, code, body)
		}
	}
	var list []string
	for i := range 100 {
		list = append(list, fmt.Sprint(i))
	}
	if v := getVerdicts(t, base, verifier, strings.Join(list, ",")); len(v.Verdicts) != 100 {
		t.Fatalf("100 entries: %d verdicts", len(v.Verdicts))
	}
}

func TestVerdictsUnsigned(t *testing.T) {
	e := newEnv(t, store.NewMem())
	if code, body := get(t, e.server(t)+"/verdicts?entries=1"); code != 404 || !strings.Contains(body, "does not sign verdicts") {
		t.Fatalf("%d %s", code, body)
	}
}

func triage(t *testing.T, base, id, auth, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/findings/"+id+"/state", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTriageAPI: only a regulator moves a finding, along the allowed
// moves, with a note; the history says who, when, from and to.
func TestTriageAPI(t *testing.T) {
	mod, _ := withSigner(t)
	reg := prometheus.NewRegistry()
	e := newEnv(t, store.NewMem(), mod, func(c *monitor.Config) { c.Metrics = monitor.NewMetrics(reg) })
	logPatientStory(t, e)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.mon.Handler(reg))
	defer srv.Close()
	base := srv.URL
	fs := e.findings(t, "access_without_consent")
	if len(fs) != 1 {
		t.Fatalf("findings: %+v", fs)
	}
	id := fs[0].ID
	for _, c := range []struct {
		auth, body string
		code       int
	}{
		{"", `{"state":"acknowledged","note":"x"}`, 401},
		{"Bearer wrong-token-0123456789", `{"state":"acknowledged","note":"x"}`, 401},
		{"Basic " + basic("other", regulatorToken), `{"state":"acknowledged","note":"x"}`, 401},
		{"Bearer " + regulatorToken, `{"state":"closed","note":"x"}`, 400},
		{"Bearer " + regulatorToken, `{"state":"acknowledged","note":""}`, 400},
		{"Bearer " + regulatorToken, `{"state":"acknowledged","note":"x","extra":1}`, 400},
		{"Bearer " + regulatorToken, `{"state":"open","note":"x"}`, 409},
		{"Basic " + basic("reg", regulatorToken), `{"state":"acknowledged","note":"asked the hospital"}`, 200},
		{"Bearer " + regulatorToken, `{"state":"acknowledged","note":"again"}`, 409},
		{"Bearer " + regulatorToken, `{"state":"resolved","note":"consent found on paper"}`, 200},
		{"Bearer " + regulatorToken, `{"state":"disputed","note":"x"}`, 409},
	} {
		if code, body := triage(t, base, id, c.auth, c.body); code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.auth, c.body, code, body, c.code)
		}
	}
	if code, _ := triage(t, base, strings.Repeat("0", 64), "Bearer "+regulatorToken, `{"state":"resolved","note":"x"}`); code != 404 {
		t.Errorf("unknown finding: %d", code)
	}
	h, err := e.st.History(e.ctx, id)
	if err != nil || len(h) != 2 || h[0].Who != "reg" || h[0].From != finding.StateOpen || h[0].To != finding.StateAcknowledged ||
		h[1].To != finding.StateResolved || h[1].Note != "consent found on paper" || h[1].At.IsZero() {
		t.Fatalf("history: %+v %v", h, err)
	}
	// A cross-site form post (no Authorization header, no session) is refused.
	resp, err := http.Post(base+"/findings/"+id+"/state", "application/x-www-form-urlencoded", strings.NewReader("state=open&note=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("form without a session: %d", resp.StatusCode)
	}
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, `htlog_monitor_triage_total{state="acknowledged"} 1`) ||
		!strings.Contains(m, `htlog_monitor_triage_total{state="resolved"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}
	_, body := get(t, base+"/findings?state=resolved")
	var list []finding.Finding
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("findings?state=resolved: %s", body)
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// FuzzParseEntries: a parsed list has 1 to 100 distinct indexes, each the
// decimal it was written as.
func FuzzParseEntries(f *testing.F) {
	for _, s := range []string{"0", "1,2,3", "", ",", "01", "18446744073709551615", "1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := monitor.ParseEntries(s)
		if err != nil {
			return
		}
		parts := strings.Split(s, ",")
		if len(got) == 0 || len(got) > client.MaxVerdictEntries || len(got) != len(parts) {
			t.Fatalf("%q: %v", s, got)
		}
		seen := map[uint64]bool{}
		for i, n := range got {
			if seen[n] || fmt.Sprint(n) != parts[i] {
				t.Fatalf("%q: %v", s, got)
			}
			seen[n] = true
		}
	})
}

// FuzzOpenVerdicts: a note that opens is a verdicts note signed by the key,
// about the log, whose JSON round-trips.
func FuzzOpenVerdicts(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "monitor.example")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	good, _ := monitor.SignVerdicts(signer, origin, &monitor.Verdicts{CheckedSize: 3, Verdicts: []client.EntryVerdict{{Entry: 1, Status: "no_finding", Findings: []client.VerdictFinding{}}}})
	f.Add(good)
	f.Add([]byte("htlog-monitor verdicts v1\n" + origin + "\n{}\n\n— monitor.example AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := monitor.OpenVerdicts(b, verifier, origin)
		if err != nil {
			return
		}
		again, err := monitor.SignVerdicts(signer, origin, v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := monitor.OpenVerdicts(again, verifier, origin); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPublicHealthExampleRaisesNoFinding: the project's example of a
// disclosure to public health (HIPAA 164.512(b)) raises no finding on a
// real monitor, and its verdict is a permitted disclosure.
func TestPublicHealthExampleRaisesNoFinding(t *testing.T) {
	mod, verifier := withSigner(t)
	e := newEnv(t, store.NewMem(), mod)
	raw, err := os.ReadFile("../schemas/examples/access/valid-disclosure-to-public-health.json")
	if err != nil {
		t.Fatal(err)
	}
	env, _ := e.sub.Sign(t, "access", t0, json.RawMessage(raw))
	e.log.Append(env)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if fs := e.findings(t, ""); len(fs) != 0 {
		t.Fatalf("findings: %+v", fs)
	}
	v := getVerdicts(t, e.server(t), verifier, "0")
	if got := v.Verdicts[0]; got.Status != "permitted_disclosure" || len(got.Findings) != 0 {
		t.Fatalf("verdict: %+v", got)
	}
}

// TestTriageTokenGuessingIsLimited: an address that keeps sending triage
// requests with tokens gets 429 with Retry-After; so does one that keeps
// trying to sign in.
func TestTriageTokenGuessingIsLimited(t *testing.T) {
	mod, _ := withSigner(t)
	e := newEnv(t, store.NewMem(), mod)
	base := e.server(t)
	limited := 0
	for range 30 {
		if code, _ := triage(t, base, strings.Repeat("a", 64), "Bearer guess-0123456789abcdef", `{"state":"resolved","note":"x"}`); code == 429 {
			limited++
		} else if code != 401 {
			t.Fatalf("a wrong token: %d", code)
		}
	}
	if limited == 0 {
		t.Fatal("30 guesses in a row were not limited")
	}
	limited = 0
	for range 10 {
		resp, err := http.PostForm(base+"/login", map[string][]string{"name": {"reg"}, "token": {"guess-0123456789abcdef"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "" {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("10 sign-in attempts in a row were not limited")
	}
}

// TestVerdictOfAHeldAccess: an access citing a consent not logged yet is
// not judged yet (the rule waits for the consent), and is allowed once
// the consent is logged.
func TestVerdictOfAHeldAccess(t *testing.T) {
	mod, verifier := withSigner(t)
	e := newEnv(t, store.NewMem(), mod)
	org := "npi:1234567893"
	consent, cid := e.sub.Sign(t, "consent", t0, montest.Consent("pat", org, t0))
	access, _ := e.sub.Sign(t, "access", t0.Add(time.Hour), montest.Access(org, "dr-a", "pat", "TREAT", cid))
	e.log.Append(access)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	base := e.server(t)
	if v := getVerdicts(t, base, verifier, "0").Verdicts[0]; v.Status != "not_checked_yet" || v.EventID == "" {
		t.Fatalf("held access: %+v", v)
	}
	e.log.Append(consent)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if v := getVerdicts(t, base, verifier, "0").Verdicts[0]; v.Status != "allowed" || v.ConsentEntry == nil || *v.ConsentEntry != 1 {
		t.Fatalf("access after its consent was logged: %+v", v)
	}
}
