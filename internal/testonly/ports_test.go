package testonly

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestFreePortBelowEphemeralRangeAndRecorded: ports come from below the
// kernel's ephemeral range (so no port-0 listener can take one), are never
// given twice, and are recorded for the other test binaries of the run.
func TestFreePortBelowEphemeralRangeAndRecorded(t *testing.T) {
	// Where the ephemeral range leaves no room below it, FreePort falls
	// back to the kernel's choice: then the range is not checked.
	below := ephemeralLow()-lowestPort >= 1000
	seen := map[string]bool{}
	for range 50 {
		addr := FreePort(t)
		if seen[addr] {
			t.Fatalf("%s given twice", addr)
		}
		seen[addr] = true
		_, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		if below && (port < lowestPort || port >= ephemeralLow()) {
			t.Fatalf("port %d outside [%d, %d)", port, lowestPort, ephemeralLow())
		}
		if _, ok := readRecent(filepath.Join(os.TempDir(), "htlog-test-ports"))[port]; !ok {
			t.Fatalf("port %d not recorded for other test binaries", port)
		}
	}
}
