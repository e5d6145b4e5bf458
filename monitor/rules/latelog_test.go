package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/rules"
)

// TestConsentLoggedLate: an access citing a consent logged after it waits
// for it: a grant that permits it settles it silently, one that does not is
// reported against the access, and a consent never logged is reported once
// the log's event time passes the access time plus the settle window.
func TestConsentLoggedLate(t *testing.T) {
	s := newScenario(t)
	grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
	bobRaw, bobGrant := s.sub.Sign(t, "consent", t0, montest.Consent("bob", hospital, t0))
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))                             // 0 its grant comes later
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", bobGrant))                          // 1 cites bob's consent
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", "sha256:"+strings.Repeat("0", 64))) // 2 never logged
	s.log("consent", grantRaw, grant)
	s.log("consent", bobRaw, bobGrant)
	s.want("access_without_consent", 1)
	s.add("access", t0.Add(20*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", "")) // 5: within the window
	s.wantNothingElse()
	s.add("access", t0.Add(26*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", "")) // 6: past it
	s.want("access_without_consent", 2)
	s.wantNothingElse()
}

// TestRevocationLoggedLate: a revocation logged after accesses it predates
// is caught for those at or after its time, not for the ones before.
func TestRevocationLoggedLate(t *testing.T) {
	s := newScenario(t)
	grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))   // 1 before the revocation
	s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 2 after it
	s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
	s.want("access_after_revocation", 2)
	s.add("access", t0.Add(4*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 4 logged after it
	s.want("access_after_revocation", 4)
	s.wantNothingElse()
}

// TestRevocationLoggedLateEdges: an access is reported once even when a
// second, earlier revocation is logged; a revocation logged later than the
// settle window after an access no longer reaches it; and accesses that all
// predate a late revocation stay silent.
func TestRevocationLoggedLateEdges(t *testing.T) {
	t.Run("fires once", func(t *testing.T) {
		s := newScenario(t)
		grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
		s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 1 after both revocations
		s.add("access", t0.Add(5*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 2 after both
		s.add("access", t0.Add(2*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 3 between them
		s.add("consent", t0.Add(4*time.Hour), montest.Revocation("alice", hospital, t0.Add(4*time.Hour), grant), grant)
		s.want("access_after_revocation", 2)
		s.add("consent", t0.Add(90*time.Minute), montest.Revocation("alice", hospital, t0.Add(90*time.Minute), grant), grant)
		s.want("access_after_revocation", 1, 3)
		s.wantNothingElse()
	})
	t.Run("past the window", func(t *testing.T) {
		s := newScenario(t, rules.Options{SettleWindow: 2 * time.Hour})
		grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
		s.add("access", t0.Add(150*time.Minute), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 1 settled by 2
		s.add("access", t0.Add(5*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))     // 2 within the window
		s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
		s.want("access_after_revocation", 2)
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		grant := s.add("consent", t0, montest.Consent("alice", hospital, t0))
		s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		s.add("access", t0.Add(2*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		s.add("consent", t0.Add(3*time.Hour), montest.Revocation("alice", hospital, t0.Add(3*time.Hour), grant), grant)
		s.wantNothingElse()
	})
}

// TestShipmentLoggedLate: a receipt logged before its shipment waits for it
// for the settle window: a shipment to the receiver timed before the receipt
// settles it silently (and is not a movement after the later dispensing);
// one to another party, or timed after the receipt, does not.
func TestShipmentLoggedLate(t *testing.T) {
	const b, c = "urn:epc:id:pgln:0614141.00002", "urn:epc:id:pgln:0614141.00003"
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(3*time.Hour), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31"))
		s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b)) // logged late
		s.add("custody", t0.Add(30*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.wantNothingElse()
	})
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s2", "2027-01-31"))
		s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s2", "2027-01-31", b))    // 1
		s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s2", "2027-01-31", c))   // to another party
		s.add("custody", t0.Add(5*time.Hour), montest.Custody("shipping", "in_transit", "s2", "2027-01-31", b)) // after the receipt
		s.add("custody", t0.Add(26*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))  // 26h = 2h + 24h: not past yet
		s.wantNothingElse()
		s.add("custody", t0.Add(27*time.Hour), montest.Custody("commissioning", "active", "s8", "2027-01-31"))
		s.want("custody_chain_break", 1)
		s.wantNothingElse()
	})
}

// TestConsentLoggedLatePeriod: a grant logged after the access it
// authorises permits it only if its period covers the access time; the
// finding cites the access and the consent, and names where the consent
// was logged.
func TestConsentLoggedLatePeriod(t *testing.T) {
	s := newScenario(t)
	lateRaw, late := s.sub.Sign(t, "consent", t0.Add(2*time.Hour), montest.Consent("alice", hospital, t0.Add(2*time.Hour)))
	okRaw, ok := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", late)) // 0 before the period
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", ok))   // 1 covered
	s.log("consent", okRaw, ok)
	s.wantNothingElse()
	s.log("consent", lateRaw, late) // 3
	s.want("access_without_consent", 0)
	f := s.all[len(s.all)-1]
	if len(f.EventIDs) != 2 || f.EventIDs[1] != late || !strings.Contains(f.Detail, "outside the cited consent's period") ||
		!strings.Contains(f.Detail, "at index 3") {
		t.Errorf("finding %v: %s", f.EventIDs, f.Detail)
	}
	s.add("access", t0.Add(48*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", "")) // the window passes
	s.wantNothingElse()
}

// TestRevocationLoggedBeforeGrant: a revocation of a consent not logged yet
// is held for the settle window and applies to the grant when it comes.
func TestRevocationLoggedBeforeGrant(t *testing.T) {
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
		s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
		s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 1 after it
		s.want("access_after_revocation", 1)
		s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))   // 2 before it
		s.log("consent", grantRaw, grant)                                                                // settles 1 and 2: the grant permits them
		s.add("access", t0.Add(4*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant)) // 4
		s.want("access_after_revocation", 4)
		s.add("access", t0.Add(40*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
		s.add("consent", t0.Add(5*time.Hour), montest.Revocation("alice", hospital, t0.Add(5*time.Hour), grant), grant)
		s.add("access", t0.Add(3*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		s.log("consent", grantRaw, grant)
		s.add("access", t0.Add(40*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
		s.wantNothingElse()
	})
	t.Run("past the window", func(t *testing.T) {
		// A revocation held past the window is forgotten: the grant logged
		// after that is judged as never revoked.
		s := newScenario(t)
		grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
		s.add("consent", t0.Add(2*time.Hour), montest.Revocation("alice", hospital, t0.Add(2*time.Hour), grant), grant)
		s.add("access", t0.Add(30*time.Hour), montest.Access(hospital, "dr-a", "alice", "TREAT", ""))
		s.log("consent", grantRaw, grant)
		s.add("access", t0.Add(31*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
		s.wantNothingElse()
	})
}

// TestCustodyLoggedLate: a receipt logged after the next shipment is
// accounted for by the shipment to it; a dispensing logged late catches the
// movements timed after it, and only those.
func TestCustodyLoggedLate(t *testing.T) {
	const b, c = "urn:epc:id:pgln:0614141.00002", "urn:epc:id:pgln:0614141.00003"
	t.Run("receipt after the next shipment", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(3*time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", c))
		s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b)) // logged late
		s.add("custody", t0.Add(4*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", c))
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.wantNothingElse()
		// A second receipt of the shipment to b is no longer accounted for.
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b)) // 6
		s.add("custody", t0.Add(80*time.Hour), montest.Custody("commissioning", "active", "s8", "2027-01-31"))
		s.want("custody_chain_break", 6)
		s.wantNothingElse()
	})
	t.Run("dispensing logged late", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(5*time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", c)) // 3
		s.wantNothingElse()
		dispensed := s.add("custody", t0.Add(3*time.Hour), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31")) // 4
		s.want("custody_chain_break", 3)
		if f := s.all[len(s.all)-1]; len(f.EventIDs) != 2 || f.EventIDs[1] != dispensed || !strings.Contains(f.Detail, "at index 4") {
			t.Errorf("finding %v: %s", f.EventIDs, f.Detail)
		}
		s.add("custody", t0.Add(6*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", c)) // 5 logged after it
		s.want("custody_chain_break", 5)
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
		s.add("custody", t0.Add(10*time.Hour), montest.Custody("commissioning", "active", "s2", "2027-01-31"))
		// Logged late, but after every movement of s1.
		s.add("custody", t0.Add(3*time.Hour), montest.Custody("dispensing", "dispensed", "s1", "2027-01-31"))
		// Logged after the dispensing, but timed before it.
		s.add("custody", t0.Add(150*time.Minute), montest.Custody("receiving", "active", "s2", "2027-01-31", b))
		s.add("custody", t0.Add(140*time.Minute), montest.Custody("shipping", "in_transit", "s2", "2027-01-31", b))
		s.add("custody", t0.Add(160*time.Minute), montest.Custody("dispensing", "dispensed", "s2", "2027-01-31"))
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.wantNothingElse()
	})
}

// TestDecommissioningLoggedLate: a second commissioning waits for a
// decommissioning logged late and timed between the two.
func TestDecommissioningLoggedLate(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(5*time.Hour), montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(3*time.Hour), montest.Custody("decommissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.wantNothingElse()
	})
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		first := s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(5*time.Hour), montest.Custody("commissioning", "active", "s1", "2027-01-31")) // 1
		s.add("custody", t0.Add(6*time.Hour), montest.Custody("decommissioning", "active", "s1", "2027-01-31"))
		// A decommissioning logged late but timed before the live
		// commissioning does not end it.
		s.add("custody", t0.Add(10*time.Hour), montest.Custody("commissioning", "active", "s2", "2027-01-31"))
		s.add("custody", t0.Add(9*time.Hour), montest.Custody("decommissioning", "active", "s2", "2027-01-31"))
		s.add("custody", t0.Add(12*time.Hour), montest.Custody("commissioning", "active", "s2", "2027-01-31")) // 5
		s.wantNothingElse()
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.want("duplicate_commissioning", 1, 5)
		if f := s.all[0]; len(f.EventIDs) != 2 || f.EventIDs[1] != first {
			t.Errorf("finding cites %v, want the first commissioning second", f.EventIDs)
		}
		s.wantNothingElse()
	})
	t.Run("next life", func(t *testing.T) {
		// Once a late decommissioning settles the second commissioning, a
		// third one is a duplicate of the second.
		s := newScenario(t)
		s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		second := s.add("custody", t0.Add(5*time.Hour), montest.Custody("commissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(3*time.Hour), montest.Custody("decommissioning", "active", "s1", "2027-01-31"))
		s.add("custody", t0.Add(8*time.Hour), montest.Custody("commissioning", "active", "s1", "2027-01-31")) // 3
		s.add("custody", t0.Add(40*time.Hour), montest.Custody("commissioning", "active", "s9", "2027-01-31"))
		s.want("duplicate_commissioning", 3)
		if f := s.all[0]; len(f.EventIDs) != 2 || f.EventIDs[1] != second {
			t.Errorf("finding cites %v, want the second commissioning second", f.EventIDs)
		}
		s.wantNothingElse()
	})
}

// TestRegistrationLoggedLate: an enrollment logged before its trial's
// registration waits for it; a registration timed before the enrollment
// settles it, one timed after it reports it at once.
func TestRegistrationLoggedLate(t *testing.T) {
	enrollment := func(id string) map[string]any {
		return trialEvent(id, "enrollment", map[string]any{"target_sample_size": map[string]any{"n": 10, "type": "actual"}})
	}
	// The log refuses an enrollment of a trial it has no registration of
	// (trial_authority); a log that admitted one anyway is also judged on
	// the registration it logs late.
	s := newScenario(t)
	s.add("trial", t0.Add(5*time.Hour), enrollment("NCT00000011")) // 0
	s.want("trial_authority", 0)
	s.add("trial", t0.Add(time.Hour), montest.TrialRegistration("NCT00000011", "2026-01-01", "2026-02-01", 100, "mortality")) // settles 0
	s.wantNothingElse()
	s.add("trial", t0.Add(5*time.Hour), enrollment("NCT00000012")) // 2
	s.want("trial_authority", 2)
	reg := s.add("trial", t0.Add(6*time.Hour), montest.TrialRegistration("NCT00000012", "2026-01-01", "2026-02-01", 100, "mortality")) // 3
	s.want("late_trial_registration", 2)
	if f := s.all[len(s.all)-1]; len(f.EventIDs) != 2 || f.EventIDs[1] != reg || !strings.Contains(f.Detail, "at index 3") {
		t.Errorf("finding %v: %s", f.EventIDs, f.Detail)
	}
	s.add("trial", t0.Add(5*time.Hour), enrollment("NCT00000013")) // 4: never registered
	s.want("trial_authority", 4)
	s.wantNothingElse()
	s.add("trial", t0.Add(40*time.Hour), enrollment("NCT00000011"))
	s.want("late_trial_registration", 4)
	s.wantNothingElse()
}

// TestSettleWindowOff: a negative settle window judges every event on its
// own entry, as the rules did before they waited.
func TestSettleWindowOff(t *testing.T) {
	const b = "urn:epc:id:pgln:0614141.00002"
	s := newScenario(t, rules.Options{SettleWindow: -1})
	grantRaw, grant := s.sub.Sign(t, "consent", t0, montest.Consent("alice", hospital, t0))
	s.add("access", t0.Add(time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
	s.want("access_without_consent", 0)
	s.log("consent", grantRaw, grant)
	s.add("custody", t0, montest.Custody("commissioning", "active", "s1", "2027-01-31"))
	s.add("custody", t0.Add(2*time.Hour), montest.Custody("receiving", "active", "s1", "2027-01-31", b))
	s.want("custody_chain_break", 3)
	s.add("custody", t0.Add(time.Hour), montest.Custody("shipping", "in_transit", "s1", "2027-01-31", b))
	s.add("access", t0.Add(2*time.Hour), montest.Access(hospital, "dr-a", "alice", "HRESCH", grant))
	s.add("consent", t0.Add(90*time.Minute), montest.Revocation("alice", hospital, t0.Add(90*time.Minute), grant), grant)
	s.wantNothingElse() // the late revocation is not checked against earlier accesses
}
