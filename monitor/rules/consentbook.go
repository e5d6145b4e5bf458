package rules

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// consentBook remembers every consent grant and its revocation and feeds the
// two consent rules. A revocation of a consent not logged yet is held for
// the settle window and applied if the grant is logged within it. The book
// reports nothing itself (its Name is empty) except a settle_overflow note
// when a grant arrives after revocations were dropped by the bound.
type consentBook struct {
	Grants table[*grant] `json:"grants"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Revocations are revocations of consents not logged yet.
	Revocations queue[heldRevocation] `json:"revocations"`
	s           settler
}

type grant struct {
	Index uint64 `json:"index"`
	// At is the grant's occurred_at (zero in state saved before it was kept).
	At           time.Time         `json:"at,omitzero"`
	Patient      string            `json:"patient"`
	Organization string            `json:"organization,omitempty"`
	Person       string            `json:"person,omitempty"`
	Status       string            `json:"status"`
	Decision     string            `json:"decision"`
	Period       entry.Period      `json:"period"`
	Provisions   []entry.Provision `json:"provisions,omitempty"`
	RevokedAt    *time.Time        `json:"revoked_at,omitempty"`
	RevokedBy    string            `json:"revoked_by,omitempty"`
	// RevokedIndex is the log index of RevokedBy.
	RevokedIndex uint64 `json:"revoked_index,omitempty"`
}

// heldRevocation is a revocation (By, at By.Time) of a consent not logged yet.
type heldRevocation struct {
	Consent string `json:"consent"`
	By      ref    `json:"by"`
}

// revocation is the earliest revocation the book knows of one consent.
type revocation struct {
	At    time.Time
	By    string
	Index uint64
}

func newConsentBook(s settler) *consentBook {
	return &consentBook{s: s}
}

func (b *consentBook) Name() string { return "" }
func (b *consentBook) State() any   { return b }

func (b *consentBook) parts() []part {
	return []part{{"grants", &b.Grants}, {"clock", &b.Clock}, {"revocations", &b.Revocations}}
}

func (b *consentBook) Observe(e *entry.Entry) []finding.Finding {
	advance(&b.Clock, e.Time)
	var out []finding.Finding
	if c := e.Consent; c != nil {
		if ids := revokedIDs(e); ids != nil {
			for _, id := range ids {
				if g, ok := b.Grants.mut(id); ok {
					g.revoke(refOf(e))
				} else {
					b.Revocations.push(b.s.due(b.Clock), heldRevocation{Consent: id, By: refOf(e)}, b.s.max)
				}
			}
		} else {
			g := &grant{Index: e.Index, At: e.Time, Patient: c.Patient, Organization: c.Grantee.Organization,
				Person: c.Grantee.Person, Status: c.Status, Decision: c.Decision, Period: c.Period, Provisions: c.Provisions}
			b.Grants.put(e.ID, g)
			for _, r := range b.Revocations.take(func(r *heldRevocation) bool { return r.Consent == e.ID }) {
				g.revoke(r.By)
			}
			if b.Revocations.gap(b.Clock) {
				out = append(out, newFinding(RuleSettleOverflow, finding.Medium, e, fmt.Sprintf(
					"%d revocations of consents not logged yet were dropped over the bound of %d; one of them may have revoked this consent",
					b.Revocations.Dropped, b.s.max)))
			}
		}
	}
	b.Revocations.settle(b.Clock) // a revocation of a consent never logged revokes nothing
	return out
}

// revoke records a revocation by r, keeping the earliest.
func (g *grant) revoke(r ref) {
	if g.RevokedAt == nil || r.Time.Before(*g.RevokedAt) {
		t := r.Time
		g.RevokedAt, g.RevokedBy, g.RevokedIndex = &t, r.ID, r.Index
	}
}

// revocation returns the earliest revocation of consent id the book knows,
// whether the grant is logged yet or not.
func (b *consentBook) revocation(id string) (revocation, bool) {
	if g, ok := b.Grants.get(id); ok {
		if g.RevokedAt == nil {
			return revocation{}, false
		}
		return revocation{At: *g.RevokedAt, By: g.RevokedBy, Index: g.RevokedIndex}, true
	}
	var rev revocation
	found := false
	b.Revocations.each(func(r *heldRevocation) bool {
		if r.Consent == id && (!found || r.By.Time.Before(rev.At)) {
			rev, found = revocation{At: r.By.Time, By: r.By.ID, Index: r.By.Index}, true
		}
		return false
	})
	return rev, found
}

// revokedIDs returns the consents a revocation entry revokes (its revokes
// field and its supersedes list), or nil if e is not a revocation.
func revokedIDs(e *entry.Entry) []string {
	c := e.Consent
	if c == nil || (c.Status != "inactive" && c.Status != "entered-in-error") {
		return nil
	}
	ids := []string{}
	if c.Revokes != "" {
		ids = append(ids, c.Revokes)
	}
	for _, id := range e.Event.Supersedes {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// accessFacts are the fields of an access a grant is judged against.
type accessFacts struct {
	Time    time.Time `json:"t"`
	Patient string    `json:"patient"`
	Org     string    `json:"org,omitempty"`
	Who     string    `json:"who,omitempty"`
	Purpose string    `json:"purpose,omitempty"`
}

func factsOf(e *entry.Entry) accessFacts {
	a := e.Access
	return accessFacts{Time: e.Time, Patient: a.Patient, Org: a.Agent.Organization, Who: a.Agent.Who,
		Purpose: a.PurposeOfUse}
}

// permits reports whether the grant allows access a, and why not.
func (g *grant) permits(a accessFacts) (bool, string) {
	switch {
	case g.Status != "active":
		return false, "the cited consent is " + g.Status + ", not active"
	case g.Decision != "permit":
		return false, "the cited consent denies access"
	case g.Patient != a.Patient:
		return false, "the cited consent is about another patient"
	case g.Organization != "" && g.Organization != a.Org:
		return false, "the cited consent grants another organisation"
	case g.Person != "" && g.Person != a.Who:
		return false, "the cited consent grants another person"
	case !g.Period.Covers(a.Time):
		return false, "the access is outside the cited consent's period"
	}
	for _, p := range g.Provisions {
		if p.Decision != "deny" || (p.Period != nil && !p.Period.Covers(a.Time)) {
			continue
		}
		if len(p.Purpose) == 0 || contains(p.Purpose, a.Purpose) {
			return false, "a deny provision of the cited consent covers purpose " + a.Purpose
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
