//go:build linux

package testonly

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childRoleEnv = "HTLOG_TESTONLY_CHILD_ROLE"

// TestChildDiesWithTest runs a test binary (this one, again) that starts a
// child through StartChild, kills that test binary with SIGKILL, as a timeout
// or an impatient developer would, and checks its child is gone.
func TestChildDiesWithTest(t *testing.T) {
	switch os.Getenv(childRoleEnv) {
	case "child":
		time.Sleep(10 * time.Minute)
		return
	case "test":
		child := exec.Command(os.Args[0], "-test.run", "^TestChildDiesWithTest$")
		child.Env = append(os.Environ(), childRoleEnv+"=child")
		if err := StartChild(t, child); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("child %d\n", child.Process.Pid)
		time.Sleep(10 * time.Minute)
		return
	}
	test := exec.Command(os.Args[0], "-test.run", "^TestChildDiesWithTest$", "-test.v")
	test.Env = append(os.Environ(), childRoleEnv+"=test")
	stdout, err := test.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := StartChild(t, test); err != nil {
		t.Fatal(err)
	}
	var pid int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "child "); ok {
			pid, _ = strconv.Atoi(p)
			break
		}
	}
	if pid == 0 {
		test.Process.Kill()
		test.Wait()
		t.Fatal("the test process printed no child pid")
	}
	if !ProcessAlive(pid) {
		t.Fatal("the child is not running")
	}
	test.Process.Signal(syscall.SIGKILL)
	go func() { // drain, so the test process never blocks on its output
		for sc.Scan() {
		}
	}()
	test.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for ProcessAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the child %d outlived the test process killed with SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
