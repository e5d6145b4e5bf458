package testonly

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/filelock"
)

// Ports handed to daemons that a test starts come from below the kernel's
// ephemeral range, so no listener on port 0 and no outgoing connection, in
// any process, can take one between FreePort and the daemon's bind. Test
// binaries of one `go test ./...` run in parallel, so they share a record of
// the ports recently given, kept in a file under a lock.
const (
	lowestPort  = 10000
	portsRecent = 30 * time.Minute
)

var portsMu sync.Mutex

// FreePort returns a TCP address on 127.0.0.1 that is free now and that no
// test binary of this project has been given in the last half hour.
func FreePort(t testing.TB) string {
	t.Helper()
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func freePort() (string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	unlock, err := filelock.Lock(filepath.Join(os.TempDir(), "htlog-test-ports.lock"), true)
	if err != nil {
		return "", err
	}
	defer unlock()
	record := filepath.Join(os.TempDir(), "htlog-test-ports")
	recent := readRecent(record)
	hi := ephemeralLow()
	for range 1000 {
		var port int
		if hi-lowestPort < 1000 {
			// No room below the ephemeral range: a port the kernel
			// offers, free a moment ago.
			if port, err = kernelPort(); err != nil {
				return "", err
			}
		} else {
			port = lowestPort + rand.IntN(hi-lowestPort)
		}
		if _, ok := recent[port]; ok {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		recent[port] = time.Now()
		writeRecent(record, recent)
		return addr, nil
	}
	return "", fmt.Errorf("no free port below %d after 1000 tries", hi)
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux);
// elsewhere the range IANA assigns.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil {
				return lo
			}
		}
	}
	return 49152
}

// kernelPort returns a port the kernel offers for 127.0.0.1.
func kernelPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readRecent(path string) map[int]time.Time {
	recent := map[int]time.Time{}
	f, err := os.Open(path)
	if err != nil {
		return recent
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var port int
		var unix int64
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &port, &unix); err != nil {
			continue
		}
		if at := time.Unix(unix, 0); time.Since(at) < portsRecent {
			recent[port] = at
		}
	}
	return recent
}

func writeRecent(path string, recent map[int]time.Time) {
	var b strings.Builder
	for port, at := range recent {
		fmt.Fprintf(&b, "%d %d\n", port, at.Unix())
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if os.WriteFile(tmp, []byte(b.String()), 0o600) == nil {
		os.Rename(tmp, path)
	}
}
