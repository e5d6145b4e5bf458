package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

// chromium returns Debian's chromium binary, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary (/usr/bin/chromium, chromium or chromium-browser in PATH): " +
		"install Debian's package, `apt-get install --no-install-recommends chromium` (.ci/run does)")
	return ""
}

// runChromium runs headless Chromium with args plus the page URL and
// returns its standard output.
func runChromium(t *testing.T, bin, pageURL string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append([]string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(args, pageURL)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestPatientPageInBrowser serves the patient page from the real
// htlog-server, logs a consent and an access event for a patient, and has
// headless Chromium look them up with the patient's key and the witness
// policy (passed in the URL fragment, which never reaches the server): both
// rows must be verified in the browser, the screenshot must show them, and
// with a policy naming another log key both rows must be marked not verified.
func TestPatientPageInBrowser(t *testing.T) {
	testonly.RequireIntegration(t)
	bin := chromium(t)
	s := testonly.StartStack(t)

	key := bytes.Repeat([]byte{0x42}, 32)
	patient := event.PatientTag(key, s.Org)
	consentAt, accessAt, otherAt := testonly.Minute(-3*time.Hour), testonly.Minute(-90*time.Minute), testonly.Minute(-time.Hour)
	withPatient := func(kind, name string, fields ...string) []byte {
		var m map[string]any
		if err := json.Unmarshal(testonly.Example(t, kind, name), &m); err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			m[f] = patient
		}
		b, _ := json.Marshal(m)
		return b
	}
	for _, env := range [][]byte{
		s.Envelope(t, "consent", withPatient("consent", "valid-treatment-grant.json", "patient", "grantor"), consentAt),
		s.Envelope(t, "access", withPatient("access", "valid-routine-read.json", "patient"), accessAt),
		// Another patient's event, which must not show up.
		s.Envelope(t, "access", testonly.Example(t, "access", "valid-break-glass.json"), otherAt),
	} {
		if code, body, _ := post(t, s, "/add-event", env); code != http.StatusOK {
			t.Fatalf("add-event: %d %s", code, body)
		}
	}

	checkHeaders(t, s.URL)

	policy, err := os.ReadFile(s.PolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	pageURL := func(policy []byte) string {
		return s.URL + "/patient/#" + url.Values{"key": {hex.EncodeToString(key)}, "id": {s.Org},
			"policy": {base64.StdEncoding.EncodeToString(policy)}}.Encode()
	}

	dom := string(runChromium(t, bin, pageURL(policy), "--dump-dom"))
	rows := tableRows(t, dom)
	if len(rows) != 2 {
		t.Fatalf("the page shows %d rows, want 2\n%s", len(rows), dom)
	}
	for i, want := range []struct{ when, kind, purpose string }{
		{consentAt, "consent", "patient-privacy (TREAT, CAREMGT, HRESCH)"},
		{accessAt, "access", "TREAT"},
	} {
		r := rows[i]
		if r.class != "verified" || len(r.cells) != 6 || r.cells[0] != want.when || r.cells[1] != want.kind ||
			r.cells[2] != s.Org || r.cells[3] != want.purpose || !strings.HasPrefix(r.cells[5], "✓ verified: included in "+s.Origin) {
			t.Errorf("row %d: %s %q, want verified %v", i, r.class, r.cells, want)
		}
	}
	for _, want := range []string{"2 events, 2 verified.", "✓ The log's latest checkpoint (" + s.Origin} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page does not say %q\n%s", want, dom)
		}
	}
	if strings.Contains(dom, hex.EncodeToString(key)) {
		t.Error("the page still shows the key in its DOM")
	}

	// The screenshot: a real rendering of the page with green verified marks.
	shot := filepath.Join(t.TempDir(), "page.png")
	runChromium(t, bin, pageURL(policy), "--screenshot="+shot, "--window-size=1200,900")
	checkScreenshot(t, shot, color.RGBA{0xe4, 0xf4, 0xe4, 0xff})

	// A policy trusting another key for the same log: nothing verifies.
	_, otherVKey, err := note.GenerateKey(rand.Reader, s.Origin)
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Replace(policy, []byte(s.LogVKey), []byte(otherVKey), 1)
	dom = string(runChromium(t, bin, pageURL(wrong), "--dump-dom"))
	rows = tableRows(t, dom)
	if len(rows) != 2 {
		t.Fatalf("with the wrong policy the page shows %d rows, want 2\n%s", len(rows), dom)
	}
	for i, r := range rows {
		if r.class != "not-verified" || !strings.Contains(r.cells[5], "NOT verified: the checkpoint carries no valid signature") {
			t.Errorf("wrong policy, row %d: %s %q, want not verified", i, r.class, r.cells)
		}
	}
	for _, want := range []string{"2 events, 0 verified, 2 NOT verified.", "✗ The log's latest checkpoint does not verify"} {
		if !strings.Contains(dom, want) {
			t.Errorf("with the wrong policy the page does not say %q\n%s", want, dom)
		}
	}
	shot = filepath.Join(t.TempDir(), "wrong.png")
	runChromium(t, bin, pageURL(wrong), "--screenshot="+shot, "--window-size=1200,900")
	checkScreenshot(t, shot, color.RGBA{0xfb, 0xe3, 0xe3, 0xff})
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
			!strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "default-src 'none'") ||
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

type row struct {
	class string
	cells []string
}

// tableRows extracts the result rows the page rendered.
func tableRows(t *testing.T, dom string) []row {
	t.Helper()
	_, tbody, ok := strings.Cut(dom, "<tbody>")
	if !ok {
		t.Fatalf("no result table in the page\n%s", dom)
	}
	tbody, _, _ = strings.Cut(tbody, "</tbody>")
	var rows []row
	trRE := regexp.MustCompile(`<tr class="([^"]*)"[^>]*>(.*?)</tr>`)
	tdRE := regexp.MustCompile(`<td[^>]*>(.*?)</td>`)
	for _, tr := range trRE.FindAllStringSubmatch(tbody, -1) {
		r := row{class: tr[1]}
		for _, td := range tdRE.FindAllStringSubmatch(tr[2], -1) {
			r.cells = append(r.cells, strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'").Replace(td[1]))
		}
		rows = append(rows, r)
	}
	return rows
}

// checkScreenshot checks the file is a 1200x900 PNG of a rendered page (not
// blank) showing enough pixels of mark, the background of the check cells.
func checkScreenshot(t *testing.T, file string, mark color.RGBA) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if ct := http.DetectContentType(b); ct != "image/png" {
		t.Fatalf("screenshot is %s, not image/png", ct)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, 1200, 900) {
		t.Fatalf("screenshot is %v, want 1200x900", got)
	}
	colours := map[color.RGBA]bool{}
	ink, marked := 0, 0
	near := func(a, b uint8) bool { return a-b < 3 || b-a < 3 }
	for y := 0; y < 900; y++ {
		for x := 0; x < 1200; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colours[c] = true
			if c.R < 0xf0 || c.G < 0xf0 || c.B < 0xf0 {
				ink++
			}
			if near(c.R, mark.R) && near(c.G, mark.G) && near(c.B, mark.B) {
				marked++
			}
		}
	}
	t.Logf("%s: %d colours, %d non-background pixels, %d pixels of the check mark colour", filepath.Base(file), len(colours), ink, marked)
	if len(colours) < 32 || ink < 1200*900/100 {
		t.Errorf("the screenshot looks blank: %d colours, %d non-background pixels", len(colours), ink)
	}
	if marked < 2000 {
		t.Errorf("the screenshot shows %d pixels of the check cells' colour %v, want the two marked rows", marked, mark)
	}
}
