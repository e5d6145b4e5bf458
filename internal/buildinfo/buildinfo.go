// Package buildinfo names the version the running binary was built from,
// for the daemons' build_info metrics.
package buildinfo

import "runtime/debug"

// Version returns the main module's version as the Go toolchain recorded
// it ("(devel)" for a build from a work tree), or "devel" where none is.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
