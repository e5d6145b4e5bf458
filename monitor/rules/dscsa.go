package rules

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// Rule names of the findings SuspectProduct returns.
const (
	// RuleNotQuarantined: a product determined suspect or illegitimate,
	// or whose verification failed, was not quarantined.
	RuleNotQuarantined = "dscsa_not_quarantined"
	// RuleQuarantineBreach: such a product moved on as saleable stock.
	RuleQuarantineBreach = "dscsa_quarantine_breach"
	// RuleFDANoticeLate: an illegitimate product determination with no
	// notice to FDA (Form FDA 3911) within 24 hours.
	RuleFDANoticeLate = "dscsa_fda_notice_late"
)

// fdaNoticeWindow is the time the DSCSA allows between an illegitimate
// product determination and the notice to FDA (FD&C Act 582(b)(4)(B)(ii),
// (c)(4)(B)(ii), (d)(4)(B)(ii), (e)(4)(B)(ii)).
const fdaNoticeWindow = 24 * time.Hour

// SuspectProduct applies the DSCSA's suspect and illegitimate product
// rules (FD&C Act section 582, 21 U.S.C. 360eee-1) to each package or lot:
//
//   - a product determined suspect (suspect_product.flag), determined
//     illegitimate (illegitimate_product.flag), or whose product identifier
//     verification came back not_verified or no_response, must be
//     quarantined: the event that says so, an earlier one, or one logged
//     within the settle window after it gives it a quarantine disposition
//     (non_sellable_other, damaged, destroyed, disposed, expired, recalled,
//     stolen); otherwise dscsa_not_quarantined;
//   - an illegitimate product determination must be notified to FDA on
//     Form FDA 3911 within 24 hours: fda_notified_at on the determining
//     event or on a later event of the product logged before the clock
//     passes the deadline plus the settle window; otherwise, or if the
//     notice is timed later, dscsa_fda_notice_late;
//   - such a product must not move on as saleable stock (dispensed, sold,
//     or shipped or received with a saleable disposition) after the
//     determination, until a suspect product is cleared
//     (suspect_product.flag false) or FDA agrees to end an illegitimate
//     product notification (illegitimate_product.flag false): otherwise
//     dscsa_quarantine_breach. Returning it to the manufacturer (disposition
//     returned) or moving it under a quarantine disposition is allowed.
type SuspectProduct struct {
	// Flagged maps a package or lot key (item.Key) to what is known of it.
	Flagged table[*flagged] `json:"flagged"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// NextDue is the earliest time a pending check of Flagged falls due
	// (zero: none).
	NextDue time.Time `json:"next_due,omitzero"`
	s       settler
	pk      *packing
}

// flagged is a package or lot determined suspect or illegitimate.
type flagged struct {
	Ref   ref    `json:"ref"`   // the event that flagged it
	Label string `json:"label"` // item.label
	// Status is suspect, illegitimate or not_verified (a failed
	// verification, which makes it suspect).
	Status string `json:"status"`
	// Since is when the determination was made.
	Since       time.Time `json:"since"`
	Quarantined bool      `json:"quarantined,omitempty"`
	// QuarantineDue is when a missing quarantine is reported (zero: done).
	QuarantineDue time.Time `json:"quarantine_due,omitzero"`
	// NoticeBy is the FDA notice deadline of an illegitimate product,
	// NoticeDue when its absence is reported (zero: notified or n/a).
	NoticeBy  time.Time `json:"notice_by,omitzero"`
	NoticeDue time.Time `json:"notice_due,omitzero"`
	// Breached is set once a movement was reported.
	Breached bool `json:"breached,omitempty"`
}

func newSuspectProduct(s settler, pk *packing) *SuspectProduct { return &SuspectProduct{s: s, pk: pk} }

// Name implements Rule.
func (r *SuspectProduct) Name() string { return "dscsa_suspect_product" }

// State implements Rule.
func (r *SuspectProduct) State() any { return r }

func (r *SuspectProduct) parts() []part {
	return []part{{"flagged", &r.Flagged}, {"clock", &r.Clock}, {"next_due", &r.NextDue}}
}

// Observe implements Rule.
func (r *SuspectProduct) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	var out []finding.Finding
	if c := e.Custody; c != nil {
		for _, it := range itemsOf(c, r.pk) {
			out = append(out, r.item(e, c, it)...)
		}
	}
	return append(out, r.due()...)
}

func (r *SuspectProduct) item(e *entry.Entry, c *entry.Custody, it item) []finding.Finding {
	var out []finding.Finding
	st, _ := r.Flagged.mut(it.Key)
	quarantine := quarantineDispositions[c.Disposition]
	if st != nil {
		if saleableMove(c) && e.Time.After(st.Since) && !st.Breached {
			st.Breached = true
			out = append(out, newFinding(RuleQuarantineBreach, finding.High, e, fmt.Sprintf(
				"%s: %s as saleable stock after it was %s (FD&C Act 582: quarantine until cleared)", it.label(), c.BizStep, statusText(st.Status)), st.Ref.ID))
		}
		if quarantine {
			st.Quarantined, st.QuarantineDue = true, time.Time{}
		}
	}
	// Determinations on this event.
	status := ""
	switch {
	case c.IllegitimateProduct != nil && c.IllegitimateProduct.Flag:
		status = "illegitimate"
	case c.SuspectProduct != nil && c.SuspectProduct.Flag:
		status = "suspect"
	case c.Verification != nil && (c.Verification.Result == "not_verified" || c.Verification.Result == "no_response"):
		status = "not_verified"
	}
	if status != "" && (st == nil || rank(status) > rank(st.Status)) {
		since := e.Time
		if ip := c.IllegitimateProduct; status == "illegitimate" && ip.DeterminedAt != "" {
			if t, err := time.Parse(time.RFC3339, ip.DeterminedAt); err == nil {
				since = t
			}
		}
		next := &flagged{Ref: refOf(e), Label: it.label(), Status: status, Since: since}
		if st != nil {
			next.Quarantined, next.Breached = st.Quarantined, st.Breached
		}
		next.Quarantined = next.Quarantined || quarantine
		if !next.Quarantined {
			next.QuarantineDue = r.s.due(r.Clock)
		}
		if status == "illegitimate" {
			next.NoticeBy = since.Add(fdaNoticeWindow)
			next.NoticeDue = maxTime(r.Clock, next.NoticeBy).Add(r.s.wait())
		}
		st = next
		r.Flagged.put(it.Key, st)
	}
	if st == nil {
		return out
	}
	// A notice to FDA, on the determining event or a later one.
	if ip := c.IllegitimateProduct; ip != nil && ip.FDANotifiedAt != "" && !st.NoticeBy.IsZero() {
		if t, err := time.Parse(time.RFC3339, ip.FDANotifiedAt); err == nil {
			if t.After(st.NoticeBy) {
				out = append(out, st.Ref.find(RuleFDANoticeLate, finding.High, fmt.Sprintf(
					"%s: illegitimate product notified to FDA (Form FDA 3911) %s after the determination, more than the 24 hours FD&C Act 582 allows",
					st.Label, t.Sub(st.Since).Round(time.Minute)), e.ID))
			}
			st.NoticeBy, st.NoticeDue = time.Time{}, time.Time{}
		}
	}
	// Ends of a determination.
	if ip := c.IllegitimateProduct; ip != nil && !ip.Flag && st.Status == "illegitimate" ||
		c.SuspectProduct != nil && !c.SuspectProduct.Flag && st.Status != "illegitimate" ||
		c.Verification != nil && c.Verification.Result == "verified" && st.Status == "not_verified" {
		r.Flagged.del(it.Key)
		return out
	}
	r.schedule(st)
	return out
}

// rank orders the statuses: a stronger determination replaces a weaker.
func rank(status string) int {
	return map[string]int{"not_verified": 1, "suspect": 2, "illegitimate": 3}[status]
}

func statusText(status string) string {
	if status == "not_verified" {
		return "not verified (a failed product identifier verification makes it suspect)"
	}
	return "determined " + status
}

func (r *SuspectProduct) schedule(st *flagged) {
	for _, t := range []time.Time{st.QuarantineDue, st.NoticeDue} {
		if !t.IsZero() && (r.NextDue.IsZero() || t.Before(r.NextDue)) {
			r.NextDue = t
		}
	}
}

// due reports the pending checks whose time has come, in the log order of
// the events they are about.
func (r *SuspectProduct) due() []finding.Finding {
	if r.NextDue.IsZero() || r.Clock.Before(r.NextDue) {
		return nil
	}
	var out []finding.Finding
	r.NextDue = time.Time{}
	keys := make([]string, 0, len(r.Flagged.m))
	for k, st := range r.Flagged.m {
		if !st.QuarantineDue.IsZero() || !st.NoticeDue.IsZero() {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		st := r.Flagged.m[k]
		changed := false
		if !st.QuarantineDue.IsZero() && r.Clock.After(st.QuarantineDue) {
			st.QuarantineDue, changed = time.Time{}, true
			out = append(out, st.Ref.find(RuleNotQuarantined, finding.High, fmt.Sprintf(
				"%s: %s but not quarantined (FD&C Act 582: a suspect or illegitimate product is quarantined while it is investigated)",
				st.Label, statusText(st.Status))))
		}
		if !st.NoticeDue.IsZero() && r.Clock.After(st.NoticeDue) {
			st.NoticeBy, st.NoticeDue, changed = time.Time{}, time.Time{}, true
			out = append(out, st.Ref.find(RuleFDANoticeLate, finding.High, fmt.Sprintf(
				"%s: illegitimate product with no notice to FDA (Form FDA 3911) logged within 24 hours of the determination (FD&C Act 582)", st.Label)))
		}
		if changed {
			r.Flagged.touch(k)
		}
		r.schedule(st)
	}
	// In log order of the events they are about.
	slices.SortStableFunc(out, func(a, b finding.Finding) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
