package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/rules"
)

const hospital = "npi:1234567893"

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// scenario signs events, checks them like the monitor does and runs every
// rule over them in order, returning the rules that fired with the index.
type scenario struct {
	t       *testing.T
	sub     *montest.Submitter
	checker *entrycheck.Checker
	engine  *rules.Engine
	n       uint64
	ids     []string // event id by index
	fired   map[string][]uint64
	all     []finding.Finding // every finding, in the order returned
}

func newScenario(t *testing.T, opts ...rules.Options) *scenario {
	o := rules.Options{}
	if len(opts) > 0 {
		o = opts[0]
	}
	sub := montest.NewSubmitter(t, hospital)
	reg := montest.Registry(t, sub)
	return &scenario{t: t, sub: sub, fired: map[string][]uint64{},
		checker: farFuture(montest.Checker(t, reg)),
		engine:  rules.NewEngine(rules.All(o))}
}

// farFuture moves c's clock to 2100: the scenarios are about the rules,
// whose dates run into years the real clock has not reached.
func farFuture(c *entrycheck.Checker) *entrycheck.Checker {
	c.Now = func() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }
	return c
}

// add logs one event and returns its id.
func (s *scenario) add(kind string, at time.Time, body any, supersedes ...string) string {
	raw, id := s.sub.Sign(s.t, kind, at, body, supersedes...)
	s.log(kind, raw, id)
	return id
}

// log logs an event signed earlier (so that others can cite it before it is
// logged). A finding may cite an earlier entry (a late consent or
// revocation settles it); fired records the index each finding cites.
func (s *scenario) log(kind string, raw []byte, id string) {
	res := s.checker.Check(s.n, raw)
	for _, f := range res.Findings {
		s.t.Fatalf("entry %d (%s): unexpected check finding %s: %s", s.n, kind, f.Rule, f.Detail)
	}
	s.ids = append(s.ids, id)
	for _, f := range s.engine.Observe(res.Entry) {
		if f.Index < 0 || f.Index > int64(s.n) || f.EventIDs[0] != s.ids[f.Index] {
			s.t.Fatalf("finding %s cites index %d / %v, which is not a logged entry", f.Rule, f.Index, f.EventIDs)
		}
		s.fired[f.Rule] = append(s.fired[f.Rule], uint64(f.Index))
		s.all = append(s.all, f)
	}
	s.n++
}

// entry signs and checks an event as entry index without logging it, for
// tests that feed the same entries to several engines.
func (s *scenario) entry(index int, kind string, at time.Time, body any, supersedes ...string) *entry.Entry {
	s.t.Helper()
	raw, _ := s.sub.Sign(s.t, kind, at, body, supersedes...)
	return s.check(index, kind, raw)
}

// check checks raw as entry index.
func (s *scenario) check(index int, kind string, raw []byte) *entry.Entry {
	s.t.Helper()
	res := s.checker.Check(uint64(index), raw)
	if len(res.Findings) > 0 || res.Entry == nil {
		s.t.Fatalf("entry %d (%s): unexpected check findings %v", index, kind, res.Findings)
	}
	return res.Entry
}

func (s *scenario) want(rule string, indices ...uint64) {
	s.t.Helper()
	got := s.fired[rule]
	if len(got) != len(indices) {
		s.t.Fatalf("rule %s fired at %v, want %v (all: %v)", rule, got, indices, s.fired)
	}
	for i := range got {
		if got[i] != indices[i] {
			s.t.Fatalf("rule %s fired at %v, want %v", rule, got, indices)
		}
	}
	delete(s.fired, rule)
}

func (s *scenario) wantNothingElse() {
	s.t.Helper()
	if len(s.fired) != 0 {
		s.t.Fatalf("unexpected findings: %v", s.fired)
	}
}

func TestConsentRules(t *testing.T) {
	s := newScenario(t)
	grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 1 ok
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "bob", "HRESCH", grant))   // 2 other patient
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", ""))    // 3 no consent
	s.add("access", t0.Add(-time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", grant)) // 4 before period
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))     // 5 TPO: none needed
	s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
	s.add("access", t0.Add(90*time.Minute), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 7 before revocation: ok
	s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))    // 8 after revocation
	s.want("access_without_consent", 2, 3, 4)
	s.want("access_after_revocation", 8)
	s.wantNothingElse()
}

