package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// MissingResults fires when a trial has logged no results twelve months
// after its primary completion date (42 CFR 11.44 and the WHO joint
// statement ask for results within a year). The latest primary completion
// date the trial's events report counts; results are a "results" event or
// any event with a results reference.
//
// The monitor has no authority on the current time, so the rule judges
// against its own clock: the latest occurred_at of any entry seen so far,
// in log order. Results logged late still count if they are timed before
// the deadline, so a trial is reported (once) only at the first entry whose
// time passes the deadline plus the settle window; the finding cites that
// entry first and the event that set the completion date second. Results
// timed after the deadline and logged after the clock passed it are late
// and do not clear the trial. A monitor replaying a log reaches the same
// findings at the same entries whenever it runs. A log that has gone quiet
// reports nothing until its next entry; an entry whose occurred_at lies in
// the future moves the clock forward for every trial.
type MissingResults struct {
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock"`
	// Trials maps a registry id to what the rule tracks for it.
	Trials table[*resultsState] `json:"trials"`
	// NextDue is the earliest deadline of a trial not reported yet (zero:
	// none), so the trials are scanned only when one may be due.
	NextDue time.Time `json:"next_due"`
	s       settler
}

type resultsState struct {
	Org        string    `json:"org"`
	DateEvent  string    `json:"date_event"` // the event that set Completion
	Completion string    `json:"completion"` // YYYY-MM-DD
	Due        time.Time `json:"due"`        // the first day results are late
	Done       bool      `json:"done"`       // results logged or already reported
}

func newMissingResults(s settler) *MissingResults {
	return &MissingResults{s: s}
}

// Name implements Rule.
func (r *MissingResults) Name() string { return "missing_trial_results" }

// State implements Rule.
func (r *MissingResults) State() any { return r }

func (r *MissingResults) parts() []part {
	return []part{{"clock", &r.Clock}, {"trials", &r.Trials}, {"next_due", &r.NextDue}}
}

// Observe implements Rule.
func (r *MissingResults) Observe(e *entry.Entry) []finding.Finding {
	if t := e.Trial; t != nil {
		st, _ := r.Trials.mut(t.RegistryID)
		if st == nil {
			st = &resultsState{}
			r.Trials.put(t.RegistryID, st)
		}
		if (t.Subtype == "results" || t.ResultsReference != "") &&
			(st.Due.IsZero() || r.Clock.Before(st.Due) || e.Time.Before(st.Due)) {
			st.Done = true
		}
		if d, ok := entry.ParseDate(t.PrimaryCompletionDate); ok && !st.Done {
			st.Org, st.DateEvent, st.Completion = e.Org(), e.ID, t.PrimaryCompletionDate
			st.Due = d.AddDate(1, 0, 1)
			if r.NextDue.IsZero() || st.Due.Before(r.NextDue) {
				r.NextDue = st.Due
			}
		}
	}
	if e.Time.After(r.Clock) {
		r.Clock = e.Time
	}
	if r.NextDue.IsZero() || r.Clock.Before(r.NextDue.Add(r.s.wait())) {
		return nil
	}
	var out []finding.Finding
	r.NextDue = time.Time{}
	for id, st := range r.Trials.m {
		switch {
		case st.Done || st.Due.IsZero():
		case !r.Clock.Before(st.Due.Add(r.s.wait())):
			st.Done = true
			r.Trials.touch(id)
			f := newFinding(r.Name(), finding.High, e, fmt.Sprintf(
				"trial %s logged no results 12 months after its primary completion date %s (as of the log's latest entry time %s)",
				id, st.Completion, r.Clock.UTC().Format(time.RFC3339)), st.DateEvent)
			f.Submitter = st.Org
			out = append(out, f)
		case r.NextDue.IsZero() || st.Due.Before(r.NextDue):
			r.NextDue = st.Due
		}
	}
	sortFindings(out)
	return out
}

// sortFindings orders findings found in one map walk by their detail, so a
// replay reports them in the same order every time.
func sortFindings(fs []finding.Finding) {
	slices.SortFunc(fs, func(a, b finding.Finding) int { return strings.Compare(a.Detail, b.Detail) })
}
