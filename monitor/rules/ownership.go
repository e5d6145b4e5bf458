package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/htlog/htlog/internal/ident"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// CustodyOwnership follows who holds each serialised package and fires on
// an event about it logged by an organisation that does not: under the
// DSCSA only the owner transacts a product (FD&C Act 581(24), 582(c)(1):
// ownership passes with a transaction and its transaction information and
// statement), and an EPCIS event is the record of the party that handled
// the product. The first event seen of a package (its commissioning, or a
// transformation's output) makes its submitter the holder; a shipment by
// the holder names where the package goes; a receipt at one of those
// destinations (or anywhere, if the shipment named none) makes the
// receiving submitter the holder; when the shipment named an owning party
// (CBV owning_party, a PGLN) other than the receiver, as a shipment to a
// third-party logistics provider does, that party's organisation
// (gln:<GLN>) may act on the package too. An event by anyone else fires
// custody_not_owner; so does a receipt with no shipment to it, unless a
// shipment by the holder to it, timed at or before it, is logged within the
// settle window after it (custody events are logged late). A recall notice
// (disposition recalled on an event that does not move the package), which
// the manufacturer sends about packages it no longer holds, is not judged.
// Lots (class-level quantities) are split among owners and not followed.
type CustodyOwnership struct {
	// Holders maps a package key to who holds it.
	Holders table[*holding] `json:"holders"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Foreign are events by a non-holder waiting for a shipment to them
	// logged late.
	Foreign queue[heldForeign] `json:"foreign"`
	s       settler
	pk      *packing
}

// holding is who holds a package, and where its pending shipment goes.
type holding struct {
	Org string `json:"org"`
	// Owner is the owning party the shipment to Org named, when it is
	// another organisation: it may act on the package too.
	Owner string `json:"owner,omitempty"`
	// Since is the time of the event that made Org the holder.
	Since time.Time `json:"since"`
	// Shipped is set by a shipment not yet received; To are its
	// destinations (none: any), At its time.
	Shipped bool      `json:"shipped,omitempty"`
	To      []string  `json:"to,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// ToOwner is the organisation of the shipment's owning party, if any.
	ToOwner string `json:"to_owner,omitempty"`
}

// heldForeign is an event (Ref) about a package (Key) by an organisation
// that did not hold it; Receiver is set for a receipt.
type heldForeign struct {
	Ref      ref      `json:"ref"`
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Step     string   `json:"step"`
	Holder   string   `json:"holder"`
	Receiver []string `json:"receiver,omitempty"`
}

func newCustodyOwnership(s settler, pk *packing) *CustodyOwnership {
	return &CustodyOwnership{s: s, pk: pk}
}

// Name implements Rule.
func (r *CustodyOwnership) Name() string { return "custody_not_owner" }

// State implements Rule.
func (r *CustodyOwnership) State() any { return r }

func (r *CustodyOwnership) parts() []part {
	return []part{{"holders", &r.Holders}, {"clock", &r.Clock}, {"foreign", &r.Foreign}}
}

// Observe implements Rule.
func (r *CustodyOwnership) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	if c := e.Custody; c != nil && !(c.Disposition == "recalled" && !movement(c.BizStep)) {
		for _, it := range itemsOf(c, r.pk) {
			if it.Serial != "" {
				out = append(out, r.item(e, c, it)...)
			}
		}
	}
	for _, h := range r.Foreign.settle(r.Clock) {
		out = append(out, h.find(r.Name(), ""))
	}
	return out
}

func movement(step string) bool {
	return step == "shipping" || step == "receiving" || step == "dispensing" || step == "retail_selling"
}

func (r *CustodyOwnership) item(e *entry.Entry, c *entry.Custody, it item) []finding.Finding {
	org := e.Org()
	st, _ := r.Holders.mut(it.Key)
	if st == nil {
		st = &holding{Org: org, Since: e.Time}
		r.Holders.put(it.Key, st)
	}
	switch {
	case c.BizStep == "receiving" && st.Org != org && st.Owner != org && st.Shipped && receivedBy(st.To, receiverOf(c)):
		r.transfer(it.Key, st, org, e.Time)
		return nil
	case st.Org == org || st.Owner == org:
		if c.BizStep == "shipping" {
			st.Shipped, st.To, st.At, st.ToOwner = true, partiesOf(c.Destinations), e.Time, owningParty(c.Destinations)
			r.lateShipment(it.Key, st, e.Time)
		}
		return nil
	}
	h := heldForeign{Ref: refOf(e), Key: it.Key, Label: it.label(), Step: c.BizStep, Holder: st.Org}
	if c.BizStep == "receiving" {
		h.Receiver = receiverOf(c)
	}
	var out []finding.Finding
	for _, h := range r.Foreign.push(r.s.due(r.Clock), h, r.s.max) {
		out = append(out, h.find(r.Name(), r.s.early()))
	}
	return out
}

// transfer makes org the holder of package key from time at, and settles
// the held events of org about it timed at or after at.
func (r *CustodyOwnership) transfer(key string, st *holding, org string, at time.Time) {
	owner := st.ToOwner
	if owner == org {
		owner = ""
	}
	st.Org, st.Owner, st.Since, st.Shipped, st.To, st.At, st.ToOwner = org, owner, at, false, nil, time.Time{}, ""
	if owner != "" {
		r.Foreign.take(func(h *heldForeign) bool {
			return h.Key == key && h.Ref.Org == owner && !h.Ref.Time.Before(at)
		})
	}
	r.Foreign.take(func(h *heldForeign) bool {
		return h.Key == key && h.Ref.Org == org && !h.Ref.Time.Before(at)
	})
}

// lateShipment settles, for a shipment by the holder timed at shippedAt, a
// receipt held earlier at one of its destinations timed at or after it: the
// shipment was logged late, and the receiver is the holder from the
// receipt on.
func (r *CustodyOwnership) lateShipment(key string, st *holding, shippedAt time.Time) {
	var receipts []heldForeign
	for _, it := range r.Foreign.Items {
		h := it.Item
		if h.Key == key && h.Step == "receiving" && !h.Ref.Time.Before(shippedAt) && receivedBy(st.To, h.Receiver) {
			receipts = append(receipts, h)
		}
	}
	if len(receipts) == 0 {
		return
	}
	first := slices.MinFunc(receipts, func(a, b heldForeign) int { return a.Ref.Time.Compare(b.Ref.Time) })
	r.transfer(key, st, first.Ref.Org, first.Ref.Time)
}

// owningParty returns the organisation (gln:<GLN>) of the first owning
// party among destinations, "" if none names one.
func owningParty(ds []entry.Party) string {
	for _, d := range ds {
		if d.Type == "owning_party" {
			if gln, ok := ident.GLNOfEPC(d.Party); ok {
				return "gln:" + gln
			}
		}
	}
	return ""
}

// find builds the finding about an event by a non-holder.
func (h heldForeign) find(rule, note string) finding.Finding {
	what := h.Step + " by " + h.Ref.Org + ", which does not hold the package (it is " + h.Holder + "'s)"
	if h.Step == "receiving" {
		what = "received by " + h.Ref.Org + " with no shipment to it from " + h.Holder + ", the holder"
	}
	return h.Ref.find(rule, finding.High, fmt.Sprintf("%s: %s%s", h.Label, what, note))
}