func TestAgentRules(t *testing.T) {
	s := newScenario(t, rules.Options{BreakGlassMax: 1, VolumeMax: 3})
	s.add("access", t0, montest.Access(hospital, "dr-b", "p1", "ETREAT", ""))
	s.add("access", t0.Add(25*time.Hour), montest.Access(hospital, "dr-b", "p2", "ETREAT", "")) // outside the window
	s.add("access", t0.Add(26*time.Hour), montest.Access(hospital, "dr-b", "p3", "ETREAT", "")) // 2 in 24h > 1
	s.want("break_glass", 2)
	s.want("break_glass_review", 0, 1, 2) // every break-glass access is to be reviewed
	// Volume: more than 3 accesses within an hour, reported once per burst.
	for i := range 6 {
		s.add("access", t0.Add(100*time.Hour+time.Duration(i)*time.Minute), montest.Access(hospital, "dr-c", "p", "TREAT", ""))
	}
	s.want("access_volume", 6)
	s.wantNothingElse()
}

func TestCustodyRules(t *testing.T) {
	s := newScenario(t)
	const b = "urn:epc:id:pgln:0614141.00002"
	s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
	s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b))
	s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
	s.add("custody", t0.Add(3*time.Hour), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31"))
	s.wantNothingElse()                                                                                     // the clean chain
	s.add("custody", t0.Add(4*time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b)) // 4 after dispensed
	s.add("custody", t0, montest.Custody("commissioning", "active", "s2", "2026-02-01"))
	s.add("custody", t0.Add(time.Hour), montest.Custody("commissioning", "active", "s2", "2026-02-01"))     // 6 twice
	s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s2", "2026-02-01", b))    // 7 no ship
	s.add("custody", t0.Add(3*time.Hour), montest.Custody("shipping", "in_transit", "s2", "2026-02-01", b)) // 8 expired
	s.want("custody_chain_break", 4, 8)
	s.wantNothingElse()
	// 6 and 7 wait for a decommissioning or a shipment logged late until the
	// log's clock passes 4h (when they were logged) + 24h.
	s.add("custody", t0.Add(28*time.Hour), montest.Custody("commissioning", "active", "s3", "2027-01-31"))
	s.wantNothingElse()
	s.add("custody", t0.Add(29*time.Hour), montest.Custody("commissioning", "active", "s4", "2027-01-31"))
	s.want("custody_chain_break", 7)
	s.want("duplicate_commissioning", 6)
	s.wantNothingElse()
}

func TestTrialRules(t *testing.T) {
	s := newScenario(t)
	s.add("trial", t0, montest.TrialRegistration("NCT00000001", "2026-01-01", "2026-02-01", 100, "mortality"))
	s.add("trial", t0.Add(time.Hour), montest.TrialAmendment("NCT00000001", 100, "mortality"))
	s.wantNothingElse()
	s.add("trial", t0, montest.TrialRegistration("NCT00000002", "2026-03-01", "2026-01-10", 100, "mortality")) // 2 late
	s.add("trial", t0.Add(time.Hour), montest.TrialAmendment("NCT00000002", 150, "quality of life"))           // 3 switch + size
	s.want("late_trial_registration", 2)
	s.want("outcome_switching", 3)
	s.want("sample_size_change", 3)
	s.wantNothingElse()
}

func TestSnapshotRestore(t *testing.T) {
	s := newScenario(t)
	grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
	s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
	snap, err := s.engine.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	s.engine = rules.NewEngine(rules.All(rules.Options{}))
	if err := s.engine.Restore(snap); err != nil {
		t.Fatal(err)
	}
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
	s.add("custody", t0.Add(time.Hour), montest.Custody("commissioning", "active", "s1", "2027-01-31"))
	s.add("custody", t0.Add(26*time.Hour), montest.Custody("commissioning", "active", "s2", "2027-01-31"))
	s.want("duplicate_commissioning", 3)
	s.wantNothingElse()
}

