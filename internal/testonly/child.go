package testonly

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// StartChild starts cmd so that it dies with the test: it leads a process
// group of its own, which a t.Cleanup kills whole (SIGKILL), and on Linux the
// kernel sends it SIGKILL when the test process dies, however it dies (a
// timeout's panic, kill -9). Callers still Wait for cmd as they would after
// cmd.Start. Use it for every process a test starts.
func StartChild(t testing.TB, cmd *exec.Cmd) error {
	DieWithTest(cmd)
	if err := startChild(cmd); err != nil {
		return err
	}
	t.Cleanup(func() { KillGroup(cmd) })
	return nil
}

// DieWithTest sets cmd (not started yet) to lead its own process group and,
// on Linux, to get SIGKILL when the test process dies. Prefer StartChild,
// which also starts it from a thread that lives as long as the process (the
// kernel's parent-death signal follows the thread that forked the child).
func DieWithTest(cmd *exec.Cmd) { dieWithParent(cmd) }

// KillGroup sends SIGKILL to cmd's process group (to the process alone where
// there are no process groups). It does not wait for the process.
func KillGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		killGroup(cmd.Process.Pid)
		cmd.Process.Kill()
	}
}

// ProcessAlive reports whether pid is a process that is not a zombie (a
// killed child whose new parent has not reaped it yet is as good as gone),
// from /proc (false where there is none).
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}
