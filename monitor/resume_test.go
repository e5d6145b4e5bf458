package monitor_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

// crashStore fails the failAt-th Commit, as if the process died there.
type crashStore struct {
	store.Store
	commits, failAt int
}

func (c *crashStore) Commit(ctx context.Context, st *store.State, fs []finding.Finding) error {
	c.commits++
	if c.commits == c.failAt {
		return errors.New("simulated crash")
	}
	return c.Store.Commit(ctx, st, fs)
}

// bundleCounter counts entry bundle requests.
type bundleCounter struct{ n atomic.Int64 }

func (b *bundleCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/tile/entries/") {
		b.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestCatchUpResumesFromProgress crashes a long catch-up after two of its
// progress commits: the restarted monitor resumes from the last one, fetching
// only the bundles after it, and confirms the log's checkpoint.
func TestCatchUpResumesFromProgress(t *testing.T) {
	mem := store.NewMem()
	cs := &crashStore{Store: mem, failAt: 3}
	bundles := &bundleCounter{}
	e := newEnv(t, cs, func(c *monitor.Config) {
		c.CommitEvery = 512
		c.HTTPClient = &http.Client{Transport: bundles}
	})
	e.appendAccesses(t, 2000)
	if err := e.mon.Step(e.ctx); err == nil {
		t.Fatal("the round succeeded through a failed commit")
	}
	st, err := mem.LoadState(e.ctx)
	if err != nil || st == nil || st.Size != 1024 {
		t.Fatalf("saved progress %+v, %v; want size 1024", st, err)
	}
	cs.failAt = 0
	e.restart(t)
	if c := e.mon.Confirmed(); c != nil {
		t.Fatalf("confirmed size %d before any full round", c.Size)
	}
	bundles.n.Store(0)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.mon.Confirmed().Size; got != 2000 {
		t.Fatalf("confirmed %d, want 2000", got)
	}
	// Entries 1024..1999 are bundles 4 to 7.
	if got := bundles.n.Load(); got != 4 {
		t.Fatalf("the resumed round fetched %d bundles, want 4", got)
	}
	// A second restart at the confirmed size is clean.
	e.restart(t)
	if got := e.mon.Confirmed().Size; got != 2000 {
		t.Fatalf("after restart confirmed %d, want 2000", got)
	}
}

// TestCatchUpResumesOnMySQL is the same crash with the MariaDB store, from
// an empty state (no confirmed checkpoint yet) and from a confirmed one.
func TestCatchUpResumesOnMySQL(t *testing.T) {
	db := mysqlStore(t)
	cs := &crashStore{Store: db, failAt: 2}
	e := newEnv(t, cs, func(c *monitor.Config) { c.CommitEvery = 256 })
	e.appendAccesses(t, 700)
	if err := e.mon.Step(e.ctx); err == nil {
		t.Fatal("the round succeeded through a failed commit")
	}
	if st, err := db.LoadState(e.ctx); err != nil || st == nil || st.Size != 256 || len(st.Checkpoint) != 0 {
		t.Fatalf("saved progress %+v, %v; want size 256 and no confirmed checkpoint", st, err)
	}
	cs.failAt = 0
	e.restart(t)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.appendAccesses(t, 600)
	cs.commits, cs.failAt = 0, 2
	if err := e.mon.Step(e.ctx); err == nil {
		t.Fatal("the second round succeeded through a failed commit")
	}
	cs.failAt = 0
	e.restart(t)
	if got := e.mon.Confirmed().Size; got != 700 {
		t.Fatalf("confirmed %d after the crash, want 700", got)
	}
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.mon.Confirmed().Size; got != 1300 {
		t.Fatalf("confirmed %d, want 1300", got)
	}
}

// TestVerdictsSurviveRestarts: a monitor that crashes in a long catch-up,
// with its rules saved less often than its position (so the restart
// replays entries again), ends with the same verdicts and findings as one
// that never stopped.
func TestVerdictsSurviveRestarts(t *testing.T) {
	e := newEnv(t, store.NewMem())
	logPatientStory(t, e)
	e.appendAccesses(t, 300)
	logPatientStory(t, e) // at 308 to 315: replayed again after the crash below
	e.appendAccesses(t, 800)
	logPatientStory(t, e)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	size := e.mon.Confirmed().Size
	var all []uint64
	for i := range size {
		all = append(all, i)
	}
	snapshot := func(s store.Store) (map[uint64]finding.Verdict, []string) {
		vs, err := s.Verdicts(e.ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := s.Findings(e.ctx, finding.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.ID)
		}
		slices.Sort(keys)
		return vs, keys
	}
	wantV, wantF := snapshot(e.cfg.Store)
	if len(wantV) != 9 { // three stories of an access allowed at once, one allowed late, one permitted disclosure
		t.Fatalf("verdicts of the uninterrupted monitor: %+v", wantV)
	}

	mem := store.NewMem()
	cs := &crashStore{Store: mem, failAt: 3} // commits at 256 (with the rules), 512, then the one at 768 fails
	e.cfg.Store, e.cfg.CommitEvery, e.cfg.RulesSmall, e.cfg.RulesEvery = cs, 256, 1, 512
	e.restart(t)
	if err := e.mon.Step(e.ctx); err == nil {
		t.Fatal("the round succeeded through a failed commit")
	}
	if st, err := mem.LoadState(e.ctx); err != nil || st.Size != 512 || st.RulesSize != 256 {
		t.Fatalf("saved state %+v %v: want the position at 512 and the rules at 256, so the restart replays", st, err)
	}
	cs.failAt = 0
	e.restart(t)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	gotV, gotF := snapshot(mem)
	if !maps.EqualFunc(gotV, wantV, func(a, b finding.Verdict) bool {
		return a.Index == b.Index && a.EventID == b.EventID && a.Kind == b.Kind && a.ConsentIndex == b.ConsentIndex && a.ConsentAt.Equal(b.ConsentAt)
	}) {
		t.Fatalf("verdicts after restarts:\n%+v\nwant\n%+v", gotV, wantV)
	}
	if !slices.Equal(gotF, wantF) {
		t.Fatalf("findings after restarts: %d, want %d", len(gotF), len(wantF))
	}
}
