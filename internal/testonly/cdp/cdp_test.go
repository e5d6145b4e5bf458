package cdp

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// TestBrowser fills and submits a form (type, select, click) in a real
// Chromium, reads the page the server answers, waits for script, and
// checks that the browser's processes are gone once the test that
// launched it has ended.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/got" {
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>got</title><main><p id="got">%s %s</p></main></html>`,
				html.EscapeString(r.FormValue("name")), html.EscapeString(r.FormValue("colour")))
			return
		}
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>form</title><main><form action="/got">
<label for="name">Name</label><input id="name" name="name" value="old">
<label for="colour">Colour</label><select id="colour" name="colour"><option value="red">red</option><option value="blue">blue</option></select>
<button type="submit">Send</button></form><p id="later"></p>
<script>setTimeout(() => { document.getElementById("later").textContent = "ready" }, 300)</script></main></html>`)
	}))
	defer srv.Close()
	var pid int
	t.Run("browse", func(t *testing.T) {
		b := Launch(t)
		pid = b.cmd.Process.Pid
		b.SetViewport(800, 600, false)
		b.Open(srv.URL+"/", `document.getElementById("later").textContent === "ready"`)
		b.Type("#name", "Zoë <b>")
		b.Select("#colour", "blue")
		b.Loads(func() { b.Click("button[type=submit]") })
		if got := b.Text(); !strings.Contains(got, "Zoë <b> blue") {
			t.Errorf("after submitting the form the page reads %q", got)
		}
		if img := b.Screenshot("cdp-test.png"); !strings.HasPrefix(string(img), "\x89PNG\r\n") {
			t.Errorf("the screenshot is no PNG: %.20q", img)
		}
	})
	if pid == 0 {
		t.Fatal("the browser did not start")
	}
	deadline := time.Now().Add(10 * time.Second)
	for testonly.ProcessAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("chromium (%d) outlived the test that launched it", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
