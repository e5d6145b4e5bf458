package rules

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// AccessWithoutConsent fires on an access that needs a consent (a
// disclosure under the patient's authorization or with no legal basis,
// an access whose purpose needs one, or one that cites one) but whose
// authorization names no consent grant, or one that does not permit it: not
// active, deny, another patient or grantee, outside its period, or a deny
// provision for its purpose. Break-glass accesses are left to the BreakGlass
// rule.
//
// An access citing a consent not logged yet is held: if the grant is logged
// within the settle window the access is judged against it then (silently if
// it permits the access), otherwise the access is reported when the window
// has passed. Either way the finding cites the access first.
type AccessWithoutConsent struct {
	book     *consentBook
	purposes []string
	s        settler
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Pending are the accesses waiting for the consent they cite.
	Pending queue[heldAccess] `json:"pending"`
	// verdicts are the verdicts of the accesses judged since the engine
	// last took them (not state: every entry's are taken after it).
	verdicts []finding.Verdict
}

// takeVerdicts implements verdicter.
func (r *AccessWithoutConsent) takeVerdicts() []finding.Verdict {
	v := r.verdicts
	r.verdicts = nil
	return v
}

// allowed records that grant g (logged as consent) allowed the access at ref.
func (r *AccessWithoutConsent) allowed(at ref, g *grant) {
	r.verdicts = append(r.verdicts, finding.Verdict{Index: at.Index, EventID: at.ID, Kind: finding.Allowed,
		ConsentIndex: int64(g.Index), ConsentAt: g.At})
}

// heldAccess is an access (Ref) citing a consent not logged yet.
type heldAccess struct {
	Ref     ref         `json:"ref"`
	Consent string      `json:"consent"`
	Facts   accessFacts `json:"facts"`
}

// Name implements Rule.
func (r *AccessWithoutConsent) Name() string { return "access_without_consent" }

// State implements Rule.
func (r *AccessWithoutConsent) State() any { return r }

func (r *AccessWithoutConsent) parts() []part {
	return []part{{"clock", &r.Clock}, {"pending", &r.Pending}}
}

// Observe implements Rule.
func (r *AccessWithoutConsent) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	out := r.judge(e)
	if e.Consent != nil {
		if g, ok := r.book.Grants.get(e.ID); ok {
			for _, h := range r.Pending.take(func(h *heldAccess) bool { return h.Consent == e.ID }) {
				if ok, why := g.permits(h.Facts); !ok {
					out = append(out, h.Ref.find(r.Name(), finding.High,
						fmt.Sprintf("%s (the consent was logged after the access, at index %d)", why, e.Index), h.Consent))
				} else {
					r.allowed(h.Ref, g)
				}
			}
		}
	}
	for _, h := range r.Pending.settle(r.Clock) {
		out = append(out, h.Ref.find(r.Name(), finding.High,
			"the cited consent is not a consent grant logged before the access or within the settle window after it", h.Consent))
	}
	return out
}

