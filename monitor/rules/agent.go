package rules

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// BreakGlass fires when one agent tag makes more than Max break-glass
// (ETREAT) accesses within Window: occasional emergency access is expected,
// a habit of it is what HIPAA audit controls (164.312(b)) look for.
type BreakGlass struct {
	max    int
	window time.Duration
	W      windows `json:"w"`
}

func newBreakGlass(max int, window time.Duration) *BreakGlass {
	return &BreakGlass{max: max, window: window}
}

// Name implements Rule.
func (r *BreakGlass) Name() string { return "break_glass" }

// State implements Rule.
func (r *BreakGlass) State() any { return &r.W }

func (r *BreakGlass) parts() []part { return []part{{"times", &r.W.Times}} }

// Observe implements Rule.
func (r *BreakGlass) Observe(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil || a.PurposeOfUse != "ETREAT" {
		return nil
	}
	if n := r.W.add(a.Agent.Organization+" "+a.Agent.Who, e.Time, r.window, r.max); n > r.max {
		return []finding.Finding{newFinding(r.Name(), finding.Medium, e,
			fmt.Sprintf("agent %s made more than %d break-glass accesses within %v", short(a.Agent.Who), r.max, r.window))}
	}
	return nil
}

// BreakGlassReview fires, with severity review, on every break-glass
// (ETREAT) access: emergency access is allowed without consent, and the
// policies that allow it (HIPAA 164.312(b) audit controls, the custodian's
// own) ask that each one be reviewed after the fact. BreakGlass, beside it,
// flags an agent's habit of it.
type BreakGlassReview struct{}

// Name implements Rule.
func (BreakGlassReview) Name() string { return "break_glass_review" }

// State implements Rule: the rule keeps none.
func (BreakGlassReview) State() any { return &struct{}{} }

// Observe implements Rule.
func (r BreakGlassReview) Observe(e *entry.Entry) []finding.Finding {
	if a := e.Access; a != nil && a.PurposeOfUse == "ETREAT" {
		return []finding.Finding{newFinding(r.Name(), finding.Review, e, "emergency (break-glass) access, to be reviewed")}
	}
	return nil
}

// Volume fires when one agent tag makes more than Max accesses within
// Window, once per burst (on the access that crosses the threshold).
type Volume struct {
	max    int
	window time.Duration
	W      windows `json:"w"`
}

func newVolume(max int, window time.Duration) *Volume {
	return &Volume{max: max, window: window}
}

// Name implements Rule.
func (r *Volume) Name() string { return "access_volume" }

// State implements Rule.
func (r *Volume) State() any { return &r.W }

func (r *Volume) parts() []part { return []part{{"times", &r.W.Times}} }

// Observe implements Rule.
func (r *Volume) Observe(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil {
		return nil
	}
	key := a.Agent.Organization + " " + a.Agent.Who
	ts, _ := r.W.Times.get(key)
	// Fire when the window goes from max to max+1 accesses: once per burst.
	before := 0
	for _, x := range ts {
		if e.Time.Sub(x) < r.window {
			before++
		}
	}
	if n := r.W.add(key, e.Time, r.window, r.max); n > r.max && before == r.max {
		return []finding.Finding{newFinding(r.Name(), finding.Medium, e,
			fmt.Sprintf("agent %s made more than %d accesses within %v", short(a.Agent.Who), r.max, r.window))}
	}
	return nil
}

// DisclosureAccounting fires on a disclosure that an accounting of
// disclosures (HIPAA 164.528(b)(2)) could not be built from: it must carry
// a recipient, a description and a purpose (its date is occurred_at).
type DisclosureAccounting struct{}

// Name implements Rule.
func (DisclosureAccounting) Name() string { return "disclosure_accounting" }

// State implements Rule.
func (DisclosureAccounting) State() any { return &struct{}{} }

// Observe implements Rule.
func (r DisclosureAccounting) Observe(e *entry.Entry) []finding.Finding {
	a := e.Access
	if a == nil || a.Disclosure == nil || !a.Disclosure.Flag {
		return nil
	}
	var missing []string
	if a.Disclosure.Recipient == "" {
		missing = append(missing, "recipient")
	}
	if a.Disclosure.Description == "" {
		missing = append(missing, "description")
	}
	if a.PurposeOfUse == "" {
		missing = append(missing, "purpose")
	}
	if len(missing) == 0 {
		return nil
	}
	return []finding.Finding{newFinding(r.Name(), finding.High, e, fmt.Sprintf("disclosure lacks %v", missing))}
}

// short abbreviates a tag for a finding's detail line.
func short(tag string) string {
	if len(tag) > 19 {
		return tag[:19] + "…"
	}
	return tag
}
