package monitor_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/store"
)

// testRulesSavedLessOften makes the rules' state count as large, so that
// commits save it only every 512 entries, and restarts a monitor whose
// saved rules are behind its position: the restarted monitor must replay
// the entries in between to learn the consent granted there, and end with
// exactly the findings of a monitor that never stopped.
func testRulesSavedLessOften(t *testing.T, st store.Store) {
	lessOften := func(c *monitor.Config) {
		c.RulesSmall, c.RulesEvery, c.RulesInterval = 1, 512, time.Hour
		c.Rules.SettleWindow = -1 // judge each event on its own entry
	}
	e := newEnv(t, st, lessOften)
	e.appendAccesses(t, 600)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	// Entries 600-609: a consent, then TREAT accesses; saved as a position only.
	grant, grantID := e.sub.Sign(t, "consent", t0.Add(700*time.Second), montest.Consent("pat-1", "npi:1234567893", t0))
	e.log.Append(grant)
	e.appendAccesses(t, 9)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	saved, err := st.LoadState(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Size != 610 || saved.RulesSize != 600 {
		t.Fatalf("saved position %d with rules at %d, want 610 and 600", saved.Size, saved.RulesSize)
	}

	e.restart(t)
	// A research access citing the consent (no finding), and one citing none
	// (access_without_consent).
	cited, _ := e.sub.Sign(t, "access", t0.Add(800*time.Second), montest.Access("npi:1234567893", "dr-x", "pat-1", "HRESCH", grantID))
	uncited, _ := e.sub.Sign(t, "access", t0.Add(801*time.Second), montest.Access("npi:1234567893", "dr-x", "pat-2", "HRESCH", ""))
	e.log.Append(cited, uncited)
	if err := e.mon.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.mon.Confirmed().Size; got != 612 {
		t.Fatalf("confirmed %d, want 612", got)
	}
	got := findingKeys(t, st)

	// The same log replayed by a monitor that never stopped.
	control := store.NewMem()
	cfg := e.cfg
	cfg.Store = control
	m, err := monitor.New(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := findingKeys(t, control)
	if !slices.Equal(got, want) {
		t.Fatalf("findings after the restart:\n%v\nwithout a restart:\n%v", got, want)
	}
	fs, _ := st.Findings(e.ctx, finding.Filter{Rule: "access_without_consent"})
	if len(fs) != 1 || fs[0].Index != 611 {
		t.Fatalf("access_without_consent findings: %+v (the consent at 600 must be known after the restart)", fs)
	}
}

func findingKeys(t *testing.T, st store.Store) []string {
	t.Helper()
	fs, err := st.Findings(context.Background(), finding.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range fs {
		keys = append(keys, f.Rule+" "+f.Key())
	}
	slices.Sort(keys)
	return keys
}

func TestRulesSavedLessOften(t *testing.T) { testRulesSavedLessOften(t, store.NewMem()) }

func TestRulesSavedLessOftenOnMySQL(t *testing.T) { testRulesSavedLessOften(t, mysqlStore(t)) }

// testResumeFromRows replays a mixed log (every kind of event, fresh tags,
// so rules hold events, settle them and drop them over a small bound) with
// commits every 256 entries, the rules' rows saved only every 512 entries,
// and a crash at every third commit (the failed commit's rows, position and
// findings lost together), each followed by a restart; it must end with
// exactly the findings of a monitor that never stopped. A change to the
// rules' state lost on a restart (a held event forgotten) or applied twice
// (entries replayed into a state that already had them: a second
// commissioning of the same package) changes the findings.
func testResumeFromRows(t *testing.T, st store.Store) {
	mod := func(c *monitor.Config) {
		c.CommitEvery = 256
		c.RulesSmall, c.RulesEvery, c.RulesInterval = 1, 512, time.Hour
		c.Rules.SettleWindow, c.Rules.SettleMax = 10*time.Minute, 64
	}
	cs := &crashStore{Store: st}
	e := newEnv(t, cs, mod)
	fillMixed(t, e, 1500)
	e.appendAccesses(t, 300)
	fillMixed(t, e, 500)
	e.restart(t) // with the registry fillMixed set
	n := e.log.Size()
	crashes := 0
	for {
		cs.commits, cs.failAt = 0, 3
		err := e.mon.Step(e.ctx)
		if err == nil {
			break
		}
		crashes++
		if crashes > 20 {
			t.Fatalf("no progress: %v", err)
		}
		e.restart(t)
	}
	if crashes == 0 {
		t.Fatal("no crash: the test tests nothing")
	}
	if got := e.mon.Confirmed().Size; got != n {
		t.Fatalf("confirmed %d, want %d", got, n)
	}
	got := findingKeys(t, st)

	cfg := e.cfg
	cfg.Store = store.NewMem()
	m, err := monitor.New(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Step(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := findingKeys(t, cfg.Store)
	if len(want) < 10 {
		t.Fatalf("only %d findings: the log tests too little", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after %d crashes, %d findings; without a crash, %d; only after the crashes: %v; only without: %v",
			crashes, len(got), len(want), minus(got, want), minus(want, got))
	}
}

// minus returns the elements of a not in b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestResumeFromRows(t *testing.T) { testResumeFromRows(t, store.NewMem()) }

func TestResumeFromRowsOnMySQL(t *testing.T) { testResumeFromRows(t, mysqlStore(t)) }