// judge judges an access on its own entry, holding it if its consent is
// not logged yet.
func (r *AccessWithoutConsent) judge(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil || a.PurposeOfUse == "ETREAT" {
		return nil
	}
	// A disclosure needs the patient's consent unless it names a legal
	// basis that needs none (HIPAA 164.502, 164.506, 164.512: public
	// health, oversight, law enforcement, treatment, payment, operations,
	// to the patient); one without a basis (schema version 1) is judged as
	// needing it.
	disclosure := a.Disclosure != nil && a.Disclosure.Flag &&
		(a.Disclosure.Basis == "" || a.Disclosure.Basis == "authorization")
	if a.Disclosure != nil && a.Disclosure.Flag && !disclosure && a.Authorization == "" {
		r.verdicts = append(r.verdicts, finding.Verdict{Index: e.Index, EventID: e.ID, Kind: finding.PermittedDisclosure,
			ConsentIndex: -1})
		return nil
	}
	if a.Authorization == "" {
		if disclosure || contains(r.purposes, a.PurposeOfUse) {
			return []finding.Finding{newFinding(r.Name(), finding.High, e,
				"access for purpose "+a.PurposeOfUse+" (or a disclosure) cites no consent")}
		}
		return nil
	}
	g, ok := r.book.Grants.get(a.Authorization)
	if !ok {
		var out []finding.Finding
		h := heldAccess{Ref: refOf(e), Consent: a.Authorization, Facts: factsOf(e)}
		r.verdicts = append(r.verdicts, finding.Verdict{Index: e.Index, EventID: e.ID, Kind: finding.Held, ConsentIndex: -1})
		for _, h := range r.Pending.push(r.s.due(r.Clock), h, r.s.max) {
			out = append(out, h.Ref.find(r.Name(), finding.High, "the cited consent is not a consent grant logged before the access"+r.s.early(), h.Consent))
		}
		return out
	}
	if ok, why := g.permits(factsOf(e)); !ok {
		return []finding.Finding{newFinding(r.Name(), finding.High, e, why, a.Authorization)}
	}
	r.allowed(refOf(e), g)
	return nil
}

// AccessAfterRevocation fires on an access citing a consent that was revoked
// at or before the access's time. A revocation logged before the access is
// caught on the access's entry; one logged after it (a late batch) is caught
// on the revocation's entry, for the accesses logged within the settle
// window before it, and the finding still cites the access first.
type AccessAfterRevocation struct {
	book *consentBook
	s    settler
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Recent are the accesses citing a consent that a late revocation
	// could still catch.
	Recent queue[citedAccess] `json:"recent"`
}

// citedAccess is an access (Ref) and the consent it cites.
type citedAccess struct {
	Ref     ref    `json:"ref"`
	Consent string `json:"consent"`
}

// Name implements Rule.
func (r *AccessAfterRevocation) Name() string { return "access_after_revocation" }

// State implements Rule.
func (r *AccessAfterRevocation) State() any { return r }

func (r *AccessAfterRevocation) parts() []part {
	return []part{{"clock", &r.Clock}, {"recent", &r.Recent}}
}

// Observe implements Rule.
func (r *AccessAfterRevocation) Observe(e *entry.Entry) []finding.Finding {
	late := !e.Time.After(r.Clock) // an access logged before it may be timed at or after it
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	if a := e.Access; a != nil && a.Authorization != "" {
		if rev, ok := r.book.revocation(a.Authorization); ok && !e.Time.Before(rev.At) {
			out = append(out, newFinding(r.Name(), finding.High, e,
				"access at "+stamp(e.Time)+" cites a consent revoked at "+stamp(rev.At), a.Authorization, rev.By))
		} else {
			r.Recent.push(r.s.due(r.Clock), citedAccess{Ref: refOf(e), Consent: a.Authorization}, r.s.max)
		}
	}
	if ids := revokedIDs(e); len(ids) > 0 {
		caught := r.Recent.take(func(c *citedAccess) bool {
			return contains(ids, c.Consent) && !c.Ref.Time.Before(e.Time)
		})
		for _, c := range caught {
			out = append(out, c.Ref.find(r.Name(), finding.High, fmt.Sprintf(
				"access at %s cites a consent revoked at %s (the revocation was logged after the access, at index %d)",
				stamp(c.Ref.Time), stamp(e.Time), e.Index), c.Consent, e.ID))
		}
		if late && r.Recent.gap(r.Clock) {
			out = append(out, newFinding(RuleSettleOverflow, finding.Medium, e, fmt.Sprintf(
				"%d accesses citing a consent were dropped over the bound of %d before the settle window passed; any of them at or after this revocation's time went unchecked",
				r.Recent.Dropped, r.s.max)))
		}
	}
	r.Recent.settle(r.Clock)
	return out
}

// stamp formats a time for a finding's detail.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
