package testonly

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/client"
	"github.com/htlog/htlog/internal/trilliantree"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Trillian is a real Trillian log server and signer on a private MariaDB
// database, started from the binaries in HTLOG_BIN.
type Trillian struct {
	// LogAddr is the gRPC host:port of the log server.
	LogAddr string
	// DSN is the DSN of Trillian's database.
	DSN string

	dir        string
	signerAddr string
	httpAddrs  [2]string
	mu         sync.Mutex
	server     *exec.Cmd
	signer     *exec.Cmd
}

// RepoRoot returns the repository's root directory (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BinDir returns the directory holding the Trillian and htlog binaries.
func BinDir() string {
	if d := os.Getenv("HTLOG_BIN"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "bin")
}

// TrillianSchema returns Trillian's MySQL schema from the module pinned in go.mod.
func TrillianSchema() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/trillian").Output()
	if err != nil {
		return "", fmt.Errorf("couldn't find the Trillian module (go list -m github.com/google/trillian): %w", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "storage", "mysql", "schema", "storage.sql"))
	if err != nil {
		return "", fmt.Errorf("couldn't read Trillian's schema: %w", err)
	}
	return string(b), nil
}

// StartTrillian creates a database with Trillian's schema and starts a log
// server and a signer on it; both are killed when the test ends.
func StartTrillian(t testing.TB) *Trillian {
	t.Helper()
	RequireIntegration(t)
	dsn := NewDatabase(t, "trillian")
	schema, err := TrillianSchema()
	if err != nil {
		t.Fatal(err)
	}
	db := OpenDB(t, dsn)
	if err := ApplySQL(context.Background(), db, schema); err != nil {
		t.Fatal(err)
	}
	tr := &Trillian{
		LogAddr:    FreePort(t),
		DSN:        dsn,
		dir:        t.TempDir(),
		signerAddr: FreePort(t),
		httpAddrs:  [2]string{FreePort(t), FreePort(t)},
	}
	t.Cleanup(tr.stop)
	tr.StartServer(t)
	tr.StartSigner(t)
	return tr
}

func (tr *Trillian) binary(t testing.TB, name string) string {
	p := filepath.Join(BinDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing: run `make trillian` (or set HTLOG_BIN)", p)
	}
	return p
}

func (tr *Trillian) start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(tr.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tr.binary(t, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := StartChild(t, cmd); err != nil { // dies with the test, even a killed one
		t.Fatalf("couldn't start %s: %v", name, err)
	}
	go func() { cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			if len(out) > 2000 {
				out = out[len(out)-2000:]
			}
			t.Logf("%s output (%s), last lines:\n%s", name, logPath, out)
		}
	})
	return cmd
}

// StartServer (re)starts the log server on its address and waits until it answers.
func (tr *Trillian) StartServer(t testing.TB) {
	t.Helper()
	tr.locked(func() {
		tr.server = tr.start(t, "trillian_log_server", "--storage_system=mysql", "--quota_system=noop",
			"--mysql_uri="+tr.DSN, "--rpc_endpoint="+tr.LogAddr, "--http_endpoint="+tr.httpAddrs[0])
	})
	waitForTCP(t, tr.LogAddr, "trillian_log_server")
}

// StartSigner (re)starts the signer, the single master sequencing every tree.
func (tr *Trillian) StartSigner(t testing.TB) {
	t.Helper()
	tr.locked(func() {
		tr.signer = tr.start(t, "trillian_log_signer", "--storage_system=mysql", "--quota_system=noop",
			"--mysql_uri="+tr.DSN, "--force_master", "--sequencer_interval=20ms", "--batch_size=2000",
			"--rpc_endpoint="+tr.signerAddr, "--http_endpoint="+tr.httpAddrs[1])
	})
	waitForTCP(t, tr.signerAddr, "trillian_log_signer")
}

// locked runs f holding tr.mu, and releases it however f ends: start may
// call t.Fatal, and the test's cleanup (stop) then takes the mutex again.
func (tr *Trillian) locked(f func()) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	f()
}

// KillServer kills the log server with SIGKILL, as a crash would.
func (tr *Trillian) KillServer() { tr.kill(&tr.server) }

// KillSigner kills the signer with SIGKILL, as a crash would.
func (tr *Trillian) KillSigner() { tr.kill(&tr.signer) }

func (tr *Trillian) kill(c **exec.Cmd) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if *c != nil && (*c).Process != nil {
		KillGroup(*c)
		(*c).Process.Wait()
		*c = nil
	}
}

func (tr *Trillian) stop() {
	tr.KillSigner()
	tr.KillServer()
}

func waitForTCP(t testing.TB, addr, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s within 60s", what, addr)
}

// Dial returns a gRPC connection to the log server, closed when the test ends.
func (tr *Trillian) Dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(tr.LogAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// CreateTree creates and initialises a fresh ACTIVE PREORDERED_LOG tree, the
// kind htlog-server feeds.
func (tr *Trillian) CreateTree(t testing.TB) int64 {
	return tr.createTree(t, trillian.TreeType_PREORDERED_LOG)
}

// CreateLegacyTree creates and initialises a fresh ACTIVE LOG tree, the kind
// htlog used before it sequenced events itself.
func (tr *Trillian) CreateLegacyTree(t testing.TB) int64 {
	return tr.createTree(t, trillian.TreeType_LOG)
}

func (tr *Trillian) createTree(t testing.TB, typ trillian.TreeType) int64 {
	t.Helper()
	conn := tr.Dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tree, err := client.CreateAndInitTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{
		TreeState:       trillian.TreeState_ACTIVE,
		TreeType:        typ,
		MaxRootDuration: durationpb.New(0),
		DisplayName:     "htlog test",
	}}, trillian.NewTrillianAdminClient(conn), trillian.NewTrillianLogClient(conn))
	if err != nil {
		t.Fatalf("couldn't create a Trillian tree: %v", err)
	}
	return tree.TreeId
}

// Provision provisions the tree for origin as htlog-server does, keeping the
// tree id in htlog's own database at dsn.
func (tr *Trillian) Provision(t testing.TB, dsn, origin string) int64 {
	t.Helper()
	conn := tr.Dial(t)
	db := OpenDB(t, dsn)
	trees, err := trilliantree.Provision(context.Background(), db, trillian.NewTrillianAdminClient(conn), trillian.NewTrillianLogClient(conn), origin)
	if err != nil {
		t.Fatal(err)
	}
	return trees.ID
}
