package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// LateRegistration fires when a trial is registered after its first
// enrollment (WHO and ICMJE require registration before it; 42 CFR 11.24
// allows at most 21 days after), or when an enrollment event is timed
// before any registration of its trial.
//
// An enrollment with no registration logged before it is held for the
// settle window: a registration logged within it and timed at or before the
// enrollment (a registration logged late) settles it silently, one timed
// after it reports it at once; otherwise it is reported when the window has
// passed.
type LateRegistration struct {
	Registered table[bool] `json:"registered"`
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock,omitzero"`
	// Pending are enrollments waiting for a registration logged late.
	Pending queue[heldEnrollment] `json:"pending"`
	s       settler
}

// heldEnrollment is an enrollment event (Ref) of a trial not registered yet.
type heldEnrollment struct {
	Ref   ref    `json:"ref"`
	Trial string `json:"trial"`
}

func newLateRegistration(s settler) *LateRegistration {
	return &LateRegistration{s: s}
}

// Name implements Rule.
func (r *LateRegistration) Name() string { return "late_trial_registration" }

// State implements Rule.
func (r *LateRegistration) State() any { return r }

func (r *LateRegistration) parts() []part {
	return []part{{"registered", &r.Registered}, {"clock", &r.Clock}, {"pending", &r.Pending}}
}

// Observe implements Rule.
func (r *LateRegistration) Observe(e *entry.Entry) []finding.Finding {
	advance(&r.Clock, e.Time)
	out := r.judge(e)
	for _, h := range r.Pending.settle(r.Clock) {
		out = append(out, h.Ref.find(r.Name(), finding.High, "trial "+h.Trial+" reports enrollment before any registration"))
	}
	return out
}

func (r *LateRegistration) judge(e *entry.Entry) []finding.Finding {
	t := e.Trial
	if t == nil {
		return nil
	}
	switch t.Subtype {
	case "registration":
		r.Registered.put(t.RegistryID, true)
		var out []finding.Finding
		for _, h := range r.Pending.take(func(h *heldEnrollment) bool { return h.Trial == t.RegistryID }) {
			if h.Ref.Time.Before(e.Time) {
				out = append(out, h.Ref.find(r.Name(), finding.High, fmt.Sprintf(
					"trial %s reports enrollment before its registration (logged later, at index %d)", h.Trial, e.Index), e.ID))
			}
		}
		reg, ok1 := entry.ParseDate(t.RegistrationDate)
		if t.FirstEnrollment == nil || t.FirstEnrollment.Type != "actual" || !ok1 {
			return out
		}
		first, ok2 := entry.ParseDate(t.FirstEnrollment.Date)
		if !ok2 || !reg.After(first) {
			return out
		}
		days := int(reg.Sub(first).Hours() / 24)
		detail := fmt.Sprintf("trial %s registered %d days after its first enrollment", t.RegistryID, days)
		if days > 21 {
			detail += " (more than the 21 days 42 CFR 11.24 allows)"
		}
		return append(out, newFinding(r.Name(), finding.High, e, detail))
	case "enrollment":
		if registered, _ := r.Registered.get(t.RegistryID); !registered {
			var out []finding.Finding
			h := heldEnrollment{Ref: refOf(e), Trial: t.RegistryID}
			for _, h := range r.Pending.push(r.s.due(r.Clock), h, r.s.max) {
				out = append(out, h.Ref.find(r.Name(), finding.High, "trial "+h.Trial+" reports enrollment before any registration"+r.s.early()))
			}
			return out
		}
	}
	return nil
}

// OutcomeSwitching compares each trial's later amendments and results with
// its registration (the COMPare method): it fires when the primary outcomes
// are added, dropped or swapped, or the target sample size is changed, after
// enrollment began (a results event means it did). Version 3 outcomes are
// compared on their coded measure and their time frame in days or months
// (entry.Outcome), so rewording is no switch and a changed time frame or
// measure is one, at an amendment and at the results alike; a changed
// analysis metric or aggregation of the same measure is reported too.
// Version 2 outcomes are compared as the registry's words; coded outcomes
// are compared with the first coded outcomes the trial logged, words with
// the registration's words.
type OutcomeSwitching struct {
	Trials table[*trialState] `json:"trials"`
}

type trialState struct {
	RegisteredBy string          `json:"registered_by"`
	Primary      []entry.Outcome `json:"primary"`
	SampleSize   int64           `json:"sample_size"`
	Enrolled     bool            `json:"enrolled"`
	// Coded are the first coded (version 3) primary outcomes the trial
	// logged, CodedBy the event that logged them.
	Coded   []entry.Outcome `json:"coded,omitempty"`
	CodedBy string          `json:"coded_by,omitempty"`
}

func newOutcomeSwitching() *OutcomeSwitching {
	return &OutcomeSwitching{}
}

// Name implements Rule.
func (r *OutcomeSwitching) Name() string { return "outcome_switching" }

