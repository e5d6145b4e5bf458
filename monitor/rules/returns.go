package rules

import (
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// ReturnVerification fires when a returned package is shipped again with no
// verification record: DSCSA requires a returned product to have its
// product identifier verified (through a verification router) before it is
// distributed again. A package is returned once an event gives it the
// disposition "returned"; the return is cleared by a "verified" result on
// that event or on any later event about the package, the re-shipment
// included. A not_verified or no_response result does not clear it.
//
// A re-shipment with no verification logged before it is held for the
// settle window: a "verified" event about the package logged within the
// window and timed between the return and the re-shipment (a verification
// logged late) settles it silently; otherwise it is reported when the
// window has passed.
type ReturnVerification struct {
	// Returned maps a package awaiting verification to the event that
	// returned it.
	Returned table[string] `json:"returned"`
	// ReturnedAt maps a package awaiting verification to its return time.
	ReturnedAt table[time.Time] `json:"returned_at"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Pending are re-shipments waiting for a verification logged late.
	Pending queue[heldReshipment] `json:"pending"`
	s       settler
	pk      *packing
}

// heldReshipment is a shipment (Ref) of a package returned by ReturnedBy at
// ReturnedAt with no verification logged before it.
type heldReshipment struct {
	Ref        ref       `json:"ref"`
	GTIN       string    `json:"gtin"`
	Serial     string    `json:"serial"`
	ReturnedBy string    `json:"returned_by"`
	ReturnedAt time.Time `json:"returned_at,omitzero"`
}

func newReturnVerification(s settler, pk *packing) *ReturnVerification {
	return &ReturnVerification{s: s, pk: pk}
}

// Name implements Rule.
func (r *ReturnVerification) Name() string { return "returned_without_verification" }

// State implements Rule.
func (r *ReturnVerification) State() any { return r }

func (r *ReturnVerification) parts() []part {
	return []part{{"returned", &r.Returned}, {"returned_at", &r.ReturnedAt}, {"clock", &r.Clock}, {"pending", &r.Pending}}
}

// Observe implements Rule.
func (r *ReturnVerification) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	report := func(h heldReshipment, note string) {
		out = append(out, h.Ref.find(r.Name(), finding.High, "GTIN "+h.GTIN+" serial "+short(h.Serial)+
			": returned product shipped again without a verification record"+note, h.ReturnedBy))
	}
	if c := e.Custody; c != nil {
		verified := c.Verification != nil && c.Verification.Result == "verified"
		for _, p := range r.pk.products(c) {
			k := p.Key()
			returnedBy, pending := r.Returned.get(k)
			switch {
			case verified:
				r.Returned.del(k)
				r.ReturnedAt.del(k)
				r.Pending.take(func(h *heldReshipment) bool {
					return h.is(p) && !e.Time.Before(h.ReturnedAt) && !e.Time.After(h.Ref.Time)
				})
			case pending && c.BizStep == "shipping":
				returnedAt, _ := r.ReturnedAt.get(k)
				h := heldReshipment{Ref: refOf(e), GTIN: p.GTIN, Serial: p.Serial, ReturnedBy: returnedBy, ReturnedAt: returnedAt}
				for _, h := range r.Pending.push(r.s.due(r.Clock), h, r.s.max) {
					report(h, r.s.early())
				}
				r.Returned.del(k) // one finding per return
				r.ReturnedAt.del(k)
			}
			if c.Disposition == "returned" && !verified {
				r.Returned.put(k, e.ID)
				r.ReturnedAt.put(k, e.Time)
			}
		}
	}
	for _, h := range r.Pending.settle(r.Clock) {
		report(h, "")
	}
	return out
}

// is reports whether the held event is of package p.
func (h *heldReshipment) is(p entry.Product) bool { return h.GTIN == p.GTIN && h.Serial == p.Serial }
