package rules_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/rules"
)

// outOfOrderLog returns entries that exercise every rule that waits: late
// grants (permitting, not permitting, never logged), late revocations, a
// revocation before its grant, receipts before shipments and after the next
// one, a late dispensing, a late decommissioning, a late verification, an
// enrollment before its registration, and entries far enough apart for the
// settle window to pass in the middle and at the end.
func outOfOrderLog(s *scenario) []*entry.Entry {
	t := s.t
	var log []*entry.Entry
	add := func(kind string, at time.Time, body any, supersedes ...string) {
		log = append(log, s.entry(len(log), kind, at, body, supersedes...))
	}
	signed := func(kind string, at time.Time, body any) (func(), string) {
		raw, id := s.sub.Sign(t, kind, at, body)
		return func() { log = append(log, s.check(len(log), kind, raw)) }, id
	}
	const b, c = "urn:epc:id:pgln:0614141.00002", "urn:epc:id:pgln:0614141.00003"
	logAlice, alice := signed("consent", t0, montest.Consent("alice", hospital, t0))
	logBob, bob := signed("consent", t0, montest.Consent("bob", hospital, t0))
	logCarol, carol := signed("consent", t0, montest.Consent("carol", hospital, t0))
	never := "sha256:" + strings.Repeat("1", 64)
	add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", alice))
	add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", bob)) // bob's consent
	add("access", t0.Add(2*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", never))
	add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
	add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
	logAlice()
	add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", alice))
	add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b)) // settles the receipt
	add("consent", t0.Add(150*time.Minute), montest.Revocation("alice", hospital, t0.Add(150*time.Minute), alice), alice)
	logBob()
	add("consent", t0.Add(2*time.Hour), montest.Revocation("carol", hospital, t0.Add(2*time.Hour), carol), carol)
	add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "carol", "HRESCH", carol))
	logCarol()
	add("custody", t0.Add(3*time.Hour), montest.Custody("receiving", "active", "s2", "2027-01-31", b)) // never shipped
	add("custody", t0.Add(4*time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", c))
	add("custody", t0.Add(150*time.Minute), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31")) // catches the shipment
	add("custody", t0, montest.Custody("commissioning", "active", "s3", "2027-01-31"))
	add("custody", t0.Add(5*time.Hour), montest.Custody("commissioning", "active", "s3", "2027-01-31"))
	add("custody", t0.Add(3*time.Hour), montest.Custody("decommissioning", "active", "s3", "2027-01-31"))
	add("custody", t0.Add(6*time.Hour), montest.Custody("commissioning", "active", "s3", "2027-01-31")) // twice
	add("custody", t0.Add(time.Hour), custody("shipping", "returned", "s4", "", b))
	add("custody", t0.Add(3*time.Hour), custody("shipping", "in_transit", "s4", "", c))
	add("custody", t0.Add(2*time.Hour), custody("receiving", "returned", "s4", "verified", b))
	add("custody", t0.Add(time.Hour), custody("shipping", "returned", "s5", "", b))
	add("custody", t0.Add(3*time.Hour), custody("shipping", "in_transit", "s5", "", c)) // never verified
	add("trial", t0.Add(5*time.Hour), trialEvent("NCT00000011", "enrollment", map[string]any{"target_sample_size": map[string]any{"n": 10, "type": "actual"}}))
	add("trial", t0.Add(6*time.Hour), montest.TrialRegistration("NCT00000011", "2026-01-01", "2026-02-01", 100, "mortality"))
	add("custody", t0.Add(150*time.Minute), montest.Custody("receiving", "active", "s1", "2027-01-31", b)) // a second receipt
	add("custody", t0.Add(5*time.Hour), montest.Custody("dispensing", "dispensed", "s6", "2027-01-31"))
	add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s6", "2027-01-31", b)) // before the dispensing
	add("custody", t0.Add(7*time.Hour), montest.Custody("receiving", "active", "s6", "2027-01-31", b))  // after it
	add("custody", t0.Add(7*time.Hour), montest.Custody("commissioning", "active", "s7", "2027-01-31"))
	add("custody", t0.Add(6*time.Hour), montest.Custody("decommissioning", "active", "s7", "2027-01-31")) // before it: no end
	add("custody", t0.Add(8*time.Hour), montest.Custody("commissioning", "active", "s7", "2027-01-31"))   // twice
	add("custody", t0.Add(3*time.Hour), custody("shipping", "returned", "s8", "", b))
	add("custody", t0.Add(5*time.Hour), custody("shipping", "in_transit", "s8", "", c))
	add("custody", t0.Add(2*time.Hour), custody("receiving", "active", "s8", "verified", b)) // before the return: no verification of it
	add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s9", "2027-01-31", b))
	add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s9", "2027-01-31", b))
	add("custody", t0.Add(3*time.Hour), montest.Custody("shipping", "in_transit", "s9", "2027-01-31", c))
	add("custody", t0.Add(150*time.Minute), montest.Custody("receiving", "active", "s9", "2027-01-31", b)) // the shipment to b is taken
	// An access logged with the clock at 8h waits until 32h.
	logErin, erin := signed("consent", t0, montest.Consent("erin", hospital, t0))
	add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "erin", "HRESCH", erin))
	add("access", t0.Add(31*time.Hour), montest.Access(hospital, "dr-b", "dave", "TREAT", ""))
	logErin()
	for i := range 8 {
		add("access", t0.Add(time.Duration(40+5*i)*time.Hour), montest.Access(hospital, "dr-b", "dave", "TREAT", ""))
	}
	return log
}

