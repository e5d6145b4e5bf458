package rules

import (
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// DuplicateCommissioning fires when a package (GTIN and serial tag) is
// commissioned again without a decommissioning in between: two packages
// carry one identifier, a counterfeit signal.
type DuplicateCommissioning struct {
	Live map[string]string `json:"live"` // package key -> commissioning event id
}

func newDuplicateCommissioning() *DuplicateCommissioning {
	return &DuplicateCommissioning{Live: map[string]string{}}
}

// Name implements Rule.
func (r *DuplicateCommissioning) Name() string { return "duplicate_commissioning" }

// State implements Rule.
func (r *DuplicateCommissioning) State() any { return r }

// Observe implements Rule.
func (r *DuplicateCommissioning) Observe(e *entry.Entry) []finding.Finding {
	c := e.Custody
	if c == nil {
		return nil
	}
	var out []finding.Finding
	for _, p := range c.Products {
		switch c.BizStep {
		case "commissioning":
			if first, ok := r.Live[p.Key()]; ok {
				out = append(out, newFinding(r.Name(), finding.High, e,
					"GTIN "+p.GTIN+" serial "+short(p.Serial)+" commissioned twice", first))
				continue
			}
			r.Live[p.Key()] = e.ID
		case "decommissioning", "destroying":
			delete(r.Live, p.Key())
		}
	}
	return out
}

// CustodyChain follows each package and fires on a break in its chain of
// custody: a receipt with no shipment to the receiver before it; any
// movement (ship, receive, dispense) after the package was dispensed,
// destroyed, decommissioned, reported stolen or recalled; and shipping or
// dispensing after the package's expiry date.
type CustodyChain struct {
	Packages map[string]*pkg `json:"packages"`
}

type pkg struct {
	Terminal  string   `json:"terminal,omitempty"` // why no movement may follow
	LastEvent string   `json:"last_event"`
	ShippedTo []string `json:"shipped_to,omitempty"` // destinations of a pending shipment
	Shipped   bool     `json:"shipped,omitempty"`
}

func newCustodyChain() *CustodyChain { return &CustodyChain{Packages: map[string]*pkg{}} }

// Name implements Rule.
func (r *CustodyChain) Name() string { return "custody_chain_break" }

// State implements Rule.
func (r *CustodyChain) State() any { return r }

// Observe implements Rule.
func (r *CustodyChain) Observe(e *entry.Entry) []finding.Finding {
	c := e.Custody
	if c == nil {
		return nil
	}
	var out []finding.Finding
	fire := func(p entry.Product, why string, others ...string) {
		out = append(out, newFinding(r.Name(), finding.High, e,
			"GTIN "+p.GTIN+" serial "+short(p.Serial)+": "+why, others...))
	}
	movement := c.BizStep == "shipping" || c.BizStep == "receiving" || c.BizStep == "dispensing"
	for _, p := range c.Products {
		st := r.Packages[p.Key()]
		if st == nil {
			st = &pkg{}
			r.Packages[p.Key()] = st
		}
		if movement && st.Terminal != "" {
			fire(p, c.BizStep+" after the package was "+st.Terminal, st.LastEvent)
		}
		if c.BizStep == "shipping" || c.BizStep == "dispensing" {
			if exp, ok := entry.ParseDate(p.Expiry); ok && !e.Time.Before(exp.AddDate(0, 0, 1)) {
				fire(p, c.BizStep+" after expiry "+p.Expiry)
			}
		}
		switch c.BizStep {
		case "shipping":
			st.Shipped, st.ShippedTo = true, partiesOf(c.Destinations)
		case "receiving":
			if !st.Shipped || !receivedBy(st.ShippedTo, c) {
				fire(p, "received with no shipment to the receiver before it", st.LastEvent)
			}
			st.Shipped, st.ShippedTo = false, nil
		case "dispensing":
			st.Terminal = "dispensed"
		case "decommissioning":
			st.Terminal = "decommissioned"
		case "destroying":
			st.Terminal = "destroyed"
		}
		if c.Disposition == "stolen" || c.Disposition == "recalled" {
			st.Terminal = c.Disposition
		}
		st.LastEvent = e.ID
	}
	return out
}

func partiesOf(ps []entry.Party) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Party)
	}
	return out
}

// receivedBy reports whether the receiving event's location or destinations
// match a destination of the shipment (a shipment naming none matches any).
func receivedBy(shippedTo []string, c *entry.Custody) bool {
	if len(shippedTo) == 0 {
		return true
	}
	here := append(partiesOf(c.Destinations), c.BizLocation)
	for _, s := range shippedTo {
		if contains(here, s) {
			return true
		}
	}
	return false
}
