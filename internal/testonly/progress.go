package testonly

import (
	"testing"
	"time"
)

// WaitProgress polls check every poll until it reports done, and fails the
// test only when progress (any value that grows while work gets done, such
// as a tree size) has not changed for stall: a deadline by progress, not by
// wall time, so a test passes on a loaded machine that is slow but moving,
// and fails fast on one that is stuck.
func WaitProgress(t testing.TB, what string, stall, poll time.Duration, check func() (done bool, progress uint64)) {
	t.Helper()
	last, since := uint64(0), time.Now()
	for {
		done, p := check()
		if done {
			return
		}
		if p != last {
			last, since = p, time.Now()
		} else if time.Since(since) > stall {
			t.Fatalf("%s: no progress for %v (stuck at %d)", what, stall, p)
		}
		time.Sleep(poll)
	}
}
