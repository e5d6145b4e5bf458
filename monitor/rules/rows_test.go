package rules_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/rules"
)

// rowStore is what a store keeps of the rules' state: one value per table
// and key.
type rowStore map[[2]string][]byte

func (s rowStore) apply(rows []rules.Row) {
	for _, r := range rows {
		if r.Value == nil {
			delete(s, [2]string{r.Table, r.Key})
		} else {
			s[[2]string{r.Table, r.Key}] = r.Value
		}
	}
}

// load returns a fresh engine loaded from the rows, in a shuffled order
// (a store returns them in any order).
func (s rowStore) load(t *testing.T, o rules.Options, rng *rand.Rand) *rules.Engine {
	t.Helper()
	keys := slices.Collect(maps.Keys(s))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	g := rules.NewEngine(rules.All(o))
	for _, k := range keys {
		if err := g.LoadRow(rules.Row{Table: k[0], Key: k[1], Value: s[k]}); err != nil {
			t.Fatal(err)
		}
	}
	g.Loaded()
	return g
}

func snapshot(t *testing.T, g *rules.Engine) string {
	t.Helper()
	b, err := g.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// save saves g's changes into s, as the monitor's commit does.
func save(t *testing.T, g *rules.Engine, s rowStore) []rules.Row {
	t.Helper()
	rows, err := g.Changes()
	if err != nil {
		t.Fatal(err)
	}
	s.apply(rows)
	g.Saved()
	return rows
}

// replayRows feeds log to an engine that saves its changed rows after each
// entry i with save(i) and, after each save with restart(i), goes on with a
// fresh engine loaded from the rows. After every save the rows must hold
// exactly the live engine's state (its snapshot). The first restart goes
// through a snapshot in the format from before rows (no sequence numbers),
// as a monitor upgraded from it does.
func replayRows(t *testing.T, o rules.Options, log []*entry.Entry, seed uint64, save_, restart func(i int) bool) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []string
	rows := rowStore{}
	engine := rules.NewEngine(rules.All(o))
	legacy := true
	for i, e := range log {
		for _, f := range engine.Observe(e) {
			out = append(out, fmt.Sprintf("%s@%d %v %s: %s", f.Rule, f.Index, f.EventIDs, f.Submitter, f.Detail))
		}
		if !save_(i) {
			continue
		}
		restarting := restart(i)
		if legacy && restarting {
			// Upgrade: the whole state as an old snapshot, restored and
			// saved as rows.
			legacy = false
			engine = rules.NewEngine(rules.All(o))
			if err := engine.Restore(oldFormat(t, snapshot(t, engineFrom(t, o, log[:i+1])))); err != nil {
				t.Fatal(err)
			}
			engine.TouchAll()
			clear(rows)
		}
		save(t, engine, rows)
		if engine.Pending() != 0 {
			t.Fatalf("%d changes pending after a save", engine.Pending())
		}
		loaded := rows.load(t, o, rng)
		if got, want := snapshot(t, loaded), snapshot(t, engine); got != want {
			t.Fatalf("after entry %d the rows hold\n%s\nbut the state is\n%s", i, got, want)
		}
		if restarting {
			engine = loaded
		}
	}
	return out
}

// engineFrom returns an engine fed log.
func engineFrom(t *testing.T, o rules.Options, log []*entry.Entry) *rules.Engine {
	g := rules.NewEngine(rules.All(o))
	for _, e := range log {
		g.Observe(e)
	}
	return g
}

// oldFormat drops the queues' sequence numbers from a snapshot, as one
// saved before rows existed has none.
func oldFormat(t *testing.T, snap string) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(snap), &v); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "seq")
			delete(v, "next")
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRowsAcrossRestarts: an engine that saves its changed rows now and
// then, and restarts from them, finds what one that never stopped finds,
// and the rows always hold its whole state, with the default bounds and
// with bounds small enough to push items out early.
func TestRowsAcrossRestarts(t *testing.T) {
	s := newScenario(t)
	log := outOfOrderLog(s)
	for _, o := range []rules.Options{{}, {SettleMax: 2, SettleWindow: 3 * time.Hour}} {
		t.Run(fmt.Sprintf("max %d window %v", o.SettleMax, o.SettleWindow), func(t *testing.T) {
			want := replay(t, o, log, func(int) bool { return false })
			always := func(int) bool { return true }
			if got := replayRows(t, o, log, 1, always, func(int) bool { return false }); !slices.Equal(got, want) {
				t.Errorf("saving rows:\n%s\nwithout:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for seed := range uint64(8) {
				rng := rand.New(rand.NewPCG(seed, 3))
				saves := func(int) bool { return rng.IntN(3) == 0 }
				restarts := func(int) bool { return rng.IntN(2) == 0 }
				if got := replayRows(t, o, log, seed, saves, restarts); !slices.Equal(got, want) {
					t.Errorf("seed %d, restarted from rows:\n%s\nin one go:\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// TestRowsSaveOnlyChanges: a save writes the rows the entries since the
// last one changed, not the whole state, and a lost row shows.
func TestRowsSaveOnlyChanges(t *testing.T) {
	s := newScenario(t)
	log := outOfOrderLog(s)
	engine := rules.NewEngine(rules.All(rules.Options{}))
	rows := rowStore{}
	for _, e := range log[:len(log)-1] {
		engine.Observe(e)
	}
	save(t, engine, rows)
	if got := save(t, engine, rows); len(got) != 0 {
		t.Fatalf("a save with nothing changed wrote %v", got)
	}
	engine.Observe(log[len(log)-1])
	changed := save(t, engine, rows)
	if len(changed) == 0 || len(changed) >= len(rows)/2 {
		t.Fatalf("one entry changed %d of %d rows", len(changed), len(rows))
	}
	// The check replayRows makes catches a lost change.
	rng := rand.New(rand.NewPCG(1, 1))
	for _, r := range changed {
		if r.Value == nil {
			continue
		}
		lost := maps.Clone(rows)
		lost.apply([]rules.Row{{Table: r.Table, Key: r.Key}})
		if snapshot(t, lost.load(t, rules.Options{}, rng)) == snapshot(t, engine) {
			t.Errorf("losing row %s %q goes unnoticed", r.Table, r.Key)
		}
	}
}
