package testonly

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestWaitProgress(t *testing.T) {
	// Slow but moving: passes, however long it takes in total.
	n := uint64(0)
	WaitProgress(t, "slow", 50*time.Millisecond, 10*time.Millisecond, func() (bool, uint64) {
		n++
		return n == 30, n
	})
	// Stuck: fails once the stall passes, naming what and where.
	rec := &fatalRecorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() {
		WaitProgress(rec, "stuck", 50*time.Millisecond, 5*time.Millisecond, func() (bool, uint64) { return false, 7 })
	})
	wg.Wait()
	if rec.msg != "stuck: no progress for 50ms (stuck at 7)" {
		t.Fatalf("got %q", rec.msg)
	}
}
