package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/htlog/htlog/client"
)

// webCSP is the patient page's Content-Security-Policy: its own scripts and
// styles only (no inline script or style, no other origin, no framing, no
// form posts). Fetches may also go to the monitors the patient's bundle
// names, which the server cannot know: any https origin, and http on the
// loopback interface (a local stack). Only this origin's scripts can fetch,
// so the bundle's key can only leave the page through a script served by
// this origin (client/web/README.md explains the reasoning).
const webCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self' https: http://127.0.0.1:* http://localhost:* http://[::1]:*; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// webTypes are the files of client.Web that are served, by extension.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

type webFile struct {
	data  []byte
	ctype string
	etag  string
}

// webHandler serves the patient page (client.Web) under /patient/. Files
// carry a content-hash ETag and Cache-Control: no-cache, so browsers
// revalidate every load and a new release's verification code is never
// shadowed by a cached copy.
func webHandler() http.Handler {
	files := map[string]webFile{}
	err := fs.WalkDir(client.Web, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := webTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		data, err := fs.ReadFile(client.Web, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		files[name] = webFile{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // client.Web is embedded: reading it cannot fail
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/patient/")
		if name == "" {
			name = "index.html"
		}
		h := w.Header()
		h.Set("Content-Security-Policy", webCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		f, ok := files[name]
		if !ok {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("no such file; the patient page is at /patient/\n"))
			return
		}
		h.Set("Content-Type", f.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	})
}
