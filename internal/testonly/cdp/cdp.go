// Package cdp drives headless Chromium in browser tests through the Chrome
// DevTools Protocol over a pipe (--remote-debugging-pipe: JSON messages
// ended by a NUL byte on file descriptors 3 and 4), with the standard
// library alone: open a page and wait for it, evaluate script, click and
// type, set the viewport and time zone, take screenshots and run axe-core.
//
// Launch needs Debian's chromium (/usr/bin/chromium) and axe-core
// ($HTLOG_AXE, else var/axe/node_modules/axe-core/axe.min.js, which `npm
// install --prefix var/axe axe-core@4` puts in the repository). Without
// them a test fails under HTLOG_INTEGRATION=1 (CI provides both) and is
// skipped otherwise, naming what is missing. The browser is started with
// testonly.StartChild, so it dies with the test however the test ends.
//
// A Browser's methods fail the test (t.Fatal) when the browser does not
// answer, and are for the test's goroutine only.
package cdp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// Browser is one headless Chromium with one page.
type Browser struct {
	t   testing.TB
	axe string
	cmd *exec.Cmd
	w   io.WriteCloser
	r   io.Closer

	mu      sync.Mutex
	next    int
	pending map[int]chan message
	loads   chan struct{}
	session string

	// Timeout bounds each command and each wait (default 60s).
	Timeout time.Duration
}

type message struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// flags are the command-line flags Chromium needs on this machine (no
// sandbox and no /dev/shm in a container, no GPU) and in a test (a fresh
// profile, no background traffic, no first-run pages).
var flags = []string{"--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
	"--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars"}

// Chromium returns the path of Chromium's binary (Debian's
// /usr/bin/chromium, else chromium or chromium-browser in PATH).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
	}
	testonly.Missing(t, "no Chromium (/usr/bin/chromium, chromium or chromium-browser in PATH): "+
		"install Debian's package, `apt-get install --no-install-recommends chromium` (.ci/run does)")
	return ""
}

// AxeSource returns axe-core's axe.min.js: $HTLOG_AXE, else the copy in
// var/axe at the repository's root.
func AxeSource(t testing.TB) string {
	t.Helper()
	file := os.Getenv("HTLOG_AXE")
	if file == "" {
		file = filepath.Join(testonly.RepoRoot(), "var", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		testonly.Missing(t, fmt.Sprintf("no axe-core (%v): run `npm install --prefix var/axe axe-core@4` at the repository's root (or set HTLOG_AXE)", err))
	}
	return string(b)
}

// Launch starts headless Chromium with a fresh profile and opens a blank
// page; the test's cleanup stops it. It first reads axe-core, so that a
// test fails (or skips) before it starts anything when either is missing.
func Launch(t testing.TB) *Browser {
	t.Helper()
	bin := Chromium(t)
	axe := AxeSource(t)
	dir := t.TempDir()
	toChrome, ourW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ourR, fromChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(flags, "--user-data-dir="+filepath.Join(dir, "profile"), "about:blank")...)
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := testonly.StartChild(t, cmd); err != nil { // dies with the test, even a killed one
		t.Fatalf("couldn't start %s: %v", bin, err)
	}
	toChrome.Close()
	fromChrome.Close()
	logFile.Close()
	b := &Browser{t: t, axe: axe, cmd: cmd, w: ourW, r: ourR, pending: map[int]chan message{},
		loads: make(chan struct{}, 64), Timeout: 60 * time.Second}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		b.close(exited)
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			if len(out) > 2000 {
				out = out[len(out)-2000:]
			}
			t.Logf("chromium's output (%s), last lines:\n%s", logPath, out)
		}
	})
	go b.read(ourR)
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.mu.Lock()
	b.session = attached.SessionID
	b.mu.Unlock()
	b.Call("Page.enable", nil, nil)
	return b
}

// close asks the browser to quit (by closing its pipe) and kills its
// process group if it has not within 5s.
func (b *Browser) close(exited chan struct{}) {
	b.w.Close()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		testonly.KillGroup(b.cmd)
		<-exited
	}
	b.r.Close()
}

