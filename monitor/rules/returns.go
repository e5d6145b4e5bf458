package rules

import (
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
type ReturnVerification struct {
	// Returned maps a package awaiting verification to the event that
	// returned it.
	Returned map[string]string `json:"returned"`
}

func newReturnVerification() *ReturnVerification {
	return &ReturnVerification{Returned: map[string]string{}}
}

// Name implements Rule.
func (r *ReturnVerification) Name() string { return "returned_without_verification" }

// State implements Rule.
func (r *ReturnVerification) State() any { return r }

// Observe implements Rule.
func (r *ReturnVerification) Observe(e *entry.Entry) []finding.Finding {
	c := e.Custody
	if c == nil {
		return nil
	}
	verified := c.Verification != nil && c.Verification.Result == "verified"
	var out []finding.Finding
	for _, p := range c.Products {
		k := p.Key()
		returnedBy, pending := r.Returned[k]
		switch {
		case verified:
			delete(r.Returned, k)
		case pending && c.BizStep == "shipping":
			out = append(out, newFinding(r.Name(), finding.High, e,
				"GTIN "+p.GTIN+" serial "+short(p.Serial)+": returned product shipped again without a verification record", returnedBy))
			delete(r.Returned, k) // one finding per return
		}
		if c.Disposition == "returned" && !verified {
			r.Returned[k] = e.ID
		}
	}
	return out
}
