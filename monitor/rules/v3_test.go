package rules_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/monitor/rules"
)

// The version 3 tests start from the schemas' version 3 examples
// (schemas/examples/v3), each modelled on a standard's published example
// (EPCIS 2.0, DSCSA, WHO TRDS; see the README there), and change only what
// the case is about.

// Organisations of the supply chain: a manufacturer, a wholesaler and a
// stranger to the package.
const (
	manufacturer = "gln:0361414000001"
	wholesaler   = "gln:0614141000005"
	stranger     = "gln:0614141000012"
)

// newChain returns a scenario whose registry has the hospital and the
// supply chain's organisations, and the submitters by organisation.
func newChain(t *testing.T) (*scenario, map[string]*montest.Submitter) {
	s := newScenario(t)
	subs := map[string]*montest.Submitter{hospital: s.sub}
	all := []*montest.Submitter{s.sub}
	for _, org := range []string{manufacturer, wholesaler, stranger} {
		subs[org] = montest.NewSubmitter(t, org)
		all = append(all, subs[org])
	}
	s.checker = farFuture(montest.Checker(t, montest.Registry(t, all...)))
	return s, subs
}

// example reads a version 3 example body.
func example(t *testing.T, kind, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "schemas", "examples", "v3", kind, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// add3 logs body as a version 3 event of kind by sub at at, and returns its
// id.
func (s *scenario) add3(sub *montest.Submitter, kind string, at time.Time, body map[string]any) string {
	s.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		s.t.Fatal(err)
	}
	raw := sub.SignVersion(s.t, kind, 3, at, b)
	env, err := event.ParseEnvelope(raw)
	if err != nil {
		s.t.Fatal(err)
	}
	s.log(kind, raw, env.ID())
	return env.ID()
}

// pkgEvent is the EPCIS shipping example turned into step/disposition for
// package serial (a tag of serial), with the given destination location
// and a fresh event id.
func pkgEvent(t *testing.T, step, disposition, serial, lot, to string) map[string]any {
	b := example(t, "custody", "valid-shipping-serialised")
	b["biz_step"], b["disposition"] = step, disposition
	b["epcis_event_id"] = "urn:uuid:" + uuidOf(step+disposition+serial+lot+to)
	p := b["products"].([]any)[0].(map[string]any)
	p["serial"], p["lot"] = montest.Tag(serial), lot
	delete(b, "read_point")
	if step == "commissioning" {
		b["action"] = "ADD"
	}
	if step != "shipping" {
		delete(b, "sources")
		delete(b, "destinations")
	}
	if to != "" {
		b["destinations"] = []any{map[string]any{"type": "location", "party": to}}
		if step == "receiving" {
			b["biz_location"] = to
		}
	}
	return b
}

