// Package filelock takes an exclusive advisory lock (flock) on a file,
// shared with other processes and released by the kernel if the holder
// dies: one `htlog watch` per state file, one port record for the test
// binaries of a run.
package filelock

import "errors"

// ErrLocked is returned by Lock without wait when another holds the lock.
var ErrLocked = errors.New("the file is locked by another process")

// Lock locks path (created if needed), waiting for another holder to
// release it when wait is set and failing with ErrLocked otherwise. The
// returned function releases the lock.
func Lock(path string, wait bool) (release func(), err error) { return lock(path, wait) }
