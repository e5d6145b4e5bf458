package rules

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// LotRecall follows recalls of whole lots (21 CFR Part 7) and fires when a
// package or quantity of a recalled lot moves on as saleable stock after
// the recall: it is dispensed or sold, or shipped or received with a
// saleable disposition. Moving it back to the recalling firm (disposition
// recalled or returned) or under a quarantine disposition is what a recall
// asks for and is not reported.
//
// A lot is recalled by a version 3 custody event with disposition recalled
// and recall.scope lot (every GTIN and lot it names, by products or
// quantities), or by one with disposition recalled about class-level
// quantities (an EPCIS event about a whole lot). A recall logged late
// catches the recent movements of the lot timed after it, logged within the
// settle window before it.
type LotRecall struct {
	// Recalled maps a lot (entry.LotKey) to the recall.
	Recalled table[ref] `json:"recalled"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Moves are the recent saleable movements a late recall may concern.
	Moves queue[lotMove] `json:"moves"`
	s     settler
	pk    *packing
}

// lotMove is a saleable movement (Ref) of an item of a lot.
type lotMove struct {
	Ref      ref    `json:"ref"`
	Lot      string `json:"lot"` // entry.LotKey
	Label    string `json:"label"`
	Step     string `json:"step"`
	Reported bool   `json:"reported,omitempty"`
}

func newLotRecall(s settler, pk *packing) *LotRecall { return &LotRecall{s: s, pk: pk} }

// Name implements Rule.
func (r *LotRecall) Name() string { return "recalled_lot_moved" }

// State implements Rule.
func (r *LotRecall) State() any { return r }

func (r *LotRecall) parts() []part {
	return []part{{"recalled", &r.Recalled}, {"clock", &r.Clock}, {"moves", &r.Moves}}
}

// Observe implements Rule.
func (r *LotRecall) Observe(e *entry.Entry) []finding.Finding {
	late := e.Time.Before(r.Clock)
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	if c := e.Custody; c != nil {
		items := itemsOf(c, r.pk)
		if lotRecall(c) {
			for _, it := range items {
				out = append(out, r.recall(e, it.lotKey(), late)...)
			}
		}
		if saleableMove(c) {
			for _, it := range items {
				if it.Lot == "" {
					continue
				}
				m := lotMove{Ref: refOf(e), Lot: it.lotKey(), Label: it.label(), Step: c.BizStep}
				if rc, ok := r.Recalled.get(m.Lot); ok && e.Time.After(rc.Time) {
					m.Reported = true
					out = append(out, newFinding(r.Name(), finding.High, e, fmt.Sprintf(
						"%s: %s as saleable stock after the lot was recalled (21 CFR Part 7)", m.Label, m.Step), rc.ID))
				}
				r.Moves.push(r.s.due(r.Clock), m, r.s.max)
			}
		}
	}
	r.Moves.settle(r.Clock)
	return out
}

// lotRecall reports whether c recalls whole lots.
func lotRecall(c *entry.Custody) bool {
	if c.Disposition != "recalled" {
		return false
	}
	if c.Recall != nil {
		return c.Recall.Scope == "lot"
	}
	return len(c.Quantities) > 0 && len(c.Products) == 0
}

// recall records the recall of lot by e, keeping the earliest, and reports
// the recent movements of the lot timed after it.
func (r *LotRecall) recall(e *entry.Entry, lot string, late bool) []finding.Finding {
	if rc, ok := r.Recalled.get(lot); ok && !e.Time.Before(rc.Time) {
		return nil
	}
	r.Recalled.put(lot, refOf(e))
	var out []finding.Finding
	r.Moves.each(func(m *lotMove) bool {
		if m.Lot == lot && !m.Reported && m.Ref.Time.After(e.Time) {
			m.Reported = true
			out = append(out, m.Ref.find(r.Name(), finding.High, fmt.Sprintf(
				"%s: %s as saleable stock after the lot was recalled (21 CFR Part 7; the recall was logged later, at index %d)",
				m.Label, m.Step, e.Index), e.ID))
			return true
		}
		return false
	})
	if late && r.Moves.gap(r.Clock) {
		out = append(out, newFinding(RuleSettleOverflow, finding.Medium, e, fmt.Sprintf(
			"%d lot movements were dropped over the bound of %d before the settle window passed; any of this lot timed after this recall went unchecked",
			r.Moves.Dropped, r.s.max)))
	}
	return out
}
