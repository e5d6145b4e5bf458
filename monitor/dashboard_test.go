package monitor_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
)

// TestDashboardTriage: the public dashboard lists findings with organisation
// names, filters them and pages; a regulator signs in on the form and
// triages a finding with the session's CSRF token; a form without it is
// refused.
func TestDashboardTriage(t *testing.T) {
	mod, _ := withSigner(t)
	e := newEnv(t, store.NewMem(), mod)
	logPatientStory(t, e)
	e.appendAccesses(t, 3)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	base := e.server(t)
	code, body := get(t, base+"/")
	for _, want := range []string{`lang="en"`, "General Hospital (npi:1234567893)", "break glass review", "access without consent",
		"Checkpoints heard of", "2026-03-01 12:00 UTC", `<th scope="col">Severity</th>`, "0 entries behind", `<label for="f-rule">`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("dashboard lacks %q: %d\n%s", want, code, body)
		}
	}
	// Filters.
	_, body = get(t, base+"/?rule=break_glass_review&severity=review&state=open&org=npi:1234567893&from=2026-03-01&to=2026-03-01")
	if !strings.Contains(body, "Emergency (break-glass) access") || strings.Contains(body, "No consent was found") {
		t.Fatalf("filtered dashboard:\n%s", body)
	}
	_, body = get(t, base+"/?from=2026-03-02")
	if !strings.Contains(body, "No finding matches.") {
		t.Fatalf("from a later day: %s", body)
	}
	for _, q := range []string{"severity=urgent", "state=done", "from=yesterday", "page=0", "rule=Bad!", "from=2026-03-02&to=2026-03-01"} {
		if code, _ := get(t, base+"/?"+q); code != 400 {
			t.Errorf("?%s: %d", q, code)
		}
	}
	id := regexp.MustCompile(`/finding/([0-9a-f]{64})">Emergency`).FindStringSubmatch(body + mustGet(t, base+"/?rule=break_glass_review"))
	if id == nil {
		t.Fatal("no link to the break-glass finding")
	}
	page := mustGet(t, base+"/finding/"+id[1])
	if !strings.Contains(page, "Sign in as a regulator") || strings.Contains(page, `name="csrf"`) {
		t.Fatalf("anonymous finding page:\n%s", page)
	}
	if code, js := get(t, base+"/finding/"+id[1]+".json"); code != 200 || !strings.Contains(js, `"history": []`) {
		t.Fatalf("finding JSON: %d %s", code, js)
	}

	// Sign in on the form.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if resp, err := c.PostForm(base+"/login", url.Values{"name": {"reg"}, "token": {"wrong-token-0123456789"}}); err != nil || resp.StatusCode != 403 {
		t.Fatalf("a wrong token signed in: %v %v", resp, err)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"name": {"reg"}, "token": {regulatorToken}, "next": {"/finding/" + id[1]}})
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(t, resp)
	csrf := regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`).FindStringSubmatch(page)
	if resp.Request.URL.Path != "/finding/"+id[1] || csrf == nil || !strings.Contains(page, "Signed in as <b>reg</b>") {
		t.Fatalf("after sign-in: %s\n%s", resp.Request.URL, page)
	}
	resp, err = c.PostForm(base+"/findings/"+id[1]+"/state", url.Values{"csrf": {strings.Repeat("0", 64)}, "state": {"acknowledged"}, "note": {"x"}})
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("a wrong CSRF token: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = c.PostForm(base+"/findings/"+id[1]+"/state", url.Values{"csrf": {csrf[1]}, "state": {"acknowledged"}, "note": {"calling the ward"}})
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(t, resp)
	if !strings.Contains(page, `<dd id="state" class="state-acknowledged">acknowledged</dd>`) || !strings.Contains(page, "calling the ward") {
		t.Fatalf("after triage:\n%s", page)
	}
}

func mustGet(t *testing.T, u string) string {
	t.Helper()
	code, body := get(t, u)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", u, code, body)
	}
	return body
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDashboardPages: findings are listed 50 a page, newest first, with
// links to the older and newer pages that keep the filters.
func TestDashboardPages(t *testing.T) {
	e := newEnv(t, store.NewMem())
	for i := range 60 {
		raw, _ := e.sub.Sign(t, "access", t0.Add(time.Duration(i)*time.Minute),
			montest.Access("npi:1234567893", fmt.Sprintf("researcher-%d", i), "p", "HRESCH", ""))
		e.log.Append(raw)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	base := e.server(t)
	rows := regexp.MustCompile(`<tr><td data-label="Severity">`)
	first := mustGet(t, base+"/?rule=access_without_consent")
	if n := len(rows.FindAllString(first, -1)); n != 50 || !strings.Contains(first, "(entry 59)") || strings.Contains(first, "(entry 9)") ||
		!strings.Contains(first, `href="/?page=2&amp;rule=access_without_consent#findings"`) || strings.Contains(first, "Newer findings") {
		t.Fatalf("page 1: %d rows\n%s", n, first)
	}
	second := mustGet(t, base+"/?page=2&rule=access_without_consent")
	if n := len(rows.FindAllString(second, -1)); n != 10 || !strings.Contains(second, "(entry 0)") || strings.Contains(second, "Older findings") ||
		!strings.Contains(second, "Newer findings") {
		t.Fatalf("page 2: %d rows\n%s", n, second)
	}
}