func (b *Browser) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, c := range b.pending {
				close(c)
				delete(b.pending, id)
			}
			b.pending = nil // no command waits for an answer any more
			b.mu.Unlock()
			return
		}
		var m message
		if json.Unmarshal(bytes.TrimSuffix(raw, []byte{0}), &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			c := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if c != nil {
				c <- m
			}
			continue
		}
		if m.Method != "Page.loadEventFired" {
			continue
		}
		b.mu.Lock()
		ours := m.SessionID == b.session
		b.mu.Unlock()
		if ours {
			select {
			case b.loads <- struct{}{}:
			default:
			}
		}
	}
}

// call sends one command (to the browser with session "", else to the
// page) and decodes its result into result (nil: ignored).
func (b *Browser) call(session, method string, params, result any) {
	b.t.Helper()
	b.mu.Lock()
	if b.pending == nil {
		b.mu.Unlock()
		b.t.Fatalf("%s: the browser exited", method)
	}
	b.next++
	id := b.next
	c := make(chan message, 1)
	b.pending[id] = c
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	select {
	case m, ok := <-c:
		if !ok {
			b.t.Fatalf("%s: the browser exited", method)
		}
		if m.Error != nil {
			b.t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				b.t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(b.Timeout):
		b.t.Fatalf("%s: no answer within %v", method, b.Timeout)
	}
}

// Call sends a DevTools command to the page and decodes its result into
// result (nil: ignored).
func (b *Browser) Call(method string, params, result any) {
	b.t.Helper()
	b.mu.Lock()
	session := b.session
	b.mu.Unlock()
	b.call(session, method, params, result)
}

// Loads runs action, which makes the page load a new document (a
// navigation, a click on a link, a form's submission), and waits until
// the new document has loaded.
func (b *Browser) Loads(action func()) {
	b.t.Helper()
	for len(b.loads) > 0 {
		<-b.loads
	}
	action()
	select {
	case <-b.loads:
	case <-time.After(b.Timeout):
		b.t.Fatalf("the page did not load within %v", b.Timeout)
	}
}

// Navigate loads url and waits until it has loaded.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Loads(func() {
		var r struct {
			ErrorText string `json:"errorText"`
		}
		b.Call("Page.navigate", map[string]any{"url": url}, &r)
		if r.ErrorText != "" {
			b.t.Fatalf("navigate %.80s: %s", url, r.ErrorText)
		}
	})
}

// Open loads url afresh (from about:blank, so that a link that differs
// only in its fragment loads the page again) and waits until the
// expression ready is true, as a page that builds itself from script is
// ready some time after it has loaded.
func (b *Browser) Open(url, ready string) {
	b.t.Helper()
	b.Navigate("about:blank")
	b.Navigate(url)
	b.WaitFor(ready)
}

// WaitFor waits until the expression cond is true (an expression that
// throws counts as false), and fails the test with the page's text if it
// is not within the timeout.
func (b *Browser) WaitFor(cond string) {
	b.t.Helper()
	deadline := time.Now().Add(b.Timeout)
	for {
		var ok bool
		b.Eval("(() => { try { return !!("+cond+"); } catch (e) { return false; } })()", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page was not ready (%s) within %v:\n%s", cond, b.Timeout, b.Text())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into out (nil: ignored). An exception fails the
// test.
func (b *Browser) Eval(expr string, out any) {
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
	b.Call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("evaluating %.60q: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("evaluating %.60q: %v (%s)", expr, err, r.Result.Value)
		}
	}
}

// Text returns the page's visible text (its body's innerText).
func (b *Browser) Text() string {
	b.t.Helper()
	var s string
	b.Eval(`document.body ? document.body.innerText : ""`, &s)
	return s
}

// element returns a script that runs body with el, the element selector
// finds, and fails if there is none.
func element(selector, body string) string {
	sel, _ := json.Marshal(selector)
	return fmt.Sprintf(`(() => { const s = %s; const el = document.querySelector(s); if (!el) throw new Error("no element " + s); %s; return true })()`, sel, body)
}

// Click clicks the element selector finds. Wrap it in Loads when the click
// loads a new document.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.Eval(element(selector, "el.click()"), nil)
}

// Type empties the text field selector finds, focuses it and types text
// into it, as a keyboard would (input events included).
func (b *Browser) Type(selector, text string) {
	b.t.Helper()
	b.Eval(element(selector, `el.focus(); el.value = ""`), nil)
	b.Call("Input.insertText", map[string]any{"text": text}, nil)
	sel, _ := json.Marshal(selector)
	var got string
	b.Eval(fmt.Sprintf(`document.querySelector(%s).value`, sel), &got)
	if got != text {
		b.t.Fatalf("typed %q into %s, which holds %q", text, selector, got)
	}
}

// Select chooses the option of value value in the select element selector
// finds (firing its change event); an option that is not there fails.
func (b *Browser) Select(selector, value string) {
	b.t.Helper()
	v, _ := json.Marshal(value)
	b.Eval(element(selector, fmt.Sprintf(`const v = %s; if (![...el.options].some((o) => o.value === v)) throw new Error("no option " + v + " in " + s);
		el.value = v; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}))`, v)), nil)
}

// SetViewport sets the page's size in CSS pixels; mobile emulates a
// phone's screen.
func (b *Browser) SetViewport(width, height int, mobile bool) {
	b.t.Helper()
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height,
		"deviceScaleFactor": 1, "mobile": mobile}, nil)
}

