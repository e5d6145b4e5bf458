package registry_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
)

func pubPEM(t *testing.T) (string, string) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	id, _ := event.KeyID(pub)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), id
}

func indent(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n          ") }

func TestLookup(t *testing.T) {
	oldKey, oldID := pubPEM(t)
	newKey, newID := pubPEM(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "new.pub"), []byte(newKey), 0o644); err != nil {
		t.Fatal(err)
	}
	yml := `submitters:
  - org: npi:1234567893
    name: General Hospital
    kinds: [access, consent]
    keys:
      - public_key: |
          ` + indent(oldKey) + `
        not_after: 2026-06-01T00:00:00Z
      - public_key_file: new.pub
        not_before: 2026-05-01T00:00:00Z
`
	path := filepath.Join(dir, "submitters.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := registry.NewWatcher(path)
	if err != nil {
		t.Fatal(err)
	}
	r := w.Current()
	may := time.Date(2026, 5, 15, 0, 0, 0, 0, time.UTC)
	july := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		org, id, kind string
		at            time.Time
		want          error
	}{
		{"npi:1234567893", oldID, "access", may, nil},
		{"npi:1234567893", newID, "consent", may, nil},
		{"npi:1234567893", oldID, "access", july, registry.ErrKeyNotValid},
		{"npi:1234567893", newID, "access", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), registry.ErrKeyNotValid},
		{"npi:1234567893", newID, "custody", may, registry.ErrKindNotAllowed},
		{"npi:1999999992", newID, "access", may, registry.ErrUnknownSubmitter},
		{"npi:1234567893", strings.Repeat("0", 64), "access", may, registry.ErrUnknownSubmitter},
	} {
		_, err := r.Lookup(tc.org, tc.id, tc.kind, tc.at)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("Lookup(%s, %s…, %s, %v) = %v, want %v", tc.org, tc.id[:8], tc.kind, tc.at, err, tc.want)
		}
	}
	// A broken edit is refused and the old registry stays in force.
	os.WriteFile(path, []byte("submitters: [{org: x}]\n"), 0o644)
	if err := w.Reload(); err == nil {
		t.Fatal("reload of a broken registry succeeded")
	}
	if w.Current() != r {
		t.Fatal("a broken reload replaced the registry")
	}
	// A good edit takes effect without a restart.
	os.WriteFile(path, []byte(strings.Replace(yml, "npi:1234567893", "npi:1111111112", 1)), 0o644)
	os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Current().Lookup("npi:1111111112", newID, "access", may); err != nil {
		t.Fatalf("after reload: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	key, _ := pubPEM(t)
	k := "\n    keys: [{public_key: \"" + strings.ReplaceAll(key, "\n", `\n`) + "\"}]"
	for name, yml := range map[string]string{
		"unknown field": "submitters: [{org: a:b, kinds: [access], colour: red}]",
		"no org":        "submitters:\n  - kinds: [access]" + k,
		"no kinds":      "submitters:\n  - org: npi:1" + k,
		"bad kind":      "submitters:\n  - org: npi:1\n    kinds: [billing]" + k,
		"no keys":       "submitters: [{org: npi:1, kinds: [access]}]",
		"bad key":       "submitters: [{org: npi:1, kinds: [access], keys: [{public_key: nope}]}]",
		"duplicate org": "submitters:\n  - org: npi:1\n    kinds: [access]" + k + "\n  - org: npi:1\n    kinds: [access]" + k,
	} {
		if _, err := registry.Parse([]byte(yml), "."); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