// replay feeds log to a fresh engine with options o, moving to another
// fresh engine restored from the previous one's JSON snapshot after each
// entry i with cut(i), and returns the findings as lines.
func replay(t *testing.T, o rules.Options, log []*entry.Entry, cut func(i int) bool) []string {
	t.Helper()
	var out []string
	engine := rules.NewEngine(rules.All(o))
	for i, e := range log {
		for _, f := range engine.Observe(e) {
			out = append(out, fmt.Sprintf("%s@%d %v %s: %s", f.Rule, f.Index, f.EventIDs, f.Submitter, f.Detail))
		}
		if cut(i) {
			snap, err := engine.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			engine = rules.NewEngine(rules.All(o))
			if err := engine.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// TestRulesDeterministicAcrossRestarts feeds the same entries in one go and
// in chunks with Snapshot/Restore into a fresh engine between them (held
// and recent events included), with the default bounds and with bounds
// small enough to push items out early: the findings are identical.
func TestRulesDeterministicAcrossRestarts(t *testing.T) {
	s := newScenario(t)
	log := outOfOrderLog(s)
	for _, o := range []rules.Options{{}, {SettleMax: 2, SettleWindow: 3 * time.Hour}} {
		t.Run(fmt.Sprintf("max %d window %v", o.SettleMax, o.SettleWindow), func(t *testing.T) {
			want := replay(t, o, log, func(int) bool { return false })
			fired := map[string]bool{}
			for _, w := range want {
				fired[w[:strings.Index(w, "@")]] = true
			}
			for _, rule := range []string{"access_without_consent", "access_after_revocation", "custody_chain_break",
				"duplicate_commissioning", "returned_without_verification", "late_trial_registration"} {
				if !fired[rule] {
					t.Fatalf("the scenario never fires %s, so it tests too little: %v", rule, want)
				}
			}
			for _, chunk := range []int{1, 2, 3, 5, 7, 11} {
				if got := replay(t, o, log, func(i int) bool { return (i+1)%chunk == 0 }); !slices.Equal(got, want) {
					t.Errorf("in chunks of %d:\n%s\nin one go:\n%s", chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 20 {
				if got := replay(t, o, log, func(int) bool { return rng.IntN(3) == 0 }); !slices.Equal(got, want) {
					t.Errorf("in random chunks:\n%s\nin one go:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// TestSnapshotMidWindow restarts the engine while accesses wait for their
// consent and for a late revocation: the restored engine neither loses nor
// repeats a finding, and gives exactly what an uninterrupted run gives.
func TestSnapshotMidWindow(t *testing.T) {
	s := newScenario(t)
	grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
	never := "sha256:" + strings.Repeat("2", 64)
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 0 waits, then permitted
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", never)) // 1 waits in vain
	s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
	s.wantNothingElse()
	snap, err := s.engine.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(snap), never) {
		t.Fatalf("the snapshot does not hold the waiting access: %s", snap)
	}
	s.engine = rules.NewEngine(rules.All(rules.Options{}))
	if err := s.engine.Restore(snap); err != nil {
		t.Fatal(err)
	}
	s.log("consent", grantRaw, grant)                                                                               // 3 settles 0 and 2
	s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant) // 4 catches 2
	s.want("access_after_revocation", 2)
	s.add("access", t0.Add(20*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
	s.wantNothingElse()
	s.add("access", t0.Add(30*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", "")) // the window passes
	s.want("access_without_consent", 1)
	s.add("access", t0.Add(60*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
	s.wantNothingElse()

	// The same entries without the restart give the same findings.
	var log []*entry.Entry
	for i, f := range []func(int) *entry.Entry{
		func(i int) *entry.Entry {
			return s.entry(i, "access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		},
		func(i int) *entry.Entry {
			return s.entry(i, "access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", never))
		},
		func(i int) *entry.Entry {
			return s.entry(i, "access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		},
		func(i int) *entry.Entry { return s.check(i, "consent", grantRaw) },
		func(i int) *entry.Entry {
			return s.entry(i, "consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
		},
		func(i int) *entry.Entry {
			return s.entry(i, "access", t0.Add(30*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
		},
	} {
		log = append(log, f(i))
	}
	once := replay(t, rules.Options{}, log, func(int) bool { return false })
	restarted := replay(t, rules.Options{}, log, func(i int) bool { return i == 2 })
	if len(once) != 2 || !slices.Equal(once, restarted) {
		t.Errorf("restarted mid-window:\n%s\nuninterrupted:\n%s", strings.Join(restarted, "\n"), strings.Join(once, "\n"))
	}
}

// TestSettleBounds: every queue keeps at most SettleMax items, so the
// snapshot stops growing; held events pushed out are reported at once, and
// a late revocation that may have needed a dropped access says so.
func TestSettleBounds(t *testing.T) {
	t.Run("held accesses", func(t *testing.T) {
		s := newScenario(t, rules.Options{SettleMax: 3})
		// size is the bytes of the two consent rules' state, whose queues
		// the accesses fill (the agent rules keep their own bounded times).
		size := func() int {
			snap, err := s.engine.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(snap, &m); err != nil {
				t.Fatal(err)
			}
			return len(m["access_without_consent"]) + len(m["access_after_revocation"])
		}
		unknown := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
		for i := range 4 {
			s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", unknown(i)))
		}
		full := size() // full, and one pushed out of each queue
		for i := 4; i < 100; i++ {
			s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", unknown(i)))
		}
		// (Up to a few bytes more: the items' sequence numbers, their
		// row keys, gain digits.)
		if got := size(); got > full+40 {
			t.Errorf("the snapshot grew from %d to %d bytes with the queues full", full, got)
		}
		// Each access past the third pushes the oldest waiting one out.
		if got := s.fired["access_without_consent"]; len(got) != 97 || got[0] != 0 || got[96] != 96 {
			t.Fatalf("reported early: %v", got)
		}
		if f := s.all[0]; !strings.Contains(f.Detail, "judged early") {
			t.Errorf("an access reported early does not say so: %s", f.Detail)
		}
		delete(s.fired, "access_without_consent")
		s.add("access", t0.Add(30*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
		s.want("access_without_consent", 97, 98, 99)
		s.wantNothingElse()
	})
	t.Run("oversized", func(t *testing.T) {
		// An event too large to queue (only a schema-invalid one can be) is
		// judged on its own entry.
		engine := rules.NewEngine(rules.All(rules.Options{}))
		e := &entry.Entry{Index: 0, ID: "sha256:" + strings.Repeat("3", 64), Time: t0,
			Event:  &event.Event{Submitter: event.Submitter{Org: hospital}},
			Access: &entry.Access{PurposeOfUse: "HRESCH", Patient: strings.Repeat("p", 2000), Authorization: "sha256:" + strings.Repeat("4", 64)}}
		fs := engine.Observe(e)
		if len(fs) != 1 || fs[0].Rule != "access_without_consent" || fs[0].Index != 0 {
			t.Fatalf("findings %v", fs)
		}
		snap, err := engine.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(snap), strings.Repeat("p", 2000)) {
			t.Errorf("the oversized access is in the snapshot")
		}
	})
	t.Run("overflow note", func(t *testing.T) {
		s := newScenario(t, rules.Options{SettleMax: 3})
		grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
		for i := range 5 { // 1..5; the first two are dropped
			s.add("access", t0.Add(time.Duration(i+1)*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		}
		s.wantNothingElse()
		s.add("consent", t0.Add(30*time.Minute), montest.Revocation("alice", hospital, t0.Add(30*time.Minute), grant), grant) // 6
		s.want("access_after_revocation", 3, 4, 5)
		s.want(rules.RuleSettleOverflow, 6)
		s.wantNothingElse()
	})
	t.Run("custody overflow note", func(t *testing.T) {
		const b, c = "urn:epc:id:pgln:0614141.00002", "urn:epc:id:pgln:0614141.00003"
		for _, late := range []bool{true, false} {
			s := newScenario(t, rules.Options{SettleMax: 2})
			s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
			s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b)) // dropped
			s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
			s.add("custody", t0.Add(3*time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", c))
			if !late {
				s.add("custody", t0.Add(4*time.Hour), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31"))
				s.wantNothingElse()
				continue
			}
			s.add("custody", t0.Add(30*time.Minute), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31")) // 4
			s.want("custody_chain_break", 2, 3)
			s.want(rules.RuleSettleOverflow, 4)
			s.wantNothingElse()
		}
	})
	t.Run("no overflow note", func(t *testing.T) {
		// A revocation timed after every access logged before it cannot
		// have missed a dropped one.
		s := newScenario(t, rules.Options{SettleMax: 3})
		grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
		for i := range 5 {
			s.add("access", t0.Add(time.Duration(i+1)*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		}
		s.add("consent", t0.Add(6*time.Hour), montest.Revocation("alice", hospital, t0.Add(6*time.Hour), grant), grant)
		s.wantNothingElse()
	})
}
