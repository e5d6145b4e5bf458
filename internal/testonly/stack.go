package testonly

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/witness"
	"golang.org/x/mod/sumdb/note"
)

// Stack is a running htlog-server (the real binary, built from this
// checkout) on real Trillian and MariaDB, with three in-process witnesses
// under a 2-of-3 tlog-policy and one registered submitter. Clients, the CLI
// and the monitor test against it as strangers would. Witnesses w0 and w1
// cosign with Ed25519 keys, w2 (MLDSA44Witness) with an ML-DSA-44 key, as
// tlog-cosignature recommends: every test on a stack meets both types.
type Stack struct {
	// URL is the log's base URL.
	URL string
	// Origin is the log's origin; LogVKey its signed-note vkey.
	Origin, LogVKey string
	// PolicyFile holds the C2SP tlog-policy (log + 3 witnesses, quorum 2).
	PolicyFile string
	// Policy is PolicyFile parsed.
	Policy *c2sp.Policy
	// Org is the registered submitter; Key its Ed25519 key, KeyFile the
	// key as `htlog keygen --kind submitter` writes it, RegistryFile the registry.
	Org          string
	Key          ed25519.PrivateKey
	KeyFile      string
	RegistryFile string
	// WitnessDown makes witness i answer 503 while set.
	WitnessDown [3]*atomic.Bool

	// ConfigFile is htlog-server's YAML configuration; DSN its database.
	ConfigFile, DSN string
	// LogSKey is the log's signed-note signing key.
	LogSKey string
	// Trillian is the log server and signer under the stack.
	Trillian *Trillian

	logKeyFile, trillianAddr, dir string
	cmd                           *exec.Cmd
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// serverBinary builds cmd/htlog-server once per test binary.
func serverBinary(t testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "htlog-server-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "htlog-server")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/htlog-server")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/htlog-server: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// StartStack starts the whole write and read path; it is stopped when the
// test ends.
func StartStack(t testing.TB) *Stack {
	t.Helper()
	s := PrepareStack(t)
	s.Start(t)
	return s
}

// PrepareStack starts Trillian and the witnesses and writes the keys, the
// policy, the registry and htlog-server's configuration (ConfigFile), but
// does not start htlog-server: tests of cmd/htlog-server run it in-process.
func PrepareStack(t testing.TB) *Stack {
	t.Helper()
	RequireIntegration(t)
	tr := StartTrillian(t)
	dir := t.TempDir()
	// A fresh origin per stack: htlog-server's publisher lease is a MariaDB
	// named lock on the origin, global to the server every test package
	// shares, so two stacks with one origin would take turns publishing.
	var nonce [6]byte
	rand.Read(nonce[:])
	s := &Stack{Origin: "htlog.test/" + hex.EncodeToString(nonce[:]), Org: "npi:1234567893", Trillian: tr}
	skey, vkey, err := note.GenerateKey(rand.Reader, s.Origin)
	if err != nil {
		t.Fatal(err)
	}
	s.LogVKey = vkey
	logVerifier, _ := note.NewVerifier(vkey)
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	addr := FreePort(t)
	s.URL = "http://" + addr
	policy := "log " + vkey + " " + s.URL + "\n"
	for i := range 3 {
		alg := c2sp.WitnessAlgEd25519
		if i == MLDSA44Witness {
			alg = c2sp.WitnessAlgMLDSA44
		}
		signer, wvkey := NewWitnessKeyOf(t, fmt.Sprintf("w%d.test", i), alg)
		w, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: s.Origin, Verifier: logVerifier}},
			Signers: []note.Signer{signer}, Store: witness.NewMemStore()})
		if err != nil {
			t.Fatal(err)
		}
		down := &atomic.Bool{}
		s.WitnessDown[i] = down
		h := w.Handler(nil)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(rw, "down", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(rw, r)
		}))
		t.Cleanup(srv.Close)
		policy += fmt.Sprintf("witness w%d %s %s\n", i, wvkey, srv.URL)
	}
	policy += "group two 2 w0 w1 w2\nquorum two\n"
	if s.Policy, err = c2sp.ParsePolicy([]byte(policy)); err != nil {
		t.Fatal(err)
	}
	s.PolicyFile = write("policy.txt", policy, 0o644)
	var pub string
	s.Key, s.KeyFile, pub = WriteSubmitterKey(t, dir)
	// A second organisation with the same key may submit custody events only.
	s.RegistryFile = write("submitters.yaml", "submitters:\n  - org: "+s.Org+"\n    kinds: [access, consent, custody, trial]\n    keys: [{public_key_file: "+pub+"}]\n"+
		ExampleRights(s.Org)+
		"  - org: "+CustodyOnlyOrg+"\n    kinds: [custody]\n    keys: [{public_key_file: "+pub+"}]\n"+ExampleRights(CustodyOnlyOrg), 0o644)
	s.logKeyFile, s.trillianAddr, s.dir = write("log.key", skey, 0o600), tr.LogAddr, dir
	s.LogSKey = skey
	s.ConfigFile, s.DSN = s.writeConfig(t, "server.yaml", addr, "")
	return s
}

