//go:build !linux

package testonly

import "os/exec"

// Elsewhere a child neither leads a process group nor gets a parent-death
// signal: the test's cleanup kills it.
func dieWithParent(cmd *exec.Cmd) {}

func startChild(cmd *exec.Cmd) error { return cmd.Start() }

func killGroup(pid int) {}