// SetTimezone sets the browser's time zone (an IANA name).
func (b *Browser) SetTimezone(tz string) {
	b.t.Helper()
	b.Call("Emulation.setTimezoneOverride", map[string]any{"timezoneId": tz}, nil)
}

// Screenshot returns a PNG of the whole page and, when $HTLOG_SCREENSHOTS
// names a folder (docs/img for the docs), saves it there as name.
func (b *Browser) Screenshot(name string) []byte {
	b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	img, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if dir := os.Getenv("HTLOG_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("saved %s", filepath.Join(dir, name))
	}
	return img
}

// CheckScreenshot checks img is a PNG of the given width, at least 400
// pixels high (a full page), that is not blank.
func CheckScreenshot(t testing.TB, img []byte, width int) {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	r := m.Bounds()
	if r.Dx() != width || r.Dy() < 400 {
		t.Errorf("screenshot is %dx%d, want %d wide and a full page", r.Dx(), r.Dy(), width)
	}
	colours := map[uint32]bool{}
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			cr, cg, cb, _ := m.At(x, y).RGBA()
			colours[cr>>8<<16|cg>>8<<8|cb>>8] = true
		}
	}
	if len(colours) < 32 {
		t.Errorf("the screenshot looks blank: %d colours", len(colours))
	}
}

// AxeResult is what axe-core found on a page, one line per violated rule
// ("impact id: help at targets").
type AxeResult struct {
	// Passes is the number of rules that ran and passed.
	Passes int
	// Serious are the violations of impact serious or critical.
	Serious []string
	// Minor are the other violations.
	Minor []string
}

// Axe runs axe-core's WCAG 2.1 A and AA rules and its best practices on
// the page.
func (b *Browser) Axe() AxeResult {
	b.t.Helper()
	var loaded bool
	b.Eval(b.axe+"\n;typeof axe === 'object'", &loaded)
	if !loaded {
		b.t.Fatal("axe-core did not load in the page")
	}
	var out struct {
		Passes     int `json:"passes"`
		Violations []struct {
			Impact string `json:"impact"`
			Line   string `json:"line"`
		} `json:"violations"`
	}
	b.Eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).then((r) => ({
		passes: r.passes.length,
		violations: r.violations.map((v) => ({impact: v.impact || "",
			line: (v.impact || "no impact") + " " + v.id + ": " + v.help + " at " + v.nodes.map((n) => n.target.join(" ")).join(", ")}))}))`, &out)
	res := AxeResult{Passes: out.Passes}
	for _, v := range out.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			res.Serious = append(res.Serious, v.Line)
		} else {
			res.Minor = append(res.Minor, v.Line)
		}
	}
	return res
}

// CheckAccessibility runs Axe on the page (what names it in messages) and
// fails the test on any serious or critical violation, or when fewer than
// 10 rules ran and passed (axe-core did not check the page). Minor
// violations are logged.
func (b *Browser) CheckAccessibility(what string) {
	b.t.Helper()
	r := b.Axe()
	for _, m := range r.Minor {
		b.t.Logf("axe, %s: minor: %s", what, m)
	}
	b.t.Logf("axe, %s: %d rules passed, %d violations (%d serious or critical)", what, r.Passes, len(r.Serious)+len(r.Minor), len(r.Serious))
	if r.Passes < 10 {
		b.t.Errorf("axe, %s: only %d rules ran and passed: did it check the page?", what, r.Passes)
	}
	if len(r.Serious) > 0 {
		b.t.Errorf("axe, %s: serious or critical accessibility violations:\n%s", what, strings.Join(r.Serious, "\n"))
	}
}
