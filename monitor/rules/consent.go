package rules

import (
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// AccessWithoutConsent fires on an access that needs a consent (it is a
// disclosure, its purpose needs one, or it cites one) but whose
// authorization names no consent logged before it, or one that does not
// permit it: not active, deny, another patient or grantee, outside its
// period, or a deny provision for its purpose. Break-glass accesses are left
// to the BreakGlass rule.
type AccessWithoutConsent struct {
	book     *consentBook
	purposes []string
}

// Name implements Rule.
func (r *AccessWithoutConsent) Name() string { return "access_without_consent" }

// State implements Rule: the state lives in the shared consent book.
func (r *AccessWithoutConsent) State() any { return &struct{}{} }

// Observe implements Rule.
func (r *AccessWithoutConsent) Observe(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil || a.PurposeOfUse == "ETREAT" {
		return nil
	}
	disclosure := a.Disclosure != nil && a.Disclosure.Flag
	if a.Authorization == "" {
		if disclosure || contains(r.purposes, a.PurposeOfUse) {
			return []finding.Finding{newFinding(r.Name(), finding.High, e,
				"access for purpose "+a.PurposeOfUse+" (or a disclosure) cites no consent")}
		}
		return nil
	}
	g, ok := r.book.Grants[a.Authorization]
	if !ok {
		return []finding.Finding{newFinding(r.Name(), finding.High, e,
			"the cited consent is not a consent grant logged before the access", a.Authorization)}
	}
	if ok, why := g.permits(e); !ok {
		return []finding.Finding{newFinding(r.Name(), finding.High, e, why, a.Authorization)}
	}
	return nil
}

// AccessAfterRevocation fires on an access citing a consent that was revoked
// (by a CONSENT logged before the access) at or before the access's time.
type AccessAfterRevocation struct {
	book *consentBook
}

// Name implements Rule.
func (r *AccessAfterRevocation) Name() string { return "access_after_revocation" }

// State implements Rule: the state lives in the shared consent book.
func (r *AccessAfterRevocation) State() any { return &struct{}{} }

// Observe implements Rule.
func (r *AccessAfterRevocation) Observe(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil || a.Authorization == "" {
		return nil
	}
	g, ok := r.book.Grants[a.Authorization]
	if !ok || g.RevokedAt == nil || e.Time.Before(*g.RevokedAt) {
		return nil
	}
	return []finding.Finding{newFinding(r.Name(), finding.High, e,
		"access at "+e.Time.UTC().Format("2006-01-02T15:04:05Z")+" cites a consent revoked at "+
			g.RevokedAt.UTC().Format("2006-01-02T15:04:05Z"), a.Authorization, g.RevokedBy)}
}
