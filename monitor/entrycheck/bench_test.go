package entrycheck_test

import (
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/internal/montest"
)

// BenchmarkCheck measures the per-entry verification the monitor runs on
// every logged ACCESS entry (one core):
//
//	go test -run '^$' -bench BenchmarkCheck ./monitor/entrycheck/
func BenchmarkCheck(b *testing.B) {
	sub := montest.NewSubmitter(b, "npi:1234567893")
	reg := montest.Registry(b, sub)
	var entries [][]byte
	for i := range 256 {
		raw, _ := sub.Sign(b, "access", time.Unix(1e9+int64(i), 0),
			montest.Access("npi:1234567893", "dr-"+string(rune('a'+i%20)), "p", "TREAT", ""))
		entries = append(entries, raw)
	}
	c := montest.Checker(b, reg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if res := c.Check(uint64(i), entries[i%len(entries)]); res.Entry == nil || len(res.Findings) > 0 {
			b.Fatalf("entry rejected: %+v", res.Findings)
		}
		i++
	}
}
