//go:build unix

package filelock

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLock: a held lock refuses a second holder without wait and makes one
// with wait wait until it is released.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	release, err := Lock(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second lock without wait: %v, want ErrLocked", err)
	}
	got := make(chan time.Time)
	go func() {
		r, err := Lock(path, true)
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		r()
	}()
	time.Sleep(100 * time.Millisecond)
	released := time.Now()
	release()
	if at := <-got; at.Before(released) {
		t.Fatal("the waiting lock was taken before the first was released")
	}
}
