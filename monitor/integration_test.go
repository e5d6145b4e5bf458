package monitor_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/store"
)

func mysqlStore(t *testing.T) store.Store {
	testonly.RequireIntegration(t)
	st, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "monitor")))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMySQLRestartResumesAndCatchesFork follows a log on MariaDB, restarts
// (a new Monitor on the same database) and resumes without re-reading old
// bundles, then catches a fork served by a witness with evidence an
// independent verifier accepts, on disk and over HTTP.
func TestMySQLRestartResumesAndCatchesFork(t *testing.T) {
	st := mysqlStore(t)
	e := newEnv(t, st)
	e.appendAccesses(t, 700)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	fork := e.log.Fork(300)
	fork.AppendN("fork", 200)
	e.appendAccesses(t, 100)
	e.restart(t)
	if got := e.mon.Confirmed().Size; got != 700 {
		t.Fatalf("resumed at %d, want 700", got)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The fork's checkpoint, as a witness would serve it.
	_, _, inconsistent, err := e.mon.Observe(e.ctx, fork.Checkpoint(t, 500), "witness test")
	if err != nil || !inconsistent {
		t.Fatalf("fork not caught: %v %v", inconsistent, err)
	}
	ids, _ := st.EvidenceIDs(e.ctx)
	if len(ids) != 1 {
		t.Fatalf("%d evidence bundles", len(ids))
	}
	onDisk, err := os.ReadFile(filepath.Join(e.cfg.EvidenceDir, ids[0]+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	verifyIndependently(t, e.log, onDisk)
	if fs := e.findings(t, monitor.RuleSplitView); len(fs) != 1 {
		t.Fatalf("split view findings: %+v", fs)
	}
}

// TestReplay100k replays 100,000 signed entries on MariaDB.
func TestReplay100k(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under the race detector; run without -race")
	}
	st := mysqlStore(t)
	e := newEnv(t, st)
	e.appendAccesses(t, 100000)
	start := time.Now()
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("replayed and verified 100000 entries in %v (%.0f entries/s)", time.Since(start), 100000/time.Since(start).Seconds())
	if e.mon.Confirmed().Size != 100000 {
		t.Fatal("incomplete")
	}
}
