//go:build cgo

package main

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// softHSMModule is where Debian's softhsm2 package puts the module.
var softHSMModules = []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"}

// TestPKCS11Token: the gateway signs with a P-256 key on a PKCS#11 token
// (SoftHSM, through its module), whose private key it never sees; the log
// admits what it signs (the token's public key is the one registered), the
// receipt verifies, and the envelope verifies with the token's public key.
// A wrong PIN and a missing key label stop it at start with exit code 2.
func TestPKCS11Token(t *testing.T) {
	testonly.RequireIntegration(t)
	util := testonly.LookPath(t, "softhsm2-util", "softhsm2")
	module := ""
	for _, m := range softHSMModules {
		if _, err := os.Stat(m); err == nil {
			module = m
		}
	}
	if module == "" {
		testonly.Missing(t, "SoftHSM's PKCS#11 module is not installed (Debian package softhsm2)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf) // the gateway, a child, inherits it
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "htlog", "--pin", "123456", "--so-pin", "654321").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v: %s", err, out)
	}
	hsm, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: "htlog", Pin: "123456"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := hsm.GenerateECDSAKeyPairWithLabel([]byte{1}, []byte("submitter"), elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}
	pub := kp.Public()
	hsm.Close()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pubFile := filepath.Join(dir, "token.pub")
	os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	pinFile := filepath.Join(dir, "pin")
	os.WriteFile(pinFile, []byte("123456\n"), 0o600)

	s := testonly.PrepareStack(t)
	// Register the token's key beside the stack's own for its submitter.
	reg, _ := os.ReadFile(s.RegistryFile)
	text := strings.Replace(string(reg), "keys: [{public_key_file: ", "keys: [{public_key_file: "+pubFile+"}, {public_key_file: ", 1)
	if text == string(reg) {
		t.Fatal("couldn't add the token's key to the registry")
	}
	os.WriteFile(s.RegistryFile, []byte(text), 0o644)
	s.Start(t)
	pkcs11 := fmt.Sprintf("pkcs11: {module: %s, token_label: htlog, key_label: submitter, pin_file: %s}\n", module, pinFile)
	g := newGateway(t, s, pkcs11)

	doc := withTimes(t, testdata(t, "balp/AuditEvent-ex-auditBasicReadServer.json"), time.Now().Add(-time.Minute))
	code, body := g.post(t, "/fhir/AuditEvent", doc)
	if code != 201 {
		t.Fatalf("%d %s", code, body)
	}
	id := acceptedID(t, body)
	it := g.waitLogged(t, []string{id}, time.Minute)[id]
	env, err := event.ParseEnvelope([]byte(it.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := event.KeyID(pub)
	if env.Signatures[0].KeyID != wantID || env.Verify(pub) != nil {
		t.Errorf("the envelope is not signed by the token's key (key id %s, want %s)", env.Signatures[0].KeyID, wantID)
	}
	if _, err := client.VerifyProofFile(s.Policy, []byte(it.Receipt), []byte(it.Envelope)); err != nil {
		t.Errorf("receipt: %v", err)
	}

	for name, bad := range map[string]string{
		"wrong PIN":     "654321\n",
		"missing label": "",
	} {
		cfg := fmt.Sprintf("pkcs11: {module: %s, token_label: htlog, key_label: %s, pin_file: %s}\n", module, map[bool]string{true: "nokey", false: "submitter"}[bad == ""], pinFile)
		if bad != "" {
			os.WriteFile(pinFile, []byte(bad), 0o600)
		}
		b, _ := os.ReadFile(g.Config)
		os.WriteFile(g.Config+"."+strings.ReplaceAll(name, " ", "-"), []byte(strings.Replace(string(b), strings.TrimSuffix(pkcs11, "\n"), strings.TrimSuffix(cfg, "\n"), 1)), 0o600)
		out, err := exec.Command(gatewayBinary(t), "--config", g.Config+"."+strings.ReplaceAll(name, " ", "-"), "--listen", testonly.FreePort(t)).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "pkcs11") {
			t.Errorf("%s: %v: %s", name, err, out)
		}
		os.WriteFile(pinFile, []byte("123456\n"), 0o600)
	}
}
