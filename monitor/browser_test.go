package monitor_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/internal/testonly/cdp"
	"github.com/htlog/htlog/monitor/store"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardInBrowser drives the dashboard of a monitor with findings in
// headless Chromium: filter the findings, open the break-glass finding,
// sign in as a regulator, acknowledge it with a note and see its state
// change; on a desktop and a phone-sized screen, with no serious or
// critical axe-core violation on any page. HTLOG_SCREENSHOTS=dir keeps the
// screenshots there (docs/img for the docs).
func TestDashboardInBrowser(t *testing.T) {
	b := cdp.Launch(t) // first: a test without Chromium or axe-core fails (or skips) before it builds anything
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
	checkAxe := b.CheckAccessibility
	shot := func(name string, width int) {
		t.Helper()
		cdp.CheckScreenshot(t, b.Screenshot(name), width)
	}
	click := func(selector string) { // a click that loads a new page
		t.Helper()
		b.Loads(func() { b.Click(selector) })
	}

	b.SetViewport(1280, 900, false)
	b.Navigate(srv.URL + "/")
	if s := b.Text(); !strings.Contains(s, "General Hospital (npi:1234567893)") || !strings.Contains(s, "break glass review") ||
		!strings.Contains(s, "access without consent") {
		t.Fatalf("dashboard:\n%s", s)
	}
	checkAxe("dashboard")
	shot("dashboard-desktop.png", 1280)

	// Filter: break-glass findings, open.
	b.Select("#f-rule", "break_glass_review")
	b.Select("#f-state", "open")
	click(`form.filters button[type=submit]`)
	var rows []string
	b.Eval(`[...document.querySelectorAll('#findings tbody tr')].map(r => r.innerText)`, &rows)
	if len(rows) != 1 || !strings.Contains(rows[0], "break glass review") || !strings.Contains(rows[0], "open") {
		t.Fatalf("filtered rows: %q", rows)
	}

	// Open the finding, sign in, acknowledge it.
	click(`#findings tbody a`)
	if s := b.Text(); !strings.Contains(s, "Emergency (break-glass) access") || !strings.Contains(s, "No change yet") {
		t.Fatalf("finding page:\n%s", s)
	}
	checkAxe("finding (public)")
	click(`a[href^="/login"]`)
	checkAxe("sign-in")
	b.Type("#l-name", "reg")
	b.Type("#l-token", regulatorToken)
	click(`main form button[type=submit]`)
	if s := b.Text(); !strings.Contains(s, "Signed in as reg") || !strings.Contains(s, "New state") {
		t.Fatalf("after sign-in:\n%s", s)
	}
	checkAxe("finding (regulator)")
	b.Select("#t-state", "acknowledged")
	b.Type("#t-note", "Asked the ward for the emergency record.")
	click(`main form[action$="/state"] button[type=submit]`)
	var state string
	b.Eval(`document.getElementById('state').innerText`, &state)
	if s := b.Text(); state != "acknowledged" || !strings.Contains(s, "Asked the ward for the emergency record.") || !strings.Contains(s, "reg") {
		t.Fatalf("after triage (state %q):\n%s", state, s)
	}
	checkAxe("finding (triaged)")
	shot("dashboard-finding.png", 1280)

	// The dashboard shows the new state; on a phone-sized screen the page
	// does not scroll sideways (tables scroll within their region).
	b.SetViewport(390, 844, true)
	b.Navigate(srv.URL + "/?state=acknowledged")
	if s := b.Text(); !strings.Contains(s, "acknowledged") || !strings.Contains(s, "Emergency (break-glass) access") {
		t.Fatalf("acknowledged findings:\n%s", s)
	}
	var overflow bool
	b.Eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow)
	if overflow {
		t.Error("the dashboard scrolls sideways on a 390 px wide screen")
	}
	checkAxe("dashboard (phone)")
	b.Navigate(srv.URL + "/")
	shot("dashboard-phone.png", 390)

	// The check is not vacuous: a page with an unlabelled field and text
	// of too little contrast fails it.
	b.Navigate(`data:text/html,<!doctype html><html><body><input type=text><p style="color:%23ddd">faint</p></body></html>`)
	if r := b.Axe(); r.Passes == 0 || len(r.Serious) < 2 {
		t.Fatalf("axe-core on a faulty page: %+v", r)
	}
}
