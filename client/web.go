package client

import (
	"embed"
	"io/fs"
)

//go:embed web
var webFiles embed.FS

// Web is the patient page (web/index.html, htlog.js, app.js, style.css and
// its README.md): a static page that computes a patient's tag in the
// browser, looks it up in the log it is served from and verifies every event
// against a witness policy the patient supplies. htlog-server serves it at
// /patient/.
var Web fs.FS = mustSub(webFiles, "web")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
