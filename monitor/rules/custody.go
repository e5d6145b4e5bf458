package rules

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// CustodyChain follows each package and fires on a break in its chain of
// custody: a receipt with no shipment to the receiver before it; any
// movement (ship, receive, dispense) timed after the package was dispensed,
// destroyed, decommissioned, reported stolen or recalled; and shipping or
// dispensing after the package's expiry date.
//
// Custody events are often logged late, so the rule does not go by log
// order alone:
//   - A receipt is accounted for by the package's pending shipment, or by a
//     shipment to the receiver timed at or before it that was logged within
//     the settle window before it and no other receipt took (the receipt
//     was logged after the next shipment). A receipt with neither is held
//     for the settle window: such a shipment logged within it settles the
//     receipt silently; otherwise the receipt is reported when the window
//     has passed.
//   - A movement is compared with the terminal event by time: one logged
//     after the dispensing but timed before it is no break. A terminal
//     event logged late catches the movements timed after it that were
//     logged within the settle window before it.
//
// The inputs of a version 3 transformation (repackaging, relabelling) end
// there: a movement of one timed after it is a break, as after a
// decommissioning.
type CustodyChain struct {
	Packages table[*pkg] `json:"packages"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Receipts are the receipts waiting for a shipment logged late.
	Receipts queue[heldReceipt] `json:"receipts"`
	// Moves are the recent movements a late receipt or terminal event
	// may concern.
	Moves queue[recentMove] `json:"moves"`
	s     settler
	pk    *packing
}

type pkg struct {
	Terminal string `json:"terminal,omitempty"` // why no movement may follow
	// TerminalAt is the time of the earliest terminal event, TerminalBy
	// its id (both empty in a state saved before they existed).
	TerminalAt time.Time `json:"terminal_at,omitzero"`
	TerminalBy string    `json:"terminal_by,omitempty"`
	LastEvent  string    `json:"last_event"`
	ShippedTo  []string  `json:"shipped_to,omitempty"` // destinations of a pending shipment
	Shipped    bool      `json:"shipped,omitempty"`
	ShippedBy  string    `json:"shipped_by,omitempty"` // the pending shipment's event id
}

// heldReceipt is a receipt (Ref) by Receiver with no shipment to it logged
// before it; Prev is the package's event logged before it.
type heldReceipt struct {
	Ref      ref      `json:"ref"`
	GTIN     string   `json:"gtin"`
	Serial   string   `json:"serial"`
	Receiver []string `json:"receiver"`
	Prev     string   `json:"prev,omitempty"`
}

// recentMove is a movement (Ref) of a package: for a shipment, its
// destinations and whether a receipt took it; Reported once a finding
// named it.
type recentMove struct {
	Ref      ref      `json:"ref"`
	GTIN     string   `json:"gtin"`
	Serial   string   `json:"serial"`
	Step     string   `json:"step"`
	To       []string `json:"to,omitempty"`
	Received bool     `json:"received,omitempty"`
	Reported bool     `json:"reported,omitempty"`
}

func newCustodyChain(s settler, pk *packing) *CustodyChain {
	return &CustodyChain{s: s, pk: pk}
}

// Name implements Rule.
func (r *CustodyChain) Name() string { return "custody_chain_break" }

// State implements Rule.
func (r *CustodyChain) State() any { return r }

func (r *CustodyChain) parts() []part {
	return []part{{"packages", &r.Packages}, {"clock", &r.Clock}, {"receipts", &r.Receipts}, {"moves", &r.Moves}}
}

// Observe implements Rule.
func (r *CustodyChain) Observe(e *entry.Entry) []finding.Finding {
	late := e.Time.Before(r.Clock) // an event logged before it may be timed after it
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	if c := e.Custody; c != nil {
		for _, p := range r.pk.products(c) {
			out = append(out, r.product(e, c, p, late, "")...)
		}
		for _, p := range c.InputProducts {
			out = append(out, r.product(e, c, p, late, "transformed (consumed by a repackaging or relabelling)")...)
		}
	}
	for _, h := range r.Receipts.settle(r.Clock) {
		out = append(out, h.find(r.Name(), ""))
	}
	r.Moves.settle(r.Clock)
	return out
}

// product follows package p through custody event e; consumed, when not
// empty, says that e ended the package (the input of a transformation).
func (r *CustodyChain) product(e *entry.Entry, c *entry.Custody, p entry.Product, late bool, consumed string) []finding.Finding {
	var out []finding.Finding
	fire := func(why string, others ...string) {
		out = append(out, newFinding(r.Name(), finding.High, e,
			"GTIN "+p.GTIN+" serial "+short(p.Serial)+": "+why, others...))
	}
	k := p.Key()
	st, _ := r.Packages.mut(k) // changed below
	if st == nil {
		st = &pkg{}
		r.Packages.put(k, st)
	}
	move := recentMove{Ref: refOf(e), GTIN: p.GTIN, Serial: p.Serial, Step: c.BizStep}
	movement := c.BizStep == "shipping" || c.BizStep == "receiving" || c.BizStep == "dispensing"
	// A shipment logged late that settles a receipt belongs before it in
	// the chain: it is not the package's pending shipment.
	settles := false
	if c.BizStep == "shipping" {
		move.To = partiesOf(c.Destinations)
		_, settles = r.Receipts.first(func(h *heldReceipt) bool {
			return h.is(p) && !e.Time.After(h.Ref.Time) && receivedBy(move.To, h.Receiver)
		})
		move.Received = settles
	}
	if movement && st.Terminal != "" && e.Time.After(st.TerminalAt) {
		by := st.TerminalBy
		if by == "" {
			by = st.LastEvent
		}
		fire(c.BizStep+" after the package was "+st.Terminal, by)
		move.Reported = true
	}
	if c.BizStep == "shipping" || c.BizStep == "dispensing" {
		if exp, ok := entry.ParseDate(p.Expiry); ok && !e.Time.Before(exp.AddDate(0, 0, 1)) {
			fire(c.BizStep + " after expiry " + p.Expiry)
		}
	}
	terminal := ""
	switch c.BizStep {
	case "shipping":
		if !settles {
			st.Shipped, st.ShippedTo, st.ShippedBy = true, move.To, e.ID
		}
	case "receiving":
		out = append(out, r.receipt(e, c, p, st)...)
	case "dispensing":
		terminal = "dispensed"
	case "decommissioning":
		terminal = "decommissioned"
	case "destroying":
		terminal = "destroyed"
	}
	if c.Disposition == "stolen" || c.Disposition == "recalled" {
		terminal = c.Disposition
	}
	if consumed != "" {
		terminal = consumed
	}
	if terminal != "" {
		if st.Terminal == "" || e.Time.Before(st.TerminalAt) {
			st.Terminal, st.TerminalAt, st.TerminalBy = terminal, e.Time, e.ID
		}
		// Movements logged before this event but timed after it.
		r.Moves.each(func(m *recentMove) bool {
			if m.is(p) && !m.Reported && m.Ref.Time.After(e.Time) {
				m.Reported = true
				out = append(out, m.Ref.find(r.Name(), finding.High, fmt.Sprintf(
					"GTIN %s serial %s: %s after the package was %s (logged later, at index %d)",
					m.GTIN, short(m.Serial), m.Step, terminal, e.Index), e.ID))
				return true
			}
			return false
		})
		if late && r.Moves.gap(r.Clock) {
			out = append(out, newFinding(RuleSettleOverflow, finding.Medium, e, fmt.Sprintf(
				"%d package movements were dropped over the bound of %d before the settle window passed; any of this package timed after this event went unchecked",
				r.Moves.Dropped, r.s.max)))
		}
	}
	if movement {
		r.Moves.push(r.s.due(r.Clock), move, r.s.max)
	}
	if !settles {
		st.LastEvent = e.ID
	}
	return out
}

// receipt accounts for receiving event e of package p: by the pending
// shipment, by a recent shipment no receipt took (e was logged after the
// next shipment), or else by holding e for a shipment logged late.
func (r *CustodyChain) receipt(e *entry.Entry, c *entry.Custody, p entry.Product, st *pkg) []finding.Finding {
	here := receiverOf(c)
	if st.Shipped && receivedBy(st.ShippedTo, here) {
		r.Moves.each(func(m *recentMove) bool {
			if m.Ref.ID == st.ShippedBy && m.is(p) && !m.Received {
				m.Received = true
				return true
			}
			return false
		})
		st.Shipped, st.ShippedTo, st.ShippedBy = false, nil, ""
		return nil
	}
	earlier := r.Moves.oldest(func(m *recentMove) bool {
		return m.is(p) && m.Step == "shipping" && !m.Received &&
			!m.Ref.Time.After(e.Time) && receivedBy(m.To, here)
	})
	if earlier != nil {
		earlier.Received = true // the pending shipment, a later one, stays pending
		return nil
	}
	st.Shipped, st.ShippedTo, st.ShippedBy = false, nil, ""
	var out []finding.Finding
	h := heldReceipt{Ref: refOf(e), GTIN: p.GTIN, Serial: p.Serial, Receiver: here, Prev: st.LastEvent}
	for _, h := range r.Receipts.push(r.s.due(r.Clock), h, r.s.max) {
		out = append(out, h.find(r.Name(), r.s.early()))
	}
	return out
}

// is reports whether the held receipt is of package p. (Comparing fields,
// not Product.Key strings: the rule scans its queues once per custody
// event, and building a key per queued item was a fifth of replay time.)
func (h *heldReceipt) is(p entry.Product) bool { return h.GTIN == p.GTIN && h.Serial == p.Serial }

// is reports whether the movement is of package p.
func (m *recentMove) is(p entry.Product) bool { return m.GTIN == p.GTIN && m.Serial == p.Serial }

// find builds the finding about a receipt no shipment settled.
func (h heldReceipt) find(rule, note string) finding.Finding {
	var others []string
	if h.Prev != "" {
		others = []string{h.Prev}
	}
	return h.Ref.find(rule, finding.High,
		"GTIN "+h.GTIN+" serial "+short(h.Serial)+": received with no shipment to the receiver before it"+note, others...)
}

func partiesOf(ps []entry.Party) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Party)
	}
	return out
}

// receiverOf returns the parties a receiving event names as the receiver:
// its destinations and its business location.
func receiverOf(c *entry.Custody) []string {
	return append(partiesOf(c.Destinations), c.BizLocation)
}

// receivedBy reports whether a receiver (receiverOf) matches a destination
// of the shipment (a shipment naming none matches any).
func receivedBy(shippedTo, here []string) bool {
	if len(shippedTo) == 0 {
		return true
	}
	for _, s := range shippedTo {
		if contains(here, s) {
			return true
		}
	}
	return false
}
