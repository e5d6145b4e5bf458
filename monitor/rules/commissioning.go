package rules

import (
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// DuplicateCommissioning fires when a package (GTIN and serial tag) is
// commissioned again without a decommissioning in between: two packages
// carry one identifier, a counterfeit signal. The outputs of a version 3
// transformation (repackaging, relabelling) are commissioned by it, and its
// inputs decommissioned.
//
// A second commissioning is held for the settle window: a decommissioning
// or destruction of the package logged within it and timed between the two
// commissionings settles it silently (the package was decommissioned, then
// commissioned again). A decommissioning timed before the live
// commissioning, logged late, does not end it.
type DuplicateCommissioning struct {
	Live table[string] `json:"live"` // package key -> commissioning event id
	// Since maps a live package key to its commissioning time.
	Since table[time.Time] `json:"since"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Pending are second commissionings waiting for a decommissioning
	// logged late.
	Pending queue[heldCommission] `json:"pending"`
	s       settler
}

// heldCommission is a commissioning (Ref) of a package already live since
// FirstAt by the commissioning First.
type heldCommission struct {
	Ref     ref       `json:"ref"`
	GTIN    string    `json:"gtin"`
	Serial  string    `json:"serial"`
	First   string    `json:"first"`
	FirstAt time.Time `json:"first_at,omitzero"`
}

// is reports whether the held event is of package p.
func (h *heldCommission) is(p entry.Product) bool { return h.GTIN == p.GTIN && h.Serial == p.Serial }

func newDuplicateCommissioning(s settler) *DuplicateCommissioning {
	return &DuplicateCommissioning{s: s}
}

// Name implements Rule.
func (r *DuplicateCommissioning) Name() string { return "duplicate_commissioning" }

// State implements Rule.
func (r *DuplicateCommissioning) State() any { return r }

func (r *DuplicateCommissioning) parts() []part {
	return []part{{"live", &r.Live}, {"since", &r.Since}, {"clock", &r.Clock}, {"pending", &r.Pending}}
}

// Observe implements Rule.
func (r *DuplicateCommissioning) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	report := func(h heldCommission, note string) {
		out = append(out, h.Ref.find(r.Name(), finding.High,
			"GTIN "+h.GTIN+" serial "+short(h.Serial)+" commissioned twice"+note, h.First))
	}
	if c := e.Custody; c != nil {
		// A transformation (version 3) consumes its inputs and
		// commissions its outputs.
		for _, group := range []struct {
			step string
			ps   []entry.Product
		}{{c.BizStep, c.Products}, {"decommissioning", c.InputProducts}, {"commissioning", c.OutputProducts}} {
			for _, p := range group.ps {
				r.product(e, group.step, p, report)
			}
		}
	}
	for _, h := range r.Pending.settle(r.Clock) {
		report(h, "")
	}
	return out
}

// product follows package p through an event of business step step.
func (r *DuplicateCommissioning) product(e *entry.Entry, step string, p entry.Product, report func(heldCommission, string)) {
	k := p.Key()
	switch step {
	case "commissioning":
		if first, ok := r.Live.get(k); ok {
			h := heldCommission{Ref: refOf(e), GTIN: p.GTIN, Serial: p.Serial, First: first, FirstAt: r.liveSince(k)}
			for _, h := range r.Pending.push(r.s.due(r.Clock), h, r.s.max) {
				report(h, r.s.early())
			}
			return
		}
		r.Live.put(k, e.ID)
		r.Since.put(k, e.Time)
	case "decommissioning", "destroying":
		h, ok := r.Pending.first(func(h *heldCommission) bool {
			return h.is(p) && !e.Time.Before(h.FirstAt) && !h.Ref.Time.Before(e.Time)
		})
		switch {
		case ok: // it ended the first life; the held commissioning began the next
			r.Live.put(k, h.Ref.ID)
			r.Since.put(k, h.Ref.Time)
			r.Pending.each(func(o *heldCommission) bool {
				if o.is(p) {
					o.First, o.FirstAt = h.Ref.ID, h.Ref.Time
					return true
				}
				return false
			})
		case !e.Time.Before(r.liveSince(k)):
			r.Live.del(k)
			r.Since.del(k)
		}
	}
}

// liveSince returns when package k's live commissioning happened (zero if
// none).
func (r *DuplicateCommissioning) liveSince(k string) time.Time {
	t, _ := r.Since.get(k)
	return t
}
