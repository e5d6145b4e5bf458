package monitor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/htlog/htlog/internal/registry"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/internal/montest"
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
	replayBench(b, e, n)
}

// replayBench replays e's log of n entries b.N times, each into a fresh
// store, and reports entries/s; e.cfg.Store is the last replay's store.
func replayBench(b *testing.B, e *env, n int) {
	b.Helper()
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
		if m.Confirmed().Size != uint64(n) {
			b.Fatal("incomplete replay")
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "entries/s")
	b.StopTimer()
}

// BenchmarkReplayMixed is BenchmarkReplay over the log a real deployment
// sees: every valid example of the four kinds in turn (schemas/examples),
// each with fresh pseudonymous tags, signed alternately by an Ed25519 and an
// ECDSA P-256 submitter. Fresh tags leave many events without their
// counterparts (an access without its consent, a receipt without its
// shipment), so the compliance rules also hold, judge and record findings.
//
//	go test -run '^$' -bench BenchmarkReplayMixed -benchtime 3x ./monitor/
func BenchmarkReplayMixed(b *testing.B) {
	const n = 20000
	e := newEnvTB(b, store.NewMem())
	fillMixed(b, e, n)
	replayBench(b, e, n)
	if f := integrityFindings(b, e.cfg.Store); len(f) != 0 {
		b.Fatalf("integrity findings on valid entries: %v", f)
	}
}

// fillMixed appends n entries to e's log: every valid example of the four
// kinds in turn with fresh tags, signed alternately by e's Ed25519
// submitter and an ECDSA P-256 one, which e's registry then lists too.
func fillMixed(t testing.TB, e *env, n int) {
	t.Helper()
	p256 := montest.NewECDSASubmitter(t, "gln:0614141000005")
	reg := montest.Registry(t, e.sub, p256)
	e.cfg.Registry = func() *registry.Registry { return reg }
	bodies := validExamples(t)
	subs := []*montest.Submitter{e.sub, p256}
	for i := range n {
		ex := bodies[i%len(bodies)]
		body := exampleTag.ReplaceAllFunc(ex.body, func([]byte) []byte {
			return []byte(montest.Tag(fmt.Sprintf("bench-%d-%d", i, rand.Int64())))
		})
		var compact bytes.Buffer
		if err := json.Compact(&compact, body); err != nil {
			t.Fatal(err)
		}
		raw, _ := subs[i%2].Sign(t, ex.kind, t0.Add(time.Duration(i)*time.Second), json.RawMessage(compact.Bytes()))
		e.log.Append(raw)
	}
}

// example is a valid example body of the schemas and its kind.
type example struct {
	kind string
	body []byte
}

// validExamples returns every valid example of every kind (schemas/examples).
func validExamples(t testing.TB) []example {
	t.Helper()
	var out []example
	for _, ex := range testonly.ValidExamples(t) {
		out = append(out, example{ex.Kind, ex.Body})
	}
	return out
}
