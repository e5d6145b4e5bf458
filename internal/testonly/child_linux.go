//go:build linux

package testonly

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// starts carries children to be started to the starter goroutine.
var (
	starts      = make(chan startRequest)
	starterOnce sync.Once
)

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// startChild starts cmd from one goroutine locked to its thread for the
// life of the process: PR_SET_PDEATHSIG fires when the forking thread exits,
// and the Go runtime may end other threads (one a goroutine locked and
// exited), which would kill the child early.
func startChild(cmd *exec.Cmd) error {
	starterOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range starts {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	starts <- startRequest{cmd: cmd, done: done}
	return <-done
}

func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
