// Package cdp drives a headless Chromium for browser tests through the
// Chrome DevTools Protocol over a pipe (--remote-debugging-pipe: JSON
// messages ended by a NUL byte on file descriptors 3 and 4), with the
// standard library alone: open a page, wait for loads, evaluate script,
// set the viewport, take screenshots and run axe-core.
package cdp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Browser is one headless Chromium with one page. Its methods are safe for
// use by one goroutine at a time.
type Browser struct {
	cmd     *exec.Cmd
	w       io.WriteCloser
	mu      sync.Mutex
	next    int
	pending map[int]chan message
	loads   chan struct{}
	session string
	// Timeout bounds each wait (default 30s).
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

// Start starts bin (a Chromium) headless with a fresh profile in dir and
// opens a blank page. Close stops it.
func Start(ctx context.Context, bin, dir string) (*Browser, error) {
	toChrome, ourW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ourR, fromChrome, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--hide-scrollbars", "--user-data-dir="+dir, "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, fromChrome}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("couldn't start %s: %w", bin, err)
	}
	toChrome.Close()
	fromChrome.Close()
	b := &Browser{cmd: cmd, w: ourW, pending: map[int]chan message{}, loads: make(chan struct{}, 64), Timeout: 30 * time.Second}
	go b.read(ourR)
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		b.Close()
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		b.Close()
		return nil, err
	}
	b.session = attached.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable"} {
		if err := b.Call(m, nil, nil); err != nil {
			b.Close()
			return nil, err
		}
	}
	if err := b.Call("Page.setBypassCSP", map[string]any{"enabled": true}, nil); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
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
		if m.Method == "Page.loadEventFired" && m.SessionID == b.session {
			select {
			case b.loads <- struct{}{}:
			default:
			}
		}
	}
}

func (b *Browser) call(session, method string, params, result any) error {
	b.mu.Lock()
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
	raw, _ := json.Marshal(msg)
	if _, err := b.w.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-c:
		if !ok {
			return fmt.Errorf("%s: the browser exited", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-time.After(b.Timeout):
		return fmt.Errorf("%s: no answer within %v", method, b.Timeout)
	}
}

// Call sends a command to the page and decodes its result into result
// (nil: ignored).
func (b *Browser) Call(method string, params, result any) error {
	return b.call(b.session, method, params, result)
}

// Loads runs action, which makes the page load a new document (a
// navigation, a click on a link, a form's submission), and waits until it
// has loaded.
func (b *Browser) Loads(action func() error) error {
	for len(b.loads) > 0 {
		<-b.loads
	}
	if err := action(); err != nil {
		return err
	}
	select {
	case <-b.loads:
		return nil
	case <-time.After(b.Timeout):
		return errors.New("the page did not load")
	}
}

// Navigate loads url and waits for it.
func (b *Browser) Navigate(url string) error {
	return b.Loads(func() error {
		var r struct {
			ErrorText string `json:"errorText"`
		}
		if err := b.Call("Page.navigate", map[string]any{"url": url}, &r); err != nil {
			return err
		}
		if r.ErrorText != "" {
			return fmt.Errorf("navigate %s: %s", url, r.ErrorText)
		}
		return nil
	})
}

// Eval evaluates a JavaScript expression in the page (awaiting a promise)
// and decodes its value into result (nil: ignored).
func (b *Browser) Eval(expr string, result any) error {
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
	if err := b.Call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("script failed: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if result != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, result)
	}
	return nil
}

// SetViewport sets the page's size in CSS pixels; mobile emulates a phone.
func (b *Browser) SetViewport(width, height int, mobile bool) error {
	return b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height,
		"deviceScaleFactor": 1, "mobile": mobile}, nil)
}

// Screenshot returns a PNG of the whole page.
func (b *Browser) Screenshot() ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// Axe runs axe-core (the source of axe.min.js) on the page and returns its
// violations of impact serious or critical, one line each.
func (b *Browser) Axe(axeSource string) ([]string, error) {
	if err := b.Eval(axeSource+"\n;true", nil); err != nil {
		return nil, fmt.Errorf("couldn't load axe-core: %w", err)
	}
	var out struct {
		Passes     int      `json:"passes"`
		Violations []string `json:"violations"`
	}
	err := b.Eval(`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}}).then(r => ({
		passes: r.passes.length,
		violations: r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v =>
			v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))}))`, &out)
	if err == nil && out.Passes == 0 {
		err = errors.New("axe-core checked nothing on the page")
	}
	return out.Violations, err
}

// Close stops the browser.
func (b *Browser) Close() {
	b.w.Close()
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
}
