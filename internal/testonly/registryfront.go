package testonly

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/htlog/htlog/client"
	"golang.org/x/mod/sumdb/note"
)

// RegistryFront serves GET /registry for the fake log l, as htlog-server
// does (the submitters' names and kinds, signed by the log's key), and
// passes every other request to l. It returns the front's base URL.
func RegistryFront(t testing.TB, l *FakeLog, subs []client.RegistrySubmitter) string {
	t.Helper()
	text, err := client.RegistryText(l.Origin, subs)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, l.Signer)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(l.URL(t))
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/registry" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(signed)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
