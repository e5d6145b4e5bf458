package monitor_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/registry"

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

// BenchmarkReplayMillionOnMySQL replays 1,000,000 mixed entries (as
// BenchmarkReplayMixed: fresh tags, so most events name new patients,
// packages and trials and the rules' state grows with every one) into the
// MariaDB store, committing as a catch-up does (every 65,536 entries, the
// rules' changed rows with the position). It reports entries/s, the
// process's peak RSS (VmHWM, which includes the in-process fake log's
// entries, reported apart as log-MB) and the rules' state in the database
// (monitor_rules' data and index bytes, from information_schema) per
// entry. It needs the integration environment and takes minutes:
//
//	HTLOG_INTEGRATION=1 HTLOG_TEST_DSN='root@tcp(127.0.0.1:3306)/' \
//	  go test -run '^$' -bench BenchmarkReplayMillionOnMySQL -benchtime 1x -timeout 60m ./monitor/
func BenchmarkReplayMillionOnMySQL(b *testing.B) {
	testonly.RequireIntegration(b)
	n := 1_000_000
	if s := os.Getenv("HTLOG_BENCH_ENTRIES"); s != "" { // a shorter run
		n, _ = strconv.Atoi(s)
	}
	e := newEnvTB(b, store.NewMem())
	fillMixed(b, e, n)
	logBytes := 0
	for _, raw := range e.log.Entries() {
		logBytes += len(raw)
	}
	ctx := context.Background()
	var db *sql.DB
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		b.StopTimer()
		db = testonly.OpenDB(b, testonly.NewDatabase(b, "monbench"))
		st, err := store.NewMySQL(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		e.cfg.Store = st
		b.StartTimer()
		m, err := monitor.New(ctx, e.cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Step(ctx); err != nil {
			b.Fatal(err)
		}
		if m.Confirmed().Size != uint64(n) {
			b.Fatal("incomplete replay")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "entries/s")
	b.ReportMetric(float64(vmHWM(b))/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(logBytes)/(1<<20), "log-MB")
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE monitor_rules"); err != nil {
		b.Fatal(err)
	}
	var rows, size int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM monitor_rules`).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT data_length + index_length FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'monitor_rules'`).Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(size)/float64(n), "state-B/entry")
	b.ReportMetric(float64(rows)/float64(n), "rows/entry")
}

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
