package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/internal/testonly/cdp"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

// card is one event as the patient page shows it.
type card struct {
	Entry      int      `json:"entry"`
	Class      string   `json:"class"`
	When       string   `json:"when"`
	Sentence   string   `json:"sentence"`
	Marks      []string `json:"marks"`
	InLog      string   `json:"inlog"`
	InLogClass string   `json:"inlogClass"`
	Verdicts   []string `json:"verdicts"`
}

const readCards = `[...document.querySelectorAll("#events > li")].map((li) => ({
	entry: Number(li.dataset.entry), class: li.className,
	when: li.querySelector(".when").textContent, sentence: li.querySelector(".sentence").textContent,
	marks: [...li.querySelectorAll(".mark")].map((m) => m.textContent),
	inlog: li.querySelector(".inlog").textContent, inlogClass: li.querySelector(".inlog").className,
	verdicts: [...li.querySelectorAll(".verdict")].map((v) => v.textContent)}))`

// TestPatientPageInBrowser runs the patient's whole flow in headless
// Chromium against the real htlog-server (its registry names the
// hospital) and a monitor that signs its verdicts: the patient opens their
// bundle, and the page shows each of their events in plain words (the
// hospital's name from the verified registry, the value sets' words, the
// browser's time zone), break-glass and disclosures marked, "in the log"
// apart from the monitor's verified verdict ("allowed under your consent
// of ...", "emergency access, under review", "no consent found"), and
// "not verified" for a monitor key that did not sign. It takes screenshots
// (desktop and phone width, saved to $HTLOG_SCREENSHOTS when set), checks
// the page fits a phone's width, runs axe-core with no serious or critical
// violation, and with a policy naming another log key marks every event
// not verified.
func TestPatientPageInBrowser(t *testing.T) {
	testonly.RequireIntegration(t)
	b := cdp.Launch(t) // before the stack: a test without Chromium or axe-core fails at once
	s := testonly.PrepareStack(t)
	reg, err := os.ReadFile(s.RegistryFile)
	if err != nil {
		t.Fatal(err)
	}
	named := strings.Replace(string(reg), "  - org: "+s.Org+"\n", "  - org: "+s.Org+"\n    name: General Hospital\n", 1)
	if err := os.WriteFile(s.RegistryFile, []byte(named), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Start(t)
	checkHeaders(t, s.URL)

	key := bytes.Repeat([]byte{0x42}, 32)
	patient := event.PatientTag(key, s.Org)
	recipient, ropen := event.Commit([]byte("State Department of Health"))
	description, dopen := event.Commit([]byte("immunisation record"))
	withPatient := func(kind, name string, set map[string]any, fields ...string) []byte {
		var m map[string]any
		if err := json.Unmarshal(testonly.Example(t, kind, name), &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			m[f] = patient
		}
		for k, v := range set {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	// Every time is taken once, so that a minute boundary during the test
	// does not move it.
	at := map[string]string{}
	for name, d := range map[string]time.Duration{"consent": -3 * time.Hour, "read": -150 * time.Minute, "breakglass": -2 * time.Hour,
		"flagged": -100 * time.Minute, "disclosure": -90 * time.Minute, "other": -time.Hour, "period": -4 * time.Hour} {
		at[name] = testonly.Minute(d)
	}
	disclosure := map[string]any{"flag": true, "recipient": recipient, "description": description, "basis": "public-health"}
	consentEnv := s.Envelope(t, "consent", withPatient("consent", "valid-treatment-grant.json",
		map[string]any{"date_time": at["consent"], "period": map[string]any{"start": at["period"], "end": "2099-01-01T00:00:00Z"}}, "patient", "grantor"), at["consent"])
	parsed, err := event.ParseEnvelope(consentEnv)
	if err != nil {
		t.Fatal(err)
	}
	cites := map[string]any{"authorization": event.IDOf(parsed.Payload)}
	bodies := map[string][]byte{
		"consent":    consentEnv,
		"read":       s.Envelope(t, "access", withPatient("access", "valid-routine-read.json", cites, "patient"), at["read"]),
		"breakglass": s.Envelope(t, "access", withPatient("access", "valid-break-glass.json", nil, "patient"), at["breakglass"]),
		"flagged":    s.Envelope(t, "access", withPatient("access", "valid-routine-read.json", map[string]any{"purpose_of_use": "HRESCH"}, "patient"), at["flagged"]),
		"disclosure": s.Envelope(t, "access", withPatient("access", "valid-disclosure-to-public-health.json", map[string]any{"disclosure": disclosure}, "patient"), at["disclosure"]),
		// Another patient's event, which must not show up.
		"other": s.Envelope(t, "access", testonly.Example(t, "access", "valid-break-glass.json"), at["other"]),
	}
	index := map[string]int{}
	for _, name := range []string{"consent", "read", "breakglass", "flagged", "disclosure", "other"} {
		code, body, _ := post(t, s, "/add-event", bodies[name])
		if code != http.StatusOK {
			t.Fatalf("add-event %s: %d %s", name, code, body)
		}
		p, err := c2sp.ParseProof([]byte(body))
		if err != nil {
			t.Fatalf("add-event %s: %v", name, err)
		}
		index[name] = int(p.Index)
	}

	// The monitor the patient trusts, signing its verdicts (contract 2).
	mon := testonly.NewFakeMonitor(t, "monitor.example", s.Origin)
	consentAt, _ := time.Parse(time.RFC3339, at["consent"])
	mon.Set(uint64(index["read"]), map[string]any{"status": "allowed", "consent_entry": index["consent"], "consent_at": consentAt.Format(time.RFC3339), "findings": []any{}})
	mon.Set(uint64(index["breakglass"]), map[string]any{"status": "under_review", "findings": []any{map[string]any{"id": "f1", "rule": "break_glass_review", "severity": "low", "state": "open", "summary": "Emergency access, to be reviewed."}}})
	mon.Set(uint64(index["flagged"]), map[string]any{"status": "flagged", "findings": []any{map[string]any{"id": "f2", "rule": "access_without_consent", "severity": "high", "state": "open", "summary": "No consent was found that allows this access."}}})
	mon.Set(uint64(index["disclosure"]), map[string]any{"status": "permitted_disclosure", "findings": []any{}})
	mon.Set(uint64(index["consent"]), map[string]any{"status": "no_finding", "findings": []any{}})
	// The real monitor, replaying the stack's log with its rules.
	realMon := startSigningMonitor(t, s, "real-monitor.example")
	deadline := time.Now().Add(30 * time.Second)
	for cp := realMon.m.Confirmed(); cp == nil || cp.Size <= uint64(index["other"]); cp = realMon.m.Confirmed() {
		if time.Now().After(deadline) {
			t.Fatalf("the monitor did not replay the %d entries within 30s", index["other"]+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A monitor entry whose key did not sign the answers.
	_, untrusted, err := note.GenerateKey(rand.Reader, "untrusted.example")
	if err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile(s.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	pb := &client.PatientBundle{Type: client.BundleType, Log: s.URL, Custodian: s.Org, Key: hex.EncodeToString(key), Policy: string(policy),
		Monitors: []client.BundleMonitor{{URL: mon.URL, VKey: mon.VKey}, {URL: mon.URL, VKey: untrusted}, {URL: realMon.url, VKey: realMon.vkey}},
		Openings: []client.BundleOpening{{Commitment: recipient, Value: "State Department of Health", Opening: hex.EncodeToString(ropen)},
			{Commitment: description, Value: "immunisation record", Opening: hex.EncodeToString(dopen)}}}
	pageURL := func(pb *client.PatientBundle) string {
		j, err := pb.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return s.URL + "/patient/#bundle=" + base64.RawURLEncoding.EncodeToString(j)
	}
	const done = `document.getElementById("status").dataset.done === "true"`

	// The page before a bundle is opened: the import form.
	b.SetViewport(1200, 900, false)
	b.SetTimezone("America/New_York")
	b.Open(s.URL+"/patient/", `document.getElementById("file")`)
	b.CheckAccessibility("import form")

	b.Open(pageURL(pb), done)
	var cards []card
	b.Eval(readCards, &cards)
	ny, _ := time.LoadLocation("America/New_York")
	when := func(name string) string {
		tm, _ := time.Parse(time.RFC3339, at[name])
		return client.FormatWhen(tm.In(ny))
	}
	verified := "monitor.example: "
	notVerified := "untrusted.example: not verified ("
	// The fake monitor says what it was told; the real one what its rules
	// found (realVerdict: "" means any verified answer: the monitor holds an
	// access without consent back for a while, as its consent may follow).
	want := map[string]struct {
		sentence, verdict, realVerdict, mark string
	}{
		"consent": {"General Hospital recorded your consent, for treatment, care management.", "checked, nothing to report", "", ""},
		"read": {"A doctor at General Hospital viewed your record, for treatment.", "allowed under your consent of " + client.FormatDay(consentAt.In(ny)),
			"allowed under your consent of " + client.FormatDay(consentAt.In(ny)), ""},
		"breakglass": {"A doctor at General Hospital viewed your record, for emergency treatment (break-glass).", "emergency access, under review",
			"emergency access, under review", "⚠ Emergency access (break-glass)."},
		"flagged": {"A doctor at General Hospital viewed your record, for healthcare research.", "no consent found", "", ""},
		"disclosure": {"An application at General Hospital used your record, for public health.", "a disclosure the law permits without your consent",
			"a disclosure the law permits without your consent",
			"⇢ Disclosed to State Department of Health (immunisation record), on the basis of public health activities (164.512(b))."},
	}
	if len(cards) != len(want) {
		t.Fatalf("the page shows %d events, want %d: %+v", len(cards), len(want), cards)
	}
	for name, w := range want {
		var c *card
		for i := range cards {
			if cards[i].Entry == index[name] {
				c = &cards[i]
			}
		}
		if c == nil {
			t.Errorf("%s (entry %d) is not shown", name, index[name])
			continue
		}
		if c.When != when(name) || c.Sentence != w.sentence || !strings.HasPrefix(c.InLog, "✓ In the log as entry ") || c.InLogClass != "inlog" ||
			len(c.Verdicts) != 3 || c.Verdicts[0] != verified+w.verdict || !strings.HasPrefix(c.Verdicts[1], notVerified) {
			t.Errorf("%s: the page shows %+v\nwant when %q, sentence %q, verdict %q", name, *c, when(name), w.sentence, w.verdict)
		}
		if len(c.Verdicts) == 3 {
			rv, ok := strings.CutPrefix(c.Verdicts[2], "real-monitor.example: ")
			if !ok || strings.HasPrefix(rv, "not verified") || (w.realVerdict != "" && rv != w.realVerdict) {
				t.Errorf("%s: the real monitor's verdict reads %q, want %q", name, c.Verdicts[2], w.realVerdict)
			}
			t.Logf("%s: %s", name, c.Verdicts[2])
		}
		if (w.mark == "") != (len(c.Marks) == 0) || (w.mark != "" && c.Marks[0] != w.mark) {
			t.Errorf("%s: marks %q, want %q", name, c.Marks, w.mark)
		}
	}
	var page struct {
		HTML   string `json:"html"`
		Status string `json:"status"`
		Stored bool   `json:"-"`
	}
	b.Eval(`({html: document.documentElement.outerHTML, status: document.getElementById("status").textContent})`, &page)
	if strings.Contains(page.HTML, hex.EncodeToString(key)) || strings.Contains(page.HTML, "#bundle=") {
		t.Error("the page still holds the key or the link's fragment in its DOM")
	}
	if !strings.HasPrefix(page.Status, "5 entries about you, newest first.") {
		t.Errorf("status %q", page.Status)
	}
	var stored any
	b.Eval(`localStorage.getItem("htlog-patient-bundle")`, &stored)
	if stored != nil {
		t.Error("the bundle was stored although 'remember' was not ticked")
	}
	b.CheckAccessibility("events")
	cdp.CheckScreenshot(t, b.Screenshot("patient-desktop.png"), 1200)

	// "Remember on this device": kept in localStorage, opened again on the
	// next visit; "Forget my bundle" removes it.
	b.Eval(`document.getElementById("remember").click(); localStorage.getItem("htlog-patient-bundle") !== null`, &page.Stored)
	if !page.Stored {
		t.Error("the bundle was not remembered after ticking 'remember'")
	}
	b.Open(s.URL+"/patient/?again", done)
	b.Eval(`document.querySelectorAll("#events > li").length === 5 && document.getElementById("remember").checked`, &page.Stored)
	if !page.Stored {
		t.Error("a remembered bundle was not opened on the next visit")
	}
	b.Eval(`document.getElementById("forget").click(); localStorage.getItem("htlog-patient-bundle") === null && document.getElementById("results").hidden`, &page.Stored)
	if !page.Stored {
		t.Error("'Forget my bundle' left the bundle stored or shown")
	}

	// A phone: the page fits its width.
	b.SetViewport(390, 844, true)
	b.Open(pageURL(pb), done)
	var widths struct{ Scroll, Inner int }
	b.Eval(`({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})`, &widths)
	if widths.Scroll > widths.Inner || widths.Inner != 390 {
		t.Errorf("on a phone the page is %dpx wide in a %dpx window", widths.Scroll, widths.Inner)
	}
	b.CheckAccessibility("events on a phone")
	cdp.CheckScreenshot(t, b.Screenshot("patient-phone.png"), 390)

	// A policy trusting another key for the same log: nothing verifies.
	_, otherVKey, err := note.GenerateKey(rand.Reader, s.Origin)
	if err != nil {
		t.Fatal(err)
	}
	wrong := *pb
	wrong.Policy = strings.Replace(string(policy), s.LogVKey, otherVKey, 1)
	b.SetViewport(1200, 900, false)
	b.SetTimezone("UTC")
	b.Open(pageURL(&wrong), done)
	b.Eval(readCards, &cards)
	if len(cards) != 5 {
		t.Fatalf("with the wrong policy the page shows %d events, want 5", len(cards))
	}
	for _, c := range cards {
		if c.InLogClass != "inlog notverified" || !strings.Contains(c.InLog, "NOT verified in the log: the checkpoint carries no valid signature") ||
			!strings.Contains(c.Sentence, "(name not verified)") || len(c.Verdicts) != 3 || !strings.Contains(c.Verdicts[0], "not asked") {
			t.Errorf("wrong policy: %+v", c)
		}
	}
	b.Eval(`document.getElementById("status").textContent + " " + document.getElementById("checkpoint").textContent`, &page.Status)
	for _, w := range []string{"5 could NOT be verified", "the log's registry could not be verified", "✗ The log's latest checkpoint does not verify"} {
		if !strings.Contains(page.Status, w) {
			t.Errorf("with the wrong policy the page does not say %q: %s", w, page.Status)
		}
	}
}

// checkHeaders checks how /patient/ is served.
func checkHeaders(t *testing.T, base string) {
	t.Helper()
	get := func(path string, header ...string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for path, ctype := range map[string]string{"/patient/": "text/html", "/patient/htlog.js": "text/javascript", "/patient/app.js": "text/javascript", "/patient/style.css": "text/css"} {
		resp := get(path)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Type"), ctype) || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" ||
			!strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self' https:") || !strings.Contains(csp, "default-src 'none'") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, h)
		}
		if again := get(path, "If-None-Match", h.Get("ETag")); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", path, again.StatusCode)
		}
	}
	if resp := get("/patient/README.md"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /patient/README.md: %d, want 404", resp.StatusCode)
	}
}

// signingMonitor is a real monitor (package monitor, in process) of the
// stack that signs its verdicts, served over HTTP.
type signingMonitor struct {
	m         *monitor.Monitor
	url, vkey string
}

func startSigningMonitor(t *testing.T, s *testonly.Stack, name string) *signingMonitor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, err := note.NewVerifier(s.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.NewWatcher(s.RegistryFile)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New(ctx, monitor.Config{LogURL: s.URL, LogVerifier: verifier, Policy: s.Policy, Registry: reg.Current,
		Validator: v, PollInterval: 200 * time.Millisecond, Store: store.NewMem(), Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	go m.Run(ctx)
	srv := httptest.NewServer(m.Handler(prometheus.NewRegistry()))
	t.Cleanup(srv.Close)
	return &signingMonitor{m: m, url: srv.URL, vkey: vkey}
}
