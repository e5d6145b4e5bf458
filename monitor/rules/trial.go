package rules

import (
	"fmt"
	"slices"
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
// enrollment began.
type OutcomeSwitching struct {
	Trials table[*trialState] `json:"trials"`
}

type trialState struct {
	RegisteredBy string          `json:"registered_by"`
	Primary      []entry.Outcome `json:"primary"`
	SampleSize   int64           `json:"sample_size"`
	Enrolled     bool            `json:"enrolled"`
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
	if st.Enrolled && len(t.PrimaryOutcomes) > 0 && !sameOutcomes(st.Primary, t.PrimaryOutcomes) {
		out = append(out, newFinding(r.Name(), finding.High, e,
			"trial "+t.RegistryID+" changed its primary outcomes after enrollment began", st.RegisteredBy))
	}
	if st.Enrolled && t.Subtype == "amendment" && t.TargetSampleSize != nil &&
		t.TargetSampleSize.Type == "estimated" && t.TargetSampleSize.N != st.SampleSize {
		out = append(out, newFinding("sample_size_change", finding.High, e,
			fmt.Sprintf("trial %s changed its target sample size from %d to %d after enrollment began",
				t.RegistryID, st.SampleSize, t.TargetSampleSize.N), st.RegisteredBy))
	}
	if !st.Enrolled && (t.Subtype == "enrollment" || (t.FirstEnrollment != nil && t.FirstEnrollment.Type == "actual")) {
		st.Enrolled = true
		r.Trials.touch(t.RegistryID)
	}
	return out
}

func sameOutcomes(a, b []entry.Outcome) bool {
	key := func(os []entry.Outcome) []string {
		var k []string
		for _, o := range os {
			k = append(k, o.Measure+"\x00"+o.TimeFrame)
		}
		slices.Sort(k)
		return k
	}
	return slices.Equal(key(a), key(b))
}
