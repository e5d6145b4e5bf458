package main

import (
	"net/http"
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
// log acknowledged them all (the outbox's async submissions), both from the
// first post. Run it with a fixed count:
//
//	HTLOG_INTEGRATION=1 HTLOG_BIN=$PWD/bin go test ./cmd/htlog-gateway -run '^$' -bench GatewayAcceptSubmit -benchtime 20000x
func BenchmarkGatewayAcceptSubmit(b *testing.B) {
	s := testonly.PrepareStack(b)
	s.SetConfig(b, "rate_limit: {per_submitter: 1000000, burst: 1000000}\n")
	s.Start(b)
	g := newGateway(b, s, "window: 256\n")
	base := testdata(b, "balp/AuditEvent-ex-auditBasicReadServer.json")
	at := time.Now().Add(-time.Minute)
	docs := make([][]byte, b.N)
	for i := range docs {
		docs[i] = accessDoc(b, base, i%1000, i, at)
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
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
	for {
		c := g.counts(b)
		if c["refused"] > 0 {
			b.Fatalf("the log refused items: %v", c)
		}
		if c["pending"] == 0 {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("not submitted after 10 minutes: %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	submitted := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/submitted.Seconds(), "submitted/s")
}