func uuidOf(s string) string {
	h := montest.Tag(s)[7:]
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

const wholesalerDock = "urn:epc:id:sgln:0614141.00777.0"

func TestSuspectProduct(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	// The example: an illegitimate product quarantined (holding,
	// non_sellable_other), FDA notified 6 hours after the determination.
	quarantined := func(serial string) map[string]any {
		b := example(t, "custody", "valid-illegitimate-product-quarantined")
		b["products"].([]any)[0].(map[string]any)["serial"] = montest.Tag(serial)
		b["epcis_event_id"] = "urn:uuid:" + uuidOf("q"+serial)
		return b
	}
	t.Run("fires", func(t *testing.T) {
		s, subs := newChain(t)
		m := subs[manufacturer]
		// Determined illegitimate but left active and notified 30 hours late.
		late := quarantined("p1")
		late["disposition"], late["biz_step"] = "active", "inspecting"
		late["illegitimate_product"].(map[string]any)["fda_notified_at"] = "2025-05-03T15:00:00Z"
		s.add3(m, "custody", at, late)                                                                                    // 0
		s.want(rules.RuleFDANoticeLate, 0)                                                                                // at once: the notice is late
		s.add3(m, "custody", at.Add(2*time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock)) // 1
		s.want(rules.RuleQuarantineBreach, 1)
		// Determined illegitimate and quarantined, never notified.
		silent := quarantined("p2")
		delete(silent["illegitimate_product"].(map[string]any), "fda_notified_at")
		s.add3(m, "custody", at, silent) // 2
		// A failed verification with no quarantine.
		nv := pkgEvent(t, "inspecting", "active", "p3", "A12345B", "")
		nv["verification"] = map[string]any{"result": "no_response"}
		s.add3(m, "custody", at.Add(time.Hour), nv) // 3
		s.wantNothingElse()
		s.add3(m, "custody", at.Add(60*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", "")) // 4
		s.want(rules.RuleNotQuarantined, 0, 3)
		s.want(rules.RuleFDANoticeLate, 2)
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s, subs := newChain(t)
		m := subs[manufacturer]
		s.add3(m, "custody", at, quarantined("p1"))
		// Returned to the manufacturer while quarantined: allowed.
		back := pkgEvent(t, "shipping", "returned", "p1", "A12345B", wholesalerDock)
		s.add3(m, "custody", at.Add(time.Hour), back)
		// A suspect product quarantined, then cleared and shipped.
		sus := pkgEvent(t, "holding", "non_sellable_other", "p2", "A12345B", "")
		sus["suspect_product"] = map[string]any{"flag": true}
		s.add3(m, "custody", at, sus)
		clear := pkgEvent(t, "inspecting", "sellable_accessible", "p2", "A12345B", "")
		clear["suspect_product"] = map[string]any{"flag": false}
		s.add3(m, "custody", at.Add(time.Hour), clear)
		s.add3(m, "custody", at.Add(2*time.Hour), pkgEvent(t, "shipping", "in_transit", "p2", "A12345B", wholesalerDock))
		// A failed verification, verified on a second request.
		nv := pkgEvent(t, "inspecting", "non_sellable_other", "p3", "A12345B", "")
		nv["verification"] = map[string]any{"result": "not_verified"}
		s.add3(m, "custody", at, nv)
		ok := pkgEvent(t, "inspecting", "sellable_accessible", "p3", "A12345B", "")
		ok["verification"] = map[string]any{"result": "verified"}
		s.add3(m, "custody", at.Add(time.Hour), ok)
		s.add3(m, "custody", at.Add(2*time.Hour), pkgEvent(t, "shipping", "in_transit", "p3", "A12345B", wholesalerDock))
		s.add3(m, "custody", at.Add(60*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
		s.wantNothingElse()
	})
}

func TestCustodyOwnership(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	t.Run("fires", func(t *testing.T) {
		s, subs := newChain(t)
		s.add3(subs[manufacturer], "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", ""))                           // 0
		s.add3(subs[manufacturer], "custody", at.Add(time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock)) // 1
		// A stranger dispenses the package, and receives one never shipped to it.
		s.add3(subs[stranger], "custody", at.Add(2*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p1", "A12345B", ""))         // 2
		s.add3(subs[manufacturer], "custody", at, pkgEvent(t, "commissioning", "active", "p2", "A12345B", ""))                      // 3
		s.add3(subs[stranger], "custody", at.Add(2*time.Hour), pkgEvent(t, "receiving", "active", "p2", "A12345B", wholesalerDock)) // 4
		s.wantNothingElse()                                                                                                         // held: a shipment to them may be logged late
		s.add3(subs[manufacturer], "custody", at.Add(30*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
		s.want("custody_not_owner", 2, 4)
		s.want("custody_chain_break", 4) // a receipt without a shipment is that rule's too
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s, subs := newChain(t)
		m, w := subs[manufacturer], subs[wholesaler]
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", ""))
		s.add3(m, "custody", at.Add(time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock))
		s.add3(w, "custody", at.Add(2*time.Hour), pkgEvent(t, "receiving", "active", "p1", "A12345B", wholesalerDock))
		s.add3(w, "custody", at.Add(3*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p1", "A12345B", ""))
		// The receipt and a dispensing logged before the shipment.
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p2", "A12345B", ""))
		s.add3(w, "custody", at.Add(2*time.Hour), pkgEvent(t, "receiving", "active", "p2", "A12345B", wholesalerDock))
		s.add3(w, "custody", at.Add(3*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p2", "A12345B", ""))
		s.add3(m, "custody", at.Add(time.Hour), pkgEvent(t, "shipping", "in_transit", "p2", "A12345B", wholesalerDock))
		// The manufacturer's recall notice about a package it shipped.
		rc := pkgEvent(t, "holding", "recalled", "p1", "A12345B", "")
		s.add3(m, "custody", at.Add(4*time.Hour), rc)
		s.add3(m, "custody", at.Add(30*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
		s.wantNothingElse()
	})
}

// TestCustodyOwnershipThirdParty: the EPCIS shipping example names the
// wholesaler as owning party and a dock as location; a logistics provider
// receives there for it. Both may act on the package; the manufacturer,
// which sold it, may not.
func TestCustodyOwnershipThirdParty(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	s, subs := newChain(t)
	m, w, lsp := subs[manufacturer], subs[wholesaler], subs[stranger]
	s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", "")) // 0
	ship := pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", "")
	ship["destinations"] = []any{
		map[string]any{"type": "owning_party", "party": "urn:epc:id:pgln:0614141.00000"}, // the wholesaler, gln:0614141000005
		map[string]any{"type": "location", "party": wholesalerDock},
	}
	s.add3(m, "custody", at.Add(time.Hour), ship)                                                                     // 1
	s.add3(lsp, "custody", at.Add(2*time.Hour), pkgEvent(t, "receiving", "active", "p1", "A12345B", wholesalerDock))  // 2: the provider receives
	s.add3(lsp, "custody", at.Add(3*time.Hour), pkgEvent(t, "storing", "sellable_accessible", "p1", "A12345B", ""))   // 3
	s.add3(w, "custody", at.Add(4*time.Hour), pkgEvent(t, "holding", "sellable_not_accessible", "p1", "A12345B", "")) // 4: the owner
	s.add3(m, "custody", at.Add(5*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p1", "A12345B", ""))            // 5: the seller
	s.add3(m, "custody", at.Add(40*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
	s.want("custody_not_owner", 5)
	s.wantNothingElse()
}

func TestLotRecall(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	recall := func() map[string]any { return example(t, "custody", "valid-lot-recall") } // lot A12345B
	t.Run("fires", func(t *testing.T) {
		s, subs := newChain(t)
		m := subs[manufacturer]
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", ""))                             // 0
		s.add3(m, "custody", at.Add(3*time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock)) // 1: after the recall, logged before it
		s.add3(m, "custody", at.Add(2*time.Hour), recall())                                                               // 2
		s.want("recalled_lot_moved", 1)
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p2", "A12345B", ""))                  // 3
		s.add3(m, "custody", at.Add(4*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p2", "A12345B", "")) // 4
		s.want("recalled_lot_moved", 4)
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s, subs := newChain(t)
		m := subs[manufacturer]
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", ""))
		s.add3(m, "custody", at.Add(time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock)) // before the recall
		s.add3(m, "custody", at.Add(2*time.Hour), recall())
		s.add3(m, "custody", at.Add(3*time.Hour), pkgEvent(t, "shipping", "recalled", "p1", "A12345B", wholesalerDock)) // back to the firm
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p2", "B999", ""))
		s.add3(m, "custody", at.Add(3*time.Hour), pkgEvent(t, "shipping", "in_transit", "p2", "B999", wholesalerDock)) // another lot
		s.wantNothingElse()
	})
}

func TestResultsDeadlinesByLaw(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d.Add(9 * time.Hour) }
	// registration is the TRDS example: phase 3, FDA-regulated drug, US
	// sites, EU CTR; primary completion 2028-12-31, end of trial 2030-06-30.
	registration := func(id string, change func(b map[string]any)) map[string]any {
		b := example(t, "trial", "valid-registration")
		b["registry_id"] = id
		if change != nil {
			change(b)
		}
		return b
	}
	tick := func(s *scenario, d string) {
		s.add("custody", day(d), custody("commissioning", "active", "tick"+d, ""))
	}
	t.Run("FDAAA 801 and EU CTR", func(t *testing.T) {
		s := newScenario(t)
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06123456", nil)) // 0
		tick(s, "2029-12-31")                                                       // 1: the FDAAA deadline day
		tick(s, "2030-01-02")                                                       // 2: past it and the window
		s.want("missing_trial_results", 2)
		if f := s.all[len(s.all)-1]; !strings.Contains(f.Detail, "42 CFR 11.44(a)") || f.EventIDs[1] != s.ids[0] {
			t.Errorf("finding %q %v: want the FDAAA deadline, citing the registration", f.Detail, f.EventIDs)
		}
		tick(s, "2031-07-02") // 3: past the EU deadline, 12 months after 2030-06-30
		s.want("missing_trial_results", 3)
		if f := s.all[len(s.all)-1]; !strings.Contains(f.Detail, "Article 37(4)") {
			t.Errorf("finding %q: want the EU CTR deadline", f.Detail)
		}
		s.wantNothingElse()
	})
	t.Run("results in time", func(t *testing.T) {
		s := newScenario(t)
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06123456", nil))
		s.add3(s.sub, "trial", day("2029-10-01"), example(t, "trial", "valid-results"))
		tick(s, "2032-01-01")
		s.wantNothingElse()
	})
	t.Run("the law sets no deadline", func(t *testing.T) {
		s := newScenario(t)
		// The phase 1 example: FDAAA 801 excludes it, the EU CTR does not apply.
		s.add3(s.sub, "trial", day("2025-01-10"), example(t, "trial", "valid-registration-phase-1"))
		// A phase 3 trial with no US site, IND or export and outside the EU.
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06000002", func(b map[string]any) {
			b["fdaaa801"] = map[string]any{"fda_regulated_drug": true, "us_site": false}
			b["eu_ctr"] = map[string]any{"applies": false}
			b["countries"] = []any{"CA"}
		}))
		tick(s, "2033-01-01")
		s.wantNothingElse()
	})
	t.Run("certification, extension, paediatric", func(t *testing.T) {
		s := newScenario(t)
		noEU := func(b map[string]any) { b["eu_ctr"] = map[string]any{"applies": false} }
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06000003", noEU)) // 0
		s.add3(s.sub, "trial", day("2029-06-01"), map[string]any{"registry_id": "NCT06000003", "subtype": "status", "sponsor": montest.Sponsor,
			"recruitment_status": "completed", "results_delay": map[string]any{"type": "certification_initial_approval", "submitted": "2029-06-01"}}) // 1
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06000004", noEU)) // 2
		s.add3(s.sub, "trial", day("2029-11-01"), map[string]any{"registry_id": "NCT06000004", "subtype": "status", "sponsor": montest.Sponsor,
			"recruitment_status": "completed", "results_delay": map[string]any{"type": "extension", "submitted": "2029-11-01", "new_deadline": "2030-06-30"}}) // 3
		s.add3(s.sub, "trial", day("2025-01-10"), registration("NCT06000005", func(b map[string]any) {
			b["fdaaa801"] = map[string]any{"fda_regulated_drug": true, "us_site": false}
			b["eu_ctr"] = map[string]any{"applies": true, "paediatric": true}
		})) // 4
		tick(s, "2030-06-01") // 5: before every deadline
		tick(s, "2031-01-02") // 6: past the paediatric six months (2030-12-30) and the extension
		s.want("missing_trial_results", 6, 6)
		tick(s, "2031-06-03") // 7: past the certification's two years
		s.want("missing_trial_results", 7)
		s.wantNothingElse()
	})
}

func TestOutcomeSwitchingCoded(t *testing.T) {
	at := time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)
	reg := example(t, "trial", "valid-registration") // SNOMED 281756005, 36 months, median time to event
	results := func(change func(o map[string]any)) map[string]any {
		b := example(t, "trial", "valid-results")
		o := b["primary_outcomes"].([]any)[0].(map[string]any)
		change(o)
		return b
	}
	t.Run("fires", func(t *testing.T) {
		s := newScenario(t)
		s.add3(s.sub, "trial", at, reg)                                              // 0
		s.add3(s.sub, "trial", at.AddDate(4, 9, 0), results(func(o map[string]any) { // 1
			o["time_frame"] = map[string]any{"value": 24, "unit": "month", "anchor": "randomization"}
		}))
		s.add3(s.sub, "trial", at.AddDate(4, 9, 1), results(func(o map[string]any) { // 2
			o["measure"] = map[string]any{"system": "http://snomed.info/sct", "code": "445320007"}
		}))
		s.add3(s.sub, "trial", at.AddDate(4, 9, 2), results(func(o map[string]any) { o["aggregation"] = "mean" })) // 3
		s.want("outcome_switching", 1, 2, 3)
		if d := s.all[0].Detail; !strings.Contains(d, "1 with another time frame") || !strings.Contains(d, "in its results") {
			t.Errorf("detail %q", d)
		}
		s.wantNothingElse()
	})
	t.Run("silent", func(t *testing.T) {
		s := newScenario(t)
		s.add3(s.sub, "trial", at, reg)
		// The same measure and time frame, reworded and written in years.
		s.add3(s.sub, "trial", at.AddDate(4, 9, 0), results(func(o map[string]any) {
			o["time_frame"] = map[string]any{"value": 3, "unit": "year", "anchor": "randomization"}
			o["text"] = montest.Commit("Progression-free survival, investigator assessed")
		}))
		s.wantNothingElse()
	})
}

// v3Log returns version 3 entries by several organisations that exercise
// the version 3 rules, logged late where a rule waits: a late shipment, a
// late recall, a determination whose quarantine and notice never come, an
// event by a stranger, trials past their deadlines, a switched outcome.
func v3Log(t *testing.T) []*entry.Entry {
	s, subs := newChain(t)
	m, w, x := subs[manufacturer], subs[wholesaler], subs[stranger]
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	var log []*entry.Entry
	add := func(sub *montest.Submitter, kind string, when time.Time, body map[string]any) {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, s.check(len(log), kind, sub.SignVersion(t, kind, 3, when, b)))
	}
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		add(m, "custody", at, pkgEvent(t, "commissioning", "active", p, "A12345B", ""))
	}
	add(w, "custody", at.Add(2*time.Hour), pkgEvent(t, "receiving", "active", "p1", "A12345B", wholesalerDock))
	add(m, "custody", at.Add(time.Hour), pkgEvent(t, "shipping", "in_transit", "p1", "A12345B", wholesalerDock)) // late shipment
	add(x, "custody", at.Add(3*time.Hour), pkgEvent(t, "dispensing", "dispensed", "p2", "A12345B", ""))          // stranger
	add(m, "custody", at.Add(5*time.Hour), pkgEvent(t, "shipping", "in_transit", "p3", "A12345B", wholesalerDock))
	add(m, "custody", at.Add(4*time.Hour), example(t, "custody", "valid-lot-recall")) // late recall
	ill := example(t, "custody", "valid-illegitimate-product-quarantined")
	ill["products"].([]any)[0].(map[string]any)["serial"] = montest.Tag("p4")
	ill["disposition"] = "active"
	delete(ill["illegitimate_product"].(map[string]any), "fda_notified_at")
	add(m, "custody", at.Add(6*time.Hour), ill)
	add(m, "custody", at.Add(7*time.Hour), pkgEvent(t, "shipping", "in_transit", "p4", "A12345B", wholesalerDock))
	add(m, "custody", at, pkgEvent(t, "commissioning", "active", "p5", "A12345B", ""))
	add(m, "custody", at.Add(time.Hour), pack(t, pallet, "ADD", []string{"p5"}))
	add(m, "custody", at.Add(8*time.Hour), shipPallet(t, "1")) // p5, of the recalled lot, through its pallet
	add(m, "custody", at.Add(40*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
	reg := example(t, "trial", "valid-registration")
	add(s.sub, "trial", time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC), reg)
	res := example(t, "trial", "valid-results")
	res["primary_outcomes"].([]any)[0].(map[string]any)["time_frame"] = map[string]any{"value": 12, "unit": "month"}
	res["summary_results"].(map[string]any)["posted_date"] = "2030-03-01"
	add(s.sub, "trial", time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC), res) // late results, switched
	add(m, "custody", time.Date(2031, 8, 1, 9, 0, 0, 0, time.UTC), pkgEvent(t, "commissioning", "active", "p10", "A12345B", ""))
	return log
}

// TestV3RulesDeterministic: the version 3 rules find the same in one go,
// across snapshot restarts and across restarts from saved rows.
func TestV3RulesDeterministic(t *testing.T) {
	log := v3Log(t)
	for _, o := range []rules.Options{{}, {SettleMax: 2, SettleWindow: 3 * time.Hour}} {
		want := replay(t, o, log, func(int) bool { return false })
		fired := map[string]bool{}
		recalled := 0
		for _, w := range want {
			fired[w[:strings.Index(w, "@")]] = true
			if strings.HasPrefix(w, "recalled_lot_moved@") {
				recalled++
			}
		}
		if recalled != 3 { // p3 and p4 shipped, p5 through its pallet
			t.Errorf("options %+v: %d movements of the recalled lot, want 3: %v", o, recalled, want)
		}
		for _, rule := range []string{"custody_not_owner", "recalled_lot_moved", rules.RuleNotQuarantined,
			rules.RuleFDANoticeLate, rules.RuleQuarantineBreach, "missing_trial_results", "outcome_switching"} {
			if !fired[rule] {
				t.Fatalf("options %+v: the log never fires %s: %v", o, rule, want)
			}
		}
		for _, chunk := range []int{1, 2, 3, 5} {
			if got := replay(t, o, log, func(i int) bool { return (i+1)%chunk == 0 }); !slices.Equal(got, want) {
				t.Errorf("in chunks of %d:\n%s\nin one go:\n%s", chunk, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		for seed := range uint64(4) {
			rng := rand.New(rand.NewPCG(seed, 5))
			if got := replayRows(t, o, log, seed, func(int) bool { return rng.IntN(2) == 0 }, func(int) bool { return rng.IntN(2) == 0 }); !slices.Equal(got, want) {
				t.Errorf("seed %d, restarted from rows:\n%s\nin one go:\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// TestExamplesRaiseOnlyWhatTheLawRequires logs the public-health
// disclosure and the trial examples, version 2 and 3, as a hospital and a
// sponsor would, and lets the clock run years past every deadline: a
// disclosure under HIPAA 164.512(b) needs no consent, and a trial that
// registered in time and posted its results in time (or that no results
// law covers, the phase 1 study) raises nothing.
func TestExamplesRaiseOnlyWhatTheLawRequires(t *testing.T) {
	s := newScenario(t)
	at := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	v2, err := os.ReadFile(filepath.Join("..", "..", "schemas", "examples", "access", "valid-disclosure-to-public-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw := s.sub.SignVersion(t, "access", 2, at, v2)
	env, _ := event.ParseEnvelope(raw)
	s.log("access", raw, env.ID())
	ph := example(t, "access", "valid-disclosure-to-public-health")
	ph["recorded"] = at.Add(2 * time.Minute).Format(time.RFC3339)
	s.add3(s.sub, "access", at.Add(time.Minute), ph)
	s.add3(s.sub, "trial", time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC), example(t, "trial", "valid-registration"))
	s.add3(s.sub, "trial", time.Date(2025, 2, 10, 9, 0, 0, 0, time.UTC), example(t, "trial", "valid-amendment-countries"))
	s.add3(s.sub, "trial", time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC), example(t, "trial", "valid-registration-phase-1"))
	s.add3(s.sub, "trial", time.Date(2029, 10, 1, 9, 0, 0, 0, time.UTC), example(t, "trial", "valid-results"))
	s.add("custody", time.Date(2033, 1, 1, 9, 0, 0, 0, time.UTC), custody("commissioning", "active", "tick", ""))
	if len(s.all) > 0 {
		for _, f := range s.all {
			t.Errorf("%s@%d: %s", f.Rule, f.Index, f.Detail)
		}
	}
	s.wantNothingElse()
}

// TestTransformation: the EPCIS 2.0 transformation example (repackaging)
// ends its input package and commissions its output.
func TestTransformation(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	repack := func(in, out string) map[string]any {
		b := example(t, "custody", "valid-transformation-repackaging")
		b["input_products"].([]any)[0].(map[string]any)["serial"] = montest.Tag(in)
		b["output_products"].([]any)[0].(map[string]any)["serial"] = montest.Tag(out)
		return b
	}
	output := func(step, disposition string) map[string]any {
		b := pkgEvent(t, step, disposition, "out1", "R0001", wholesalerDock)
		b["products"].([]any)[0].(map[string]any)["gtin"] = "00361414999992"
		return b
	}
	s, subs := newChain(t)
	m := subs[manufacturer]
	s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "in1", "A12345B", ""))                             // 0
	s.add3(m, "custody", at.Add(time.Hour), repack("in1", "out1"))                                                     // 1
	s.add3(m, "custody", at.Add(2*time.Hour), output("shipping", "in_transit"))                                        // 2: the output moves: fine
	s.add3(m, "custody", at.Add(2*time.Hour), pkgEvent(t, "shipping", "in_transit", "in1", "A12345B", wholesalerDock)) // 3: the consumed input moves
	s.want("custody_chain_break", 3)
	s.add3(m, "custody", at.Add(3*time.Hour), output("commissioning", "active")) // 4: the output commissioned again
	s.add3(m, "custody", at.Add(40*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
	s.want("duplicate_commissioning", 4)
	s.wantNothingElse()
}

// TestPacking: a shipment that names only a logistic unit (the EPCIS 2.0
// aggregation example's pallet, with a case nested in it) is a shipment
// of every package packed into it, for the DSCSA, recall and custody rules;
// a package unpacked before is not in it.
func TestPacking(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	s, subs := newChain(t)
	m := subs[manufacturer]
	for _, p := range []string{"p1", "p2", "p3"} {
		s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", p, "A12345B", ""))
	}
	s.add3(m, "custody", at.Add(time.Hour), pack(t, kase, "ADD", []string{"p3"}))               // 3
	s.add3(m, "custody", at.Add(time.Hour), pack(t, pallet, "ADD", []string{"p1", "p2"}, kase)) // 4
	s.add3(m, "custody", at.Add(time.Hour), pack(t, pallet, "DELETE", []string{"p2"}))          // 5: p2 taken out
	sus := pkgEvent(t, "holding", "non_sellable_other", "p3", "A12345B", "")                    // p3, in the case in the pallet
	sus["suspect_product"] = map[string]any{"flag": true}
	s.add3(m, "custody", at.Add(2*time.Hour), sus)                // 6
	s.add3(m, "custody", at.Add(3*time.Hour), shipPallet(t, "1")) // 7
	s.want(rules.RuleQuarantineBreach, 7)
	if d := s.all[len(s.all)-1].Detail; !strings.Contains(d, short(montest.Tag("p3"))) {
		t.Errorf("the breach is not about the nested package: %s", d)
	}
	s.wantNothingElse()
	// Unpacked entirely, the pallet holds nothing: its next shipment moves
	// no package.
	s.add3(m, "custody", at.Add(4*time.Hour), pack(t, pallet, "DELETE", nil))
	rc := example(t, "custody", "valid-lot-recall") // lot A12345B
	s.add3(m, "custody", at.Add(5*time.Hour), rc)
	s.add3(m, "custody", at.Add(6*time.Hour), shipPallet(t, "2"))
	s.add3(m, "custody", at.Add(40*time.Hour), pkgEvent(t, "commissioning", "active", "p9", "A12345B", ""))
	s.wantNothingElse()
}

// short is the shortened tag a finding names.
func short(tag string) string { return tag[:len("tag:v1:")+12] }

// pack is the EPCIS 2.0 aggregation example putting packages (serials, of
// lot A12345B) and child units into parent, or taking them out (DELETE).
func pack(t *testing.T, parent, action string, serials []string, units ...string) map[string]any {
	b := example(t, "custody", "valid-aggregation-packing")
	b["parent_sscc"], b["action"] = parent, action
	b["epcis_event_id"] = "urn:uuid:" + uuidOf(parent+action+strings.Join(serials, ","))
	var ps []any
	for _, s := range serials {
		ps = append(ps, map[string]any{"gtin": "00361414567894", "serial": montest.Tag(s), "lot": "A12345B", "expiry": "2027-06-30"})
	}
	if ps == nil {
		delete(b, "products")
	} else {
		b["products"] = ps
	}
	if units == nil {
		delete(b, "child_ssccs")
	} else {
		b["child_ssccs"] = units
	}
	return b
}

// shipPallet is a shipment of the example's pallet, naming only its SSCC.
func shipPallet(t *testing.T, id string) map[string]any {
	b := example(t, "custody", "valid-shipping-logistic-unit")
	b["epcis_event_id"] = "urn:uuid:" + uuidOf("pallet"+id)
	return b
}

const pallet, kase = "106141412345678908", "006141411234567890"

// TestPackingCycle: units packed into each other (only a hostile or broken
// submitter logs that) expand to what they hold, once, and the shipment of
// either is judged.
func TestPackingCycle(t *testing.T) {
	at := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC)
	s, subs := newChain(t)
	m := subs[manufacturer]
	s.add3(m, "custody", at, pkgEvent(t, "commissioning", "active", "p1", "A12345B", ""))
	s.add3(m, "custody", at.Add(time.Hour), pack(t, pallet, "ADD", []string{"p1"}, kase))
	s.add3(m, "custody", at.Add(time.Hour), pack(t, kase, "ADD", nil, pallet))
	s.add3(m, "custody", at.Add(2*time.Hour), example(t, "custody", "valid-lot-recall"))
	s.add3(m, "custody", at.Add(3*time.Hour), shipPallet(t, "1")) // 4
	s.want("recalled_lot_moved", 4)
	if n := len(s.all); n != 1 {
		t.Errorf("%d findings, want one for the one package: %v", n, s.all)
	}
	s.wantNothingElse()
}