// WriteSubmitterKey writes a new Ed25519 submitter key to dir as `htlog
// keygen --kind submitter` does: hospital.key (PKCS#8 PEM, mode 0600) and
// hospital.key.pub (PKIX PEM), returning the key and both paths.
func WriteSubmitterKey(t testing.TB, dir string) (key ed25519.PrivateKey, keyFile, pubFile string) {
	t.Helper()
	_, key, _ = ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	priv, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile, pubFile = filepath.Join(dir, "hospital.key"), filepath.Join(dir, "hospital.key.pub")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return key, keyFile, pubFile
}

// writeConfig writes an htlog-server configuration for this stack's origin,
// key, Trillian, policy and registry, listening on addr with a database of
// its own, followed by the extra YAML lines. It returns the file and the
// database's DSN.
func (s *Stack) writeConfig(t testing.TB, name, addr, extra string) (string, string) {
	t.Helper()
	p := filepath.Join(s.dir, name)
	dsn := NewDatabase(t, "server")
	text := fmt.Sprintf(
		"listen: %s\norigin: %s\nkey_file: %s\ndatabase: {dsn: '%s'}\ntrillian: {address: %s}\ncheckpoint_interval: 200ms\npolicy_file: %s\nsubmitters_file: %s\nwitness_timeout: 1s\nreceipt_timeout: 5s\n%s",
		addr, s.Origin, s.logKeyFile, dsn, s.trillianAddr, s.PolicyFile, s.RegistryFile, extra)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, dsn
}

// SetConfig appends YAML lines (keys the configuration does not set yet,
// such as rate_limit) to ConfigFile; Start reads them.
func (s *Stack) SetConfig(t testing.TB, lines string) {
	t.Helper()
	f, err := os.OpenFile(s.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(lines); err != nil {
		t.Fatal(err)
	}
}

// StartFork starts a second htlog-server that lies: the same origin and log
// key, the same Trillian, but a database of its own, so it provisions and
// signs a second tree (a split view). Its witnesses refuse that tree's
// checkpoints, so it publishes fail-open, as a log operator set on lying
// would. htlog-server publishes an origin from one process per MariaDB
// server (its publisher lease is a named lock on the origin), so stop this
// stack's server (Kill) before, and Kill the fork before starting it again.
// It is stopped when the test ends.
func (s *Stack) StartFork(t testing.TB) *Stack {
	t.Helper()
	addr := FreePort(t)
	f := *s
	f.URL = "http://" + addr
	f.WitnessDown = [3]*atomic.Bool{}
	f.ConfigFile, f.DSN = s.writeConfig(t, "fork-"+strings.ReplaceAll(addr, ":", "-")+".yaml", addr, "fail_open: true\n")
	f.cmd = nil
	f.Start(t)
	return &f
}

// MLDSA44Witness is the index of the stack's witness with an ML-DSA-44 key
// (named w2 in the policy).
const MLDSA44Witness = 2

// CustodyOnlyOrg is registered (with the stack's key) for custody events only.
const CustodyOnlyOrg = "gln:0614141000005"

// Start (re)starts the server process and waits until it is healthy.
func (s *Stack) Start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(serverBinary(t), "--config", s.ConfigFile)
	logPath := strings.TrimSuffix(s.ConfigFile, ".yaml") + ".log"
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := StartChild(t, s.cmd); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("htlog-server output (%s), last lines:\n%s", logPath, b)
		}
	})
	s.WaitHealthy(t)
}

// WaitHealthy waits until htlog-server answers /healthz with 200.
func (s *Stack) WaitHealthy(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("htlog-server did not become healthy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill kills the server process with SIGKILL, as a crash would.
func (s *Stack) Kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// Envelope signs body (a JSON object) as an event of kind by the stack's
// submitter, returning the canonical envelope.
func (s *Stack) Envelope(t testing.TB, kind string, body []byte, occurredAt string) []byte {
	t.Helper()
	return s.EnvelopeAs(t, s.Org, kind, body, occurredAt)
}

// EnvelopeAs is Envelope claiming to be org (signed with the stack's key).
func (s *Stack) EnvelopeAs(t testing.TB, org, kind string, body []byte, occurredAt string) []byte {
	t.Helper()
	b, err := event.NewBuilder(org, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := b.Build(event.Draft{Kind: kind, OccurredAt: occurredAt, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

// Example returns the body of schemas/examples/<kind>/<name>.
func Example(t testing.TB, kind, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "schemas", "examples", kind, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Examples returns the bodies of schemas/examples/<kind>/<prefix>*.json by
// file name; it fails the test if there are none.
func Examples(t testing.TB, kind, prefix string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(RepoRoot(), "schemas", "examples", kind, prefix+"*.json"))
	if len(files) == 0 {
		t.Fatalf("no %s examples for %s", prefix, kind)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[filepath.Base(f)] = Example(t, kind, filepath.Base(f))
	}
	return out
}
