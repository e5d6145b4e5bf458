package monitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
)

// BenchmarkReplay measures a full replay with verification: fetching entry
// bundles over HTTP, leaf hashing, compact-range replay and root check,
// envelope parsing, registry lookup, signature verification, schema
// validation, privacy checks and every compliance rule.
//
//	go test -run '^$' -bench BenchmarkReplay -benchtime 5x ./monitor/
func BenchmarkReplay(b *testing.B) {
	const n = 20000
	e := newEnvTB(b, store.NewMem())
	e.appendAccesses(b, n)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		e.cfg.Store = store.NewMem()
		m, err := monitor.New(context.Background(), e.cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Step(context.Background()); err != nil {
			b.Fatal(err)
		}
		if m.Confirmed().Size != n {
			b.Fatal("incomplete replay")
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "entries/s")
}
