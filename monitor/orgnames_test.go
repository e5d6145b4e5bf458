package monitor_test

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/monitor/store"
	"golang.org/x/mod/sumdb/note"
)

// TestOrgNamesFromRegistryNote: the dashboard names organisations by the
// log's registry note once it verifies with the log's key, and ignores one
// signed by another key.
func TestOrgNamesFromRegistryNote(t *testing.T) {
	e := newEnv(t, store.NewMem())
	logPatientStory(t, e)
	text, err := client.RegistryText(origin, []client.RegistrySubmitter{{Org: "npi:1234567893", Name: "Mercy Clinic", Kinds: []string{"access"}}})
	if err != nil {
		t.Fatal(err)
	}
	var signer atomic.Value
	signer.Store(e.log.Signer)
	target, _ := url.Parse(e.log.URL(t))
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/registry" {
			signed, _ := note.Sign(&note.Note{Text: string(text)}, signer.Load().(note.Signer))
			w.Write(signed)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	e.cfg.LogURL = srv.URL
	e.restart(t)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	base := e.server(t)
	if page := mustGet(t, base+"/"); strings.Contains(page, "Mercy Clinic") {
		t.Fatal("a name shown before the registry was read")
	}
	// Signed by another key: refused, no name.
	skey, _, _ := note.GenerateKey(rand.Reader, origin)
	other, _ := note.NewSigner(skey)
	signer.Store(other)
	if err := e.mon.RefreshRegistry(e.ctx); err == nil {
		t.Fatal("a registry signed by another key verified")
	}
	if page := mustGet(t, base+"/"); strings.Contains(page, "Mercy Clinic") {
		t.Fatal("a name from an unverified registry")
	}
	signer.Store(e.log.Signer)
	if err := e.mon.RefreshRegistry(e.ctx); err != nil {
		t.Fatal(err)
	}
	if page := mustGet(t, base+"/"); !strings.Contains(page, "Mercy Clinic (npi:1234567893)") {
		t.Fatalf("no name from the verified registry:\n%s", page)
	}
}