// State implements Rule.
func (r *OutcomeSwitching) State() any { return r }

func (r *OutcomeSwitching) parts() []part { return []part{{"trials", &r.Trials}} }

// Observe implements Rule.
func (r *OutcomeSwitching) Observe(e *entry.Entry) []finding.Finding {
	t := e.Trial
	if t == nil {
		return nil
	}
	st, _ := r.Trials.get(t.RegistryID)
	if t.Subtype == "registration" {
		if st != nil {
			return nil // a second registration: compare against the first
		}
		st = &trialState{RegisteredBy: e.ID, Primary: t.PrimaryOutcomes}
		if coded(t.PrimaryOutcomes) {
			st.Coded, st.CodedBy = t.PrimaryOutcomes, e.ID
		}
		if t.TargetSampleSize != nil {
			st.SampleSize = t.TargetSampleSize.N
		}
		if fe := t.FirstEnrollment; fe != nil && fe.Type == "actual" {
			if d, ok := entry.ParseDate(fe.Date); ok && !d.After(e.Time) {
				st.Enrolled = true
			}
		}
		r.Trials.put(t.RegistryID, st)
		return nil
	}
	if st == nil {
		return nil
	}
	var out []finding.Finding
	enrolled := st.Enrolled || t.Subtype == "results"
	if len(t.PrimaryOutcomes) > 0 {
		base, by := st.Primary, st.RegisteredBy
		if coded(t.PrimaryOutcomes) {
			base, by = st.Coded, st.CodedBy
			if base == nil {
				st.Coded, st.CodedBy = t.PrimaryOutcomes, e.ID // nothing coded to compare with yet
				r.Trials.touch(t.RegistryID)
			}
		} else if coded(base) {
			base = nil // words cannot be compared with codes
		}
		if d := compareOutcomes(base, t.PrimaryOutcomes); enrolled && base != nil && d != "" {
			out = append(out, newFinding(r.Name(), finding.High, e,
				"trial "+t.RegistryID+" changed its primary outcomes after enrollment began"+stage(t.Subtype)+": "+d, by))
		}
	}
	if st.Enrolled && t.Subtype == "amendment" && t.TargetSampleSize != nil &&
		t.TargetSampleSize.Type == "estimated" && t.TargetSampleSize.N != st.SampleSize {
		out = append(out, newFinding("sample_size_change", finding.High, e,
			fmt.Sprintf("trial %s changed its target sample size from %d to %d after enrollment began",
				t.RegistryID, st.SampleSize, t.TargetSampleSize.N), st.RegisteredBy))
	}
	if !st.Enrolled && (t.Subtype == "enrollment" || t.Subtype == "results" || (t.FirstEnrollment != nil && t.FirstEnrollment.Type == "actual")) {
		st.Enrolled = true
		r.Trials.touch(t.RegistryID)
	}
	return out
}

// stage names where an outcome change was logged.
func stage(subtype string) string {
	switch subtype {
	case "results":
		return " (in its results)"
	case "amendment":
		return " (in an amendment)"
	}
	return ""
}

func coded(os []entry.Outcome) bool { return len(os) > 0 && os[0].Coded }

// compareOutcomes says how outcomes b differ from a, "" when they are the
// same: measures dropped, added, with another time frame, or (coded
// outcomes) with another metric or aggregation. Outcomes are matched on
// measure and time frame.
func compareOutcomes(a, b []entry.Outcome) string {
	key := func(o entry.Outcome) string { return o.Measure + "\x00" + o.TimeFrame }
	index := func(os []entry.Outcome) map[string]entry.Outcome {
		m := map[string]entry.Outcome{}
		for _, o := range os {
			m[key(o)] = o
		}
		return m
	}
	measures := func(os []entry.Outcome) map[string]bool {
		m := map[string]bool{}
		for _, o := range os {
			m[o.Measure] = true
		}
		return m
	}
	ia, ib, ma, mb := index(a), index(b), measures(a), measures(b)
	dropped, added, retimed, reanalysed := 0, 0, 0, 0
	for k, o := range ia {
		if p, ok := ib[k]; ok {
			if o.Metric != "" && p.Metric != "" && o.Metric != p.Metric || o.Aggregation != "" && p.Aggregation != "" && o.Aggregation != p.Aggregation {
				reanalysed++
			}
			continue
		}
		if mb[o.Measure] {
			retimed++
		} else {
			dropped++
		}
	}
	for k, o := range ib {
		if _, ok := ia[k]; !ok && !ma[o.Measure] {
			added++
		}
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{dropped, "dropped"}, {added, "added"}, {retimed, "with another time frame"}, {reanalysed, "with another metric or aggregation"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	what := "measures"
	if coded(a) {
		what = "coded measures"
	}
	return strings.Join(parts, ", ") + " (" + what + " and time frames compared with those first logged)"
}