// custody returns a CUSTODY body with a verification result, if not empty.
func custody(step, disposition, serial, verification string, destinations ...string) map[string]any {
	b := montest.Custody(step, disposition, serial, "2027-01-31", destinations...)
	if verification != "" {
		b["verification"] = map[string]any{"result": verification}
	}
	return b
}

func TestReturnVerification(t *testing.T) {
	const a, b, c = "urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:0614141.00002", "urn:epc:id:pgln:0614141.00003"
	// ship s to B, B returns it to A, A ships it on to C.
	chain := func(s *scenario, serial, verifyOnReturn, verifyOnShip string) {
		s.add("custody", t0, custody("commissioning", "active", serial, ""))
		s.add("custody", t0.Add(time.Hour), custody("shipping", "in_transit", serial, "", b))
		s.add("custody", t0.Add(2*time.Hour), custody("receiving", "active", serial, "", b))
		s.add("custody", t0.Add(3*time.Hour), custody("shipping", "returned", serial, "", a))
		s.add("custody", t0.Add(4*time.Hour), custody("receiving", "returned", serial, verifyOnReturn, a))
		s.add("custody", t0.Add(5*time.Hour), custody("shipping", "in_transit", serial, verifyOnShip, c))
	}
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		chain(s, "s1", "", "")
		chain(s, "s2", "not_verified", "no_response")
		// A verification logged late but timed after the re-shipment.
		chain(s, "s3", "", "")
		s.add("custody", t0.Add(6*time.Hour), custody("receiving", "active", "s3", "verified", c))
		// s2's failed verification made it suspect: shipping it on as
		// saleable stock is a DSCSA quarantine breach at once.
		s.want("dscsa_quarantine_breach", 11)
		s.wantNothingElse() // the re-shipments wait for a verification logged late
		s.add("custody", t0.Add(30*time.Hour), custody("commissioning", "active", "s9", ""))
		s.want("returned_without_verification", 5, 11, 17)
		s.want("dscsa_not_quarantined", 10) // nor was it quarantined within the settle window
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		chain(s, "s1", "verified", "")
		chain(s, "s2", "", "verified")
		// The verified return receipt logged late, after the re-shipment.
		s.add("custody", t0, custody("commissioning", "active", "s4", ""))
		s.add("custody", t0.Add(time.Hour), custody("shipping", "in_transit", "s4", "", b))
		s.add("custody", t0.Add(2*time.Hour), custody("receiving", "active", "s4", "", b))
		s.add("custody", t0.Add(3*time.Hour), custody("shipping", "returned", "s4", "", a))
		s.add("custody", t0.Add(5*time.Hour), custody("shipping", "in_transit", "s4", "", c))
		s.add("custody", t0.Add(4*time.Hour), custody("receiving", "returned", "s4", "verified", a))
		// A package never returned needs no verification.
		s.add("custody", t0, custody("commissioning", "active", "s3", ""))
		s.add("custody", t0.Add(time.Hour), custody("shipping", "in_transit", "s3", "", b))
		s.add("custody", t0.Add(30*time.Hour), custody("commissioning", "active", "s9", ""))
		s.wantNothingElse()
	})
}

func trialEvent(id, subtype string, fields map[string]any) map[string]any {
	b := map[string]any{"registry_id": id, "subtype": subtype, "sponsor": montest.Sponsor}
	for k, v := range fields {
		b[k] = v
	}
	return b
}

