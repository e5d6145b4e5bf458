//go:build !unix

package testonly

// lockFile does not lock where flock is missing: test binaries of one run
// may then, rarely, be given the same port.
func lockFile(string) (func(), error) { return func() {}, nil }
