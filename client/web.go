package client

import (
	"embed"
	"io/fs"
)

//go:embed web
var webFiles embed.FS

// Web is the patient page (web/index.html, htlog.js, app.js, style.css and
// its README.md): a static page that opens the patient's bundle, computes
// the patient's tag in the browser, looks it up in the log it is served
// from, verifies every event against the bundle's witness policy, and tells
// each in plain language with the verified verdicts of the bundle's
// monitors. htlog-server serves it at /patient/.
var Web fs.FS = mustSub(webFiles, "web")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
