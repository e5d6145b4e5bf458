package rules

import (
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// consentBook remembers every consent grant and its revocation; it reports
// nothing itself (its Name is empty) and feeds the two consent rules.
type consentBook struct {
	Grants map[string]*grant `json:"grants"`
}

type grant struct {
	Index        uint64            `json:"index"`
	Patient      string            `json:"patient"`
	Organization string            `json:"organization,omitempty"`
	Person       string            `json:"person,omitempty"`
	Status       string            `json:"status"`
	Decision     string            `json:"decision"`
	Period       entry.Period      `json:"period"`
	Provisions   []entry.Provision `json:"provisions,omitempty"`
	RevokedAt    *time.Time        `json:"revoked_at,omitempty"`
	RevokedBy    string            `json:"revoked_by,omitempty"`
}

func newConsentBook() *consentBook { return &consentBook{Grants: map[string]*grant{}} }

func (b *consentBook) Name() string { return "" }
func (b *consentBook) State() any   { return b }

func (b *consentBook) Observe(e *entry.Entry) []finding.Finding {
	c := e.Consent
	if c == nil {
		return nil
	}
	revoked := func(id string) {
		if g, ok := b.Grants[id]; ok && (g.RevokedAt == nil || e.Time.Before(*g.RevokedAt)) {
			t := e.Time
			g.RevokedAt, g.RevokedBy = &t, e.ID
		}
	}
	if c.Status == "inactive" || c.Status == "entered-in-error" {
		if c.Revokes != "" {
			revoked(c.Revokes)
		}
		for _, id := range e.Event.Supersedes {
			revoked(id)
		}
		return nil
	}
	b.Grants[e.ID] = &grant{Index: e.Index, Patient: c.Patient, Organization: c.Grantee.Organization,
		Person: c.Grantee.Person, Status: c.Status, Decision: c.Decision, Period: c.Period, Provisions: c.Provisions}
	return nil
}

// permits reports whether the grant allows access a at time t, and why not.
func (g *grant) permits(e *entry.Entry) (bool, string) {
	a := e.Access
	switch {
	case g.Status != "active":
		return false, "the cited consent is " + g.Status + ", not active"
	case g.Decision != "permit":
		return false, "the cited consent denies access"
	case g.Patient != a.Patient:
		return false, "the cited consent is about another patient"
	case g.Organization != "" && g.Organization != a.Agent.Organization:
		return false, "the cited consent grants another organisation"
	case g.Person != "" && g.Person != a.Agent.Who:
		return false, "the cited consent grants another person"
	case !g.Period.Covers(e.Time):
		return false, "the access is outside the cited consent's period"
	}
	for _, p := range g.Provisions {
		if p.Decision != "deny" || (p.Period != nil && !p.Period.Covers(e.Time)) {
			continue
		}
		if len(p.Purpose) == 0 || contains(p.Purpose, a.PurposeOfUse) {
			return false, "a deny provision of the cited consent covers purpose " + a.PurposeOfUse
		}
	}
	return true, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
