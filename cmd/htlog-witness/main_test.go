package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/witness"
	"golang.org/x/mod/sumdb/note"
)

func TestBadConfigExitsTwo(t *testing.T) {
	dir := t.TempDir()
	keyPath, _ := testonly.NewWitnessKeyFile(t, "w.example")
	log := testonly.NewFakeLog(t, "example.com/log")
	loose := filepath.Join(dir, "loose.key")
	if err := os.WriteFile(loose, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, yaml := range map[string]string{
		"no key":          "listen: 127.0.0.1:0\nlogs: [{vkey: " + log.VKey + "}]\n",
		"key readable":    "listen: 127.0.0.1:0\nkey_file: " + loose + "\nlogs: [{vkey: " + log.VKey + "}]\n",
		"no logs":         "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\n",
		"origin mismatch": "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\nlogs: [{origin: other.example/log, vkey: " + log.VKey + "}]\n",
		"bad url":         "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\nlogs: [{vkey: " + log.VKey + ", url: 'ftp://x'}]\n",
		"unknown key":     "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\nlogs: [{vkey: " + log.VKey + "}]\ncolour: blue\n",
		"bad listen":      "listen: '80'\nkey_file: " + keyPath + "\nlogs: [{vkey: " + log.VKey + "}]\n",
		"extra key loose": "listen: 127.0.0.1:0\nkey_file: " + keyPath + "\nextra_key_files: [" + loose + "]\nlogs: [{vkey: " + log.VKey + "}]\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		if code := run(context.Background(), []string{"--config", path}); code != 2 {
			t.Errorf("%s: exit code %d, want 2", name, code)
		}
	}
}

// process is an htlog-witness process started from a freshly built binary.
type process struct {
	bin, cfg, url string
	cmd           *exec.Cmd
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "htlog-witness")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (d *process) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command(d.bin, "--config", d.cfg)
	d.cmd.Stderr = os.Stderr
	if err := testonly.StartChild(t, d.cmd); err != nil { // dies with the test, even a killed one
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(d.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("htlog-witness did not become healthy")
}

func (d *process) kill() {
	testonly.KillGroup(d.cmd)
	d.cmd.Wait()
}

func post(url string, body []byte) (int, string, error) {
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestCrashNeverRollsBack kills the witness with SIGKILL while clients stream
// add-checkpoint requests, restarts it, and checks that every acknowledged
// cosignature survived: the witness's state is at least the largest size it
// acknowledged, and it refuses to cosign an older size or a fork of it.
func TestCrashNeverRollsBack(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "witness_crash")
	keyPath, vkey := testonly.NewWitnessKeyFile(t, "w.example")
	cosign, err := c2sp.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	log := testonly.NewFakeLog(t, "example.com/log")
	const total = 400
	log.AppendN("e", total)
	d := &process{bin: buildBinary(t), cfg: filepath.Join(t.TempDir(), "w.yaml")}
	addr := testonly.FreePort(t)
	d.url = "http://" + addr
	cfg := fmt.Sprintf("listen: %s\ndatabase: {dsn: '%s'}\nkey_file: %s\nlogs: [{vkey: %s}]\n", addr, dsn, keyPath, log.VKey)
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	for round := 0; round < 3; round++ {
		d.start(t)
		// Two clients race to advance the witness one size at a time; each
		// remembers the sizes that got a valid cosignature.
		var mu sync.Mutex
		acked := uint64(0)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := 0; c < 2; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				old := currentSize(t, d.url, log)
				for size := old + 1; size <= total; size++ {
					select {
					case <-stop:
						return
					default:
					}
					cp := log.Checkpoint(t, size)
					req := c2sp.AddCheckpointRequest{OldSize: old, Proof: log.ConsistencyProof(t, old, size), Checkpoint: cp}.Marshal()
					code, body, err := post(d.url, req)
					if err != nil {
						return // the process died
					}
					switch code {
					case 200:
						n, err := note.Open(append(append([]byte{}, cp...), body...), note.VerifierList(log.Verifier, cosign))
						if err != nil || !c2sp.HasSignature(n, cosign) {
							t.Errorf("200 without a valid cosignature: %q", body)
							return
						}
						mu.Lock()
						acked = max(acked, size)
						mu.Unlock()
						old = size
					case 409:
						fmt.Sscan(body, &old)
						size = old
					default:
						t.Errorf("size %d: unexpected %d %q", size, code, body)
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(150+round*100) * time.Millisecond)
		// On a loaded machine the first cosignature can take longer than
		// that: kill only once something was acknowledged.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := acked
			mu.Unlock()
			if n > 0 {
				break
			}
		}
		d.kill()
		close(stop)
		wg.Wait()
		if acked == 0 {
			t.Fatalf("round %d: nothing was acknowledged before the kill", round)
		}

		d.start(t)
		got := currentSize(t, d.url, log)
		if got < acked {
			t.Fatalf("round %d: after kill -9 the witness is at size %d, but it acknowledged %d", round, got, acked)
		}
		// An older checkpoint is refused (409 naming the kept size).
		code, body, _ := post(d.url, c2sp.AddCheckpointRequest{OldSize: 0, Checkpoint: log.Checkpoint(t, acked-1)}.Marshal())
		if code != 409 {
			t.Fatalf("round %d: rollback to %d got %d %q, want 409", round, acked-1, code, body)
		}
		// A fork at the kept size is refused (409 Conflict, tlog-witness).
		fork := log.Fork(got - 1)
		fork.AppendN("evil", 1)
		code, body, _ = post(d.url, c2sp.AddCheckpointRequest{OldSize: got, Checkpoint: fork.Checkpoint(t, got)}.Marshal())
		if code != 409 {
			t.Fatalf("round %d: fork at %d got %d %q, want 409", round, got, code, body)
		}
		t.Logf("round %d: killed after acknowledging size %d; restarted at %d", round, acked, got)
		d.kill()
	}
}

// currentSize reads the witness's latest cosigned size from its monitoring
// endpoint (0 if it has none).
func currentSize(t *testing.T, url string, log *testonly.FakeLog) uint64 {
	t.Helper()
	resp, err := http.Get(url + "/" + witness.OriginID(log.Origin) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == 404 {
		return 0
	}
	b, _ := io.ReadAll(resp.Body)
	cp, err := c2sp.OpenCheckpoint(b, log.Verifier)
	if err != nil {
		t.Fatalf("monitoring endpoint: %v: %q", err, b)
	}
	return cp.Size
}
