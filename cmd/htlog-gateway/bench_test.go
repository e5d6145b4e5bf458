package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
)

// BenchmarkGatewayAcceptSubmit measures the gateway's sustained rate in
// front of a real stack: 64 clients post b.N distinct AuditEvents (the BALP
// read example about 1,000 patients); accepted/s is the rate of 201s
// (mapped, signed, pre-checked, stored), submitted/s the rate at which the
// log acknowledged them all (the outbox's async submissions) and logged/s
// the rate at which their verified receipts were stored, each from the
// first post. Every process shares this machine's cores. Run it with a
// fixed count:
//
//	HTLOG_INTEGRATION=1 HTLOG_BIN=$PWD/bin go test ./cmd/htlog-gateway -run '^$' -bench GatewayAcceptSubmit -benchtime 20000x
func BenchmarkGatewayAcceptSubmit(b *testing.B) {
	s := testonly.PrepareStack(b)
	s.SetConfig(b, "rate_limit: {per_submitter: 1000000, burst: 1000000}\n")
	s.Start(b)
	benchGateway(b, s)
}

// BenchmarkGatewayAlone is BenchmarkGatewayAcceptSubmit in front of a
// stand-in log that costs next to nothing (standInLog), so that the
// gateway's own rate on this machine is measured: what it sustains when
// the log runs elsewhere, as it does in production.
//
//	HTLOG_INTEGRATION=1 go test ./cmd/htlog-gateway -run '^$' -bench GatewayAlone -benchtime 20000x
func BenchmarkGatewayAlone(b *testing.B) {
	testonly.RequireIntegration(b)
	benchGateway(b, startStandInLog(b))
}

func benchGateway(b *testing.B, s *testonly.Stack) {
	g := newGateway(b, s, "window: 256\n")
	base := testdata(b, "balp/AuditEvent-ex-auditBasicReadServer.json")
	at := time.Now().Add(-time.Minute)
	docs := make([][]byte, b.N)
	for i := range docs {
		docs[i] = accessDoc(b, base, i%1000, i, at)
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	cpu0, cpuOK := processCPU(g.cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for {
				i := next.Add(1) - 1
				if i >= int64(len(docs)) {
					return
				}
				if postAccess(hc, g.URL, docs[i]) == "" {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("%d posts failed", failed.Load())
	}
	var submitted time.Duration
	for {
		c := g.counts(b)
		if c["refused"] > 0 {
			b.Fatalf("the log refused items: %v", c)
		}
		if c["pending"] == 0 && submitted == 0 {
			submitted = time.Since(start)
		}
		if c["logged"] == b.N {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("not logged after 10 minutes: %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	logged := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/submitted.Seconds(), "submitted/s")
	b.ReportMetric(float64(b.N)/logged.Seconds(), "logged/s")
	if cpu1, ok := processCPU(g.cmd.Process.Pid); ok && cpuOK {
		// What the gateway itself spent per event, whatever else the
		// machine runs: the rate one free core would sustain is 1/this.
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "gateway-cpu-µs/event")
	}
}

// processCPU returns the user and system CPU time a process has used, from
// /proc (Linux; ok false elsewhere).
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the command name (which may hold spaces) start at ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * time.Second / 100, true // USER_HZ is 100 on Linux
}
