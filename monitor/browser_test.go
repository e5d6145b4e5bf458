package monitor_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/internal/cdp"
	"github.com/htlog/htlog/monitor/store"
	"github.com/prometheus/client_golang/prometheus"
)

// browserTools returns Chromium's binary and axe-core's source. Without
// them the test fails under HTLOG_INTEGRATION=1 (CI provides both) and is
// skipped otherwise, naming what is missing and how to install it.
func browserTools(t *testing.T) (string, string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("HTLOG_INTEGRATION") == "1" {
			t.Fatal(what)
		}
		t.Skip(what)
	}
	bin := ""
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if found, err := exec.LookPath(p); err == nil {
			bin = found
			break
		}
	}
	if bin == "" {
		missing("no Chromium (/usr/bin/chromium): install Debian's package, `apt-get install --no-install-recommends chromium`")
	}
	axePath := os.Getenv("HTLOG_AXE")
	if axePath == "" {
		axePath = "../var/axe/node_modules/axe-core/axe.min.js"
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		missing(fmt.Sprintf("no axe-core at %s: run `npm install --prefix var/axe axe-core@4` at the repository's root (or set HTLOG_AXE)", axePath))
	}
	return bin, string(axe)
}

// TestDashboardInBrowser drives the dashboard of a monitor with findings in
// headless Chromium: filter the findings, open the break-glass finding,
// sign in as a regulator, acknowledge it with a note and see its state
// change; on a desktop and a phone-sized screen, with no serious or
// critical axe-core violation on any page. HTLOG_SCREENSHOTS=dir keeps the
// screenshots there (docs/img for the docs).
func TestDashboardInBrowser(t *testing.T) {
	bin, axe := browserTools(t)
	var st store.Store = store.NewMem()
	if os.Getenv("HTLOG_INTEGRATION") == "1" {
		s, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "mondash")))
		if err != nil {
			t.Fatal(err)
		}
		st = s
	}
	mod, _ := withSigner(t)
	e := newEnv(t, st, mod)
	logPatientStory(t, e)
	e.appendAccesses(t, 3)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.mon.Handler(prometheus.NewRegistry()))
	defer srv.Close()
	shots := os.Getenv("HTLOG_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := cdp.Start(ctx, bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	text := func() string {
		var s string
		must(b.Eval(`document.body.innerText`, &s))
		return s
	}
	checkAxe := func(page string) {
		t.Helper()
		v, err := b.Axe(axe)
		must(err)
		if len(v) > 0 {
			t.Errorf("%s: axe-core found:\n%s", page, strings.Join(v, "\n"))
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := b.Screenshot()
		must(err)
		must(os.WriteFile(filepath.Join(shots, name), png, 0o644))
	}
	click := func(selector string) {
		t.Helper()
		must(b.Loads(func() error {
			return b.Eval(fmt.Sprintf(`(() => { const s = %q; const el = document.querySelector(s); if (!el) throw new Error("no " + s); el.click(); return true })()`, selector), nil)
		}))
	}

	must(b.SetViewport(1280, 900, false))
	must(b.Navigate(srv.URL + "/"))
	if s := text(); !strings.Contains(s, "General Hospital (npi:1234567893)") || !strings.Contains(s, "break glass review") ||
		!strings.Contains(s, "access without consent") {
		t.Fatalf("dashboard:\n%s", s)
	}
	checkAxe("dashboard")
	shot("dashboard-desktop.png")

	// Filter: break-glass findings, open.
	must(b.Eval(`document.getElementById('f-rule').value = 'break_glass_review'; document.getElementById('f-state').value = 'open'; true`, nil))
	click(`form.filters button[type=submit]`)
	var rows []string
	must(b.Eval(`[...document.querySelectorAll('#findings tbody tr')].map(r => r.innerText)`, &rows))
	if len(rows) != 1 || !strings.Contains(rows[0], "break glass review") || !strings.Contains(rows[0], "open") {
		t.Fatalf("filtered rows: %q", rows)
	}

	// Open the finding, sign in, acknowledge it.
	click(`#findings tbody a`)
	if s := text(); !strings.Contains(s, "Emergency (break-glass) access") || !strings.Contains(s, "No change yet") {
		t.Fatalf("finding page:\n%s", s)
	}
	checkAxe("finding (public)")
	click(`a[href^="/login"]`)
	checkAxe("sign-in")
	must(b.Eval(`document.getElementById('l-name').value = 'reg'; document.getElementById('l-token').value = '`+regulatorToken+`'; true`, nil))
	click(`main form button[type=submit]`)
	if s := text(); !strings.Contains(s, "Signed in as reg") || !strings.Contains(s, "New state") {
		t.Fatalf("after sign-in:\n%s", s)
	}
	checkAxe("finding (regulator)")
	must(b.Eval(`document.getElementById('t-state').value = 'acknowledged'; document.getElementById('t-note').value = 'Asked the ward for the emergency record.'; true`, nil))
	click(`main form[action$="/state"] button[type=submit]`)
	var state string
	must(b.Eval(`document.getElementById('state').innerText`, &state))
	if s := text(); state != "acknowledged" || !strings.Contains(s, "Asked the ward for the emergency record.") || !strings.Contains(s, "reg") {
		t.Fatalf("after triage (state %q):\n%s", state, s)
	}
	checkAxe("finding (triaged)")
	shot("dashboard-finding.png")

	// The dashboard shows the new state; on a phone-sized screen the page
	// does not scroll sideways (tables scroll within their region).
	must(b.SetViewport(390, 844, true))
	must(b.Navigate(srv.URL + "/?state=acknowledged"))
	if s := text(); !strings.Contains(s, "acknowledged") || !strings.Contains(s, "Emergency (break-glass) access") {
		t.Fatalf("acknowledged findings:\n%s", s)
	}
	var overflow bool
	must(b.Eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow))
	if overflow {
		t.Error("the dashboard scrolls sideways on a 390 px wide screen")
	}
	checkAxe("dashboard (phone)")
	must(b.Navigate(srv.URL + "/"))
	shot("dashboard-phone.png")

	// The check is not vacuous: a page with an unlabelled field and text
	// of too little contrast fails it.
	must(b.Navigate(`data:text/html,<!doctype html><html><body><input type=text><p style="color:%23ddd">faint</p></body></html>`))
	if v, err := b.Axe(axe); err != nil || len(v) < 2 {
		t.Fatalf("axe-core on a faulty page: %v %v", v, err)
	}
}
