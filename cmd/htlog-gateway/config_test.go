package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"golang.org/x/mod/sumdb/note"
)

// validConfig writes the files a configuration needs and returns it.
func validConfig(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, vkey := mustLogKey(t)
	c := defaults()
	c.Listen = "127.0.0.1:0" // the default port may be taken (by `make up`)
	c.Log = "http://127.0.0.1:8080"
	c.Org = "npi:1234567893"
	c.KeyFile = write("hospital.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	c.WorkforceKeyFile = write("workforce.key", strings.Repeat("ab", 32)+"\n")
	c.PolicyFile = write("policy.txt", "log "+vkey+" http://127.0.0.1:8080\nquorum none\n")
	c.TokenFile = write("token", "0123456789abcdef0123\n")
	c.SourceSystems = []string{"ed-triage-01"}
	c.GS1CompanyPrefixes = []string{"0614141"}
	return c
}

func TestConfig(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Without the log's registry, the pre-check uses the submitter's own
	// entry: its key, its source systems and locations.
	reg, err := ownRegistry(c)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := event.KeyID(c.key.Public())
	if _, err := reg.Lookup(c.Org, id, "access", time.Now()); err != nil {
		t.Errorf("the own registry does not know the key: %v", err)
	}
	sub, _ := reg.Submitter(c.Org)
	if !sub.HasSourceSystem("ehr-fhir") || !sub.HasSourceSystem("ed-triage-01") || !sub.OwnsLocation("urn:epc:id:sgln:0614141.00001.0") {
		t.Errorf("own registry entry %+v", sub)
	}
	for name, mutate := range map[string]func(*Config){
		"bad org":          func(c *Config) { c.Org = "npi:1234567890" },
		"no log":           func(c *Config) { c.Log = "" },
		"short token":      func(c *Config) { os.WriteFile(c.TokenFile, []byte("short"), 0o600) },
		"bad default role": func(c *Config) { c.DefaultAgentRole = "http://example.com|chief" },
		"bad purpose":      func(c *Config) { c.DefaultPurposeOfUse = "SHOPPING" },
		"no workforce key": func(c *Config) { c.WorkforceKeyFile = "/nonexistent" },
		"schema version 1": func(c *Config) { c.AccessVersion = 1 },
		"no key":           func(c *Config) { c.KeyFile = "" },
		"key_file and pkcs11": func(c *Config) {
			c.PKCS11 = PKCS11{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", KeyLabel: "k", PinFile: c.TokenFile}
		},
		"pkcs11 without a key label": func(c *Config) {
			c.KeyFile, c.PKCS11 = "", PKCS11{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", PinFile: c.TokenFile}
		},
		"pkcs11 pin readable by others": func(c *Config) {
			os.Chmod(c.TokenFile, 0o644)
			c.KeyFile, c.PKCS11 = "", PKCS11{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", KeyLabel: "k", PinFile: c.TokenFile}
		},
		"pkcs11 module missing": func(c *Config) {
			c.KeyFile, c.PKCS11 = "", PKCS11{Module: "/nonexistent/libpkcs11.so", TokenLabel: "t", KeyLabel: "k", PinFile: c.TokenFile}
		},
	} {
		c := validConfig(t)
		mutate(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustLogKey(t *testing.T) (skey, vkey string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "htlog.test/gateway")
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}
