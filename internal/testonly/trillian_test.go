package testonly

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// fatalTB is a testing.TB whose Fatal ends the calling goroutine, as the
// testing package's does, without failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestFailedStartDoesNotHang starts Trillian's binaries from an empty
// folder: the start fails (t.Fatal), and stopping Trillian afterwards, as
// the test's cleanup does, must not wait for a mutex the failed start kept.
func TestFailedStartDoesNotHang(t *testing.T) {
	t.Setenv("HTLOG_BIN", t.TempDir())
	for name, start := range map[string]func(*Trillian, testing.TB){
		"server": (*Trillian).StartServer,
		"signer": (*Trillian).StartSigner,
	} {
		tr := &Trillian{dir: t.TempDir()}
		f := &fatalTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			start(tr, f)
		}()
		<-done
		if f.msg == "" {
			t.Fatalf("%s: starting a missing binary did not fail", name)
		}
		stopped := make(chan struct{})
		go func() {
			tr.stop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: stopping Trillian after a failed start (%s) hangs", name, f.msg)
		}
	}
}
