package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/net/websocket"
)

// browser is headless Chromium driven over the Chrome DevTools Protocol
// (one page, one session; commands are sent one at a time and events are
// skipped), enough to load a page, wait for it, read its DOM, take
// screenshots and run axe-core in it.
type browser struct {
	t       *testing.T
	ws      *websocket.Conn
	id      int
	session string
}

// startBrowser starts Chromium with the flags this machine needs and a
// fresh profile, and opens a blank page.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--no-default-browser-check", "--disable-extensions", "--hide-scrollbars", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not open its DevTools endpoint within 30s")
	}
	ws, err := websocket.Dial(wsURL, "", "http://localhost/")
	if err != nil {
		t.Fatalf("couldn't connect to chromium's DevTools: %v", err)
	}
	ws.MaxPayloadBytes = 64 << 20
	t.Cleanup(func() { ws.Close() })
	b := &browser{t: t, ws: ws}
	var target struct{ TargetID string }
	b.call("Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	b.call("Page.enable", nil, nil)
	return b
}

// call sends one DevTools command and waits for its answer.
func (b *browser) call(method string, params any, result any) {
	b.t.Helper()
	b.id++
	msg := map[string]any{"id": b.id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	if err := websocket.JSON.Send(b.ws, msg); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	b.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(b.ws, &resp); err != nil {
			b.t.Fatalf("%s: %v", method, err)
		}
		if resp.ID != b.id {
			continue // an event, or an answer to nobody
		}
		if resp.Error != nil {
			b.t.Fatalf("%s: %s", method, resp.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(resp.Result, result); err != nil {
				b.t.Fatalf("%s: %v", method, err)
			}
		}
		return
	}
}

// eval evaluates a JavaScript expression in the page (awaiting a promise)
// and unmarshals its JSON value into out.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("evaluating %.60q: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("evaluating %.60q: %v (%s)", expr, err, r.Result.Value)
		}
	}
}

// viewport sets the page's size (mobile: a phone's touch screen) and the
// browser's time zone.
func (b *browser) viewport(width, height int, mobile bool, tz string) {
	b.t.Helper()
	b.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}, nil)
	b.call("Emulation.setTimezoneOverride", map[string]any{"timezoneId": tz}, nil)
}

// open loads url afresh (from about:blank, so that a link that differs
// only in its fragment loads the page again) and waits until the
// expression ready is true.
func (b *browser) open(url, ready string) {
	b.t.Helper()
	b.call("Page.navigate", map[string]any{"url": "about:blank"}, nil)
	b.call("Page.navigate", map[string]any{"url": url}, nil)
	deadline := time.Now().Add(45 * time.Second)
	for {
		var ok bool
		b.eval("(() => { try { return !!("+ready+"); } catch (e) { return false; } })()", &ok) // the old document may still be there
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var body string
			b.eval("document.body ? document.body.innerText : ''", &body)
			b.t.Fatalf("the page %s was not ready (%s) within 45s:\n%s", url, ready, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot returns a PNG of the whole page and, when HTLOG_SCREENSHOTS
// names a folder, saves it there as name.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	var r struct{ Data string }
	b.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if dir := os.Getenv("HTLOG_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("saved %s", filepath.Join(dir, name))
	}
	return png
}

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// axeSource returns axe-core's axe.min.js ($HTLOG_AXE, else the copy
// `npm install --prefix var/axe axe-core@4` puts in the repository). The
// browser tests only run in CI (HTLOG_INTEGRATION=1), where its absence is
// a failure, not a skip.
func axeSource(t *testing.T) string {
	t.Helper()
	file := os.Getenv("HTLOG_AXE") // as monitor's browser test
	if file == "" {
		file = filepath.Join(testonly.RepoRoot(), "var", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("axe-core is not installed (%v): run `npm install --prefix var/axe axe-core@4` at the repository's root (or set HTLOG_AXE)", err)
	}
	return string(b)
}

// checkAccessibility runs axe-core's WCAG 2.1 A and AA rules (and its best
// practices) on the page and fails on any serious or critical violation.
func (b *browser) checkAccessibility(what, axe string) {
	b.t.Helper()
	var loaded bool
	b.eval(axe+"\n;typeof axe === 'object'", &loaded)
	if !loaded {
		b.t.Fatal("axe-core did not load in the page")
	}
	var res struct {
		Violations []axeViolation `json:"violations"`
		Passes     int            `json:"passes"`
	}
	b.eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
		.then((r) => ({violations: r.violations, passes: r.passes.length}))`, &res)
	var bad []string
	for _, v := range res.Violations {
		line := fmt.Sprintf("%s (%s): %s, at %v", v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, line)
		} else {
			b.t.Logf("axe, %s: minor: %s", what, line)
		}
	}
	b.t.Logf("axe, %s: %d rules passed, %d violations (%d serious or critical)", what, res.Passes, len(res.Violations), len(bad))
	if res.Passes < 10 {
		b.t.Errorf("axe, %s: only %d rules ran and passed: did it check the page?", what, res.Passes)
	}
	if len(bad) > 0 {
		b.t.Errorf("axe, %s: serious or critical accessibility violations:\n%s", what, strings.Join(bad, "\n"))
	}
}
