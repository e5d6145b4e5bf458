// Package fuzzing tunes Go's fuzzing engine for htlog's fuzz targets. It is
// a package of its own, importing only the standard library, because the
// engine instruments every package linked into a test binary: the heavier
// the binary, the slower each execution.
//
// The engine minimizes every input that finds new coverage, for up to
// -fuzzminimizetime (60s by default), and its minimizer tries removing
// every range of bytes, O(n²) runs for an n-byte input. htlog's seeds are
// envelopes and bodies of one to two kilobytes, so each new input cost up
// to a minute of one worker during which nothing else was fuzzed: FuzzCheck,
// FuzzParseEnvelope and FuzzValidate reported 53 to 206 executions in 15
// seconds (issue 18). Main caps minimization at MinimizeTime unless the
// command line sets it.
package fuzzing

import (
	"flag"
	"os"
	"testing"
)

// MinimizeTime is the default -fuzzminimizetime of a test binary whose
// TestMain is Main: long enough to shrink a new input by its tail and
// single bytes, short enough that fuzzing goes on.
const MinimizeTime = "1s"

// Main is a TestMain for packages with fuzz targets: it parses the flags,
// sets -test.fuzzminimizetime to MinimizeTime unless the command line gave
// one, and runs the tests.
//
//	func TestMain(m *testing.M) { fuzzing.Main(m) }
func Main(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.fuzzminimizetime" })
	if !set {
		if err := flag.Set("test.fuzzminimizetime", MinimizeTime); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
