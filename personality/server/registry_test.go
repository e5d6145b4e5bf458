package server

import (
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/registry"
	"golang.org/x/mod/sumdb/note"
)

// TestRegistry: GET /registry is the registry in force, names and kinds,
// signed by the log's key; a client verifies it with the policy's log key
// and refuses it under another key; without a registry it is 404.
func TestRegistry(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	dir := t.TempDir()
	edPub := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	os.WriteFile(filepath.Join(dir, "k.pub"), []byte(edPub), 0o644)
	yaml := `submitters:
  - org: npi:1245319599
    name: Riverside Clinic
    kinds: [access]
    keys: [{public_key_file: k.pub}]
  - org: npi:1234567893
    name: General Hospital
    kinds: [access, consent]
    keys: [{public_key_file: k.pub}]
`
	file := filepath.Join(dir, "submitters.yaml")
	os.WriteFile(file, []byte(yaml), 0o644)
	reg, err := registry.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	get := func(cfg Config) (int, string, http.Header) {
		rec := httptest.NewRecorder()
		New(cfg).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/registry", nil))
		return rec.Code, rec.Body.String(), rec.Header()
	}
	code, body, h := get(Config{Logger: quiet, Signer: signer, Submitters: func() *registry.Registry { return reg }})
	if code != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET /registry: %d %v\n%s", code, h, body)
	}
	wantText := client.RegistryHeader + "\nexample.test/log\n" +
		`{"submitters":[{"org":"npi:1234567893","name":"General Hospital","kinds":["access","consent"]},` +
		`{"org":"npi:1245319599","name":"Riverside Clinic","kinds":["access"]}]}` + "\n\n"
	if !strings.HasPrefix(body, wantText) {
		t.Errorf("GET /registry:\n%s\nwant the text\n%s", body, wantText)
	}
	policy, err := c2sp.ParsePolicy([]byte("log " + vkey + "\nquorum none\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := client.VerifyRegistry(policy, "example.test/log", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := r.Name("npi:1245319599"); !ok || name != "Riverside Clinic" {
		t.Errorf("Name = %q, %v", name, ok)
	}
	_, otherVKey, _ := note.GenerateKey(rand.Reader, "example.test/log")
	other, _ := c2sp.ParsePolicy([]byte("log " + otherVKey + "\nquorum none\n"))
	if _, err := client.VerifyRegistry(other, "", []byte(body)); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("verified under another log key: %v", err)
	}

	for _, cfg := range []Config{{Logger: quiet, Signer: signer}, {Logger: quiet, Signer: signer, Submitters: func() *registry.Registry { return nil }}} {
		if code, body, _ := get(cfg); code != 404 || !strings.Contains(body, "no submitter registry") {
			t.Errorf("without a registry: %d %s", code, body)
		}
	}
}