func TestMissingResults(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d.Add(9 * time.Hour) }
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		s.add("trial", day("2025-01-10"), montest.TrialRegistration("NCT00000001", "2025-01-01", "2025-01-05", 100, "mortality"))
		s.add("trial", day("2025-06-01"), trialEvent("NCT00000001", "status", map[string]any{
			"recruitment_status": "completed", "primary_completion_date": "2025-05-31"}))
		s.add("custody", day("2026-05-31"), custody("commissioning", "active", "s1", "")) // the deadline day: not late yet
		s.add("custody", day("2026-06-01"), custody("commissioning", "active", "s2", "")) // a year and a day later, within the window
		s.add("custody", day("2026-06-02"), custody("commissioning", "active", "s3", "")) // 4: past the window too
		s.add("custody", day("2026-07-01"), custody("commissioning", "active", "s4", "")) // reported once
		s.want("missing_trial_results", 4)
		s.wantNothingElse()
	})
	t.Run("results logged late", func(t *testing.T) {
		s := newScenario(t)
		for _, id := range []string{"NCT00000004", "NCT00000005"} {
			s.add("trial", day("2025-01-10"), montest.TrialRegistration(id, "2025-01-01", "2025-01-05", 100, "mortality"))
			s.add("trial", day("2025-06-01"), trialEvent(id, "status", map[string]any{
				"recruitment_status": "completed", "primary_completion_date": "2025-05-31"}))
		}
		s.add("custody", day("2026-06-01"), custody("commissioning", "active", "s1", "")) // the clock passes the deadline
		// Results timed before the deadline, logged after the clock passed
		// it: in time. Results timed after it: late.
		s.add("trial", day("2026-05-20"), trialEvent("NCT00000004", "results", map[string]any{
			"results_reference": "https://clinicaltrials.gov/study/NCT00000004?tab=results"}))
		s.add("trial", day("2026-06-01"), trialEvent("NCT00000005", "results", map[string]any{
			"results_reference": "https://clinicaltrials.gov/study/NCT00000005?tab=results"}))
		s.wantNothingElse()
		s.add("custody", day("2026-06-03"), custody("commissioning", "active", "s2", "")) // 7
		s.want("missing_trial_results", 7)
		if f := s.all[len(s.all)-1]; !strings.Contains(f.Detail, "NCT00000005") {
			t.Errorf("the late trial is not the one reported: %s", f.Detail)
		}
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		s.add("trial", day("2025-01-10"), montest.TrialRegistration("NCT00000002", "2025-01-01", "2025-01-05", 100, "mortality"))
		s.add("trial", day("2025-06-01"), trialEvent("NCT00000002", "status", map[string]any{
			"recruitment_status": "completed", "primary_completion_date": "2025-05-31"}))
		s.add("trial", day("2026-03-01"), trialEvent("NCT00000002", "results", map[string]any{
			"results_reference": "https://clinicaltrials.gov/study/NCT00000002?tab=results"}))
		// A trial whose completion date moved later is not due yet.
		s.add("trial", day("2025-01-10"), montest.TrialRegistration("NCT00000003", "2025-01-01", "2025-01-05", 100, "mortality"))
		s.add("trial", day("2025-06-01"), trialEvent("NCT00000003", "status", map[string]any{"recruitment_status": "active_not_recruiting", "primary_completion_date": "2025-05-31"}))
		s.add("trial", day("2025-07-01"), trialEvent("NCT00000003", "status", map[string]any{"recruitment_status": "active_not_recruiting", "primary_completion_date": "2026-01-31"}))
		s.add("custody", day("2026-12-31"), custody("commissioning", "active", "s1", ""))
		s.wantNothingElse()
	})
}

// TestDisclosuresByLegalBasis: a disclosure permitted without the
// patient's authorization (HIPAA 164.512, TPO) needs no consent; one under
// the patient's authorization, or naming no basis, does.
func TestDisclosuresByLegalBasis(t *testing.T) {
	s := newScenario(t)
	disclosure := func(basis string) map[string]any {
		b := montest.Access(hospital, "dr-d", "dora", "PUBHLTH", "")
		d := map[string]any{"flag": true, "recipient": montest.Commit("state health department"), "description": montest.Commit("lab result")}
		if basis != "" {
			d["basis"] = basis
		}
		b["disclosure"] = d
		return b
	}
	s.add("access", t0, disclosure("public-health"))        // 0: permitted without authorization
	s.add("access", t0, disclosure("law-enforcement"))      // 1: idem
	s.add("access", t0.Add(time.Minute), disclosure("tpo")) // 2: idem
	s.wantNothingElse()
	s.add("access", t0.Add(2*time.Minute), disclosure("authorization")) // 3: needs the consent it does not cite
	s.want("access_without_consent", 3)
	s.wantNothingElse()
}
