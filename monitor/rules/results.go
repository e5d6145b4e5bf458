package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// MissingResults fires when a trial has logged no results by the deadline
// the law sets. The monitor has no authority on the current time, so the
// rule judges against its own clock: the latest occurred_at of any entry
// seen so far, in log order. Results logged late still count if they are
// timed before the deadline, so a trial is reported (once per deadline)
// only at the first entry whose time passes the deadline plus the settle
// window; the finding cites that entry first and the event that set the
// deadline's date second. Results timed after the deadline and logged
// after the clock passed it are late and do not clear the trial. Results
// are a "results" event or any event with a results reference or summary
// results. A monitor replaying a log reaches the same findings at the same
// entries whenever it runs. A log that has gone quiet reports nothing until
// its next entry; an entry whose occurred_at lies in the future moves the
// clock forward for every trial.
//
// Which deadline applies depends on what the trial's events say:
//
//   - Version 3 events say whether FDAAA 801 applies (42 CFR 11.22: an
//     interventional study of an FDA-regulated drug or biological product
//     other than phase 1 or early phase 1, or of an FDA-regulated device
//     other than a small feasibility study, with a US site, under an IND or
//     IDE, or of a product made in the US and exported). If it does, results
//     are due 12 months after the primary completion date (42 CFR
//     11.44(a)); a certification of seeking approval (11.44(b), (c))
//     submitted before then moves the deadline to 30 days after the
//     approval, at most two years after the certification; an extension
//     (11.44(e)) moves it to the date granted. If the EU Clinical Trials
//     Regulation applies, the summary of results is due 12 months after the
//     end of the trial, six for a paediatric trial (Regulation (EU) No
//     536/2014 Article 37(4); for paediatric trials, Commission guideline
//     2012/C 302/03 under Articles 41 and 46 of Regulation (EC) No
//     1901/2006). A
//     trial that falls under neither gets no finding: no law sets it a
//     deadline.
//   - A trial whose events are all of earlier versions, which do not say,
//     is held to 12 months after the latest primary completion date its
//     events report (42 CFR 11.44(a) and the WHO joint statement on public
//     disclosure of results).
type MissingResults struct {
	// Clock is the latest entry time seen.
	Clock time.Time `json:"clock"`
	// Trials maps a deadline to what the rule tracks for it: key the
	// registry id for the version 2 deadline, the registry id and
	// "|fdaaa801" or "|eu_ctr" for those version 3 events set.
	Trials table[*resultsState] `json:"trials"`
	// Facts maps the registry id of a trial with version 3 events to what
	// they said the deadlines depend on.
	Facts table[*trialFacts] `json:"facts"`
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
	// Law names the deadline of a version 3 trial and how it was set
	// (empty: the version 2 rule).
	Law string `json:"law,omitempty"`
}

// trialFacts is what a trial's version 3 events said the results deadlines
// depend on; the latest value of each field counts.
type trialFacts struct {
	StudyType string `json:"study_type,omitempty"`
	Phase     string `json:"phase,omitempty"`
	Purpose   string `json:"purpose,omitempty"`
	// FDAAA is set once an event said what decides FDAAA 801.
	FDAAA    bool `json:"fdaaa,omitempty"`
	Drug     bool `json:"drug,omitempty"`
	Device   bool `json:"device,omitempty"`
	US       bool `json:"us,omitempty"` // a US site, an IND/IDE or a US export
	EU       bool `json:"eu,omitempty"`
	Paediatr bool `json:"paediatric,omitempty"`
	// PCD is the primary completion date, PCDEvent the event that set it;
	// End the end of the trial (completion date), EndEvent its event.
	PCD      string `json:"pcd,omitempty"`
	PCDEvent string `json:"pcd_event,omitempty"`
	End      string `json:"end,omitempty"`
	EndEvent string `json:"end_event,omitempty"`
	// Delay is a certification or extension: its type, when it was
	// submitted, the approval date and the new deadline (YYYY-MM-DD).
	Delay        string `json:"delay,omitempty"`
	DelayFrom    string `json:"delay_from,omitempty"`
	DelayApprove string `json:"delay_approve,omitempty"`
	DelayUntil   string `json:"delay_until,omitempty"`
	Org          string `json:"org,omitempty"`
}

func newMissingResults(s settler) *MissingResults {
	return &MissingResults{s: s}
}

// Name implements Rule.
func (r *MissingResults) Name() string { return "missing_trial_results" }

// State implements Rule.
func (r *MissingResults) State() any { return r }

func (r *MissingResults) parts() []part {
	return []part{{"clock", &r.Clock}, {"trials", &r.Trials}, {"facts", &r.Facts}, {"next_due", &r.NextDue}}
}

// Deadline keys of a version 3 trial.
const (
	lawFDAAA = "|fdaaa801"
	lawEU    = "|eu_ctr"
)

// Observe implements Rule.
func (r *MissingResults) Observe(e *entry.Entry) []finding.Finding {
	if t := e.Trial; t != nil {
		id := t.RegistryID
		if _, v3 := r.Facts.get(id); v3 || e.Event.Version >= 3 {
			r.byLaw(e, t)
		} else {
			r.byCompletion(e, t)
		}
		if t.Subtype == "results" || t.ResultsReference != "" || t.SummaryResults != nil {
			for _, k := range []string{id, id + lawFDAAA, id + lawEU} {
				// A version 3 deadline is met only by results timed before
				// it: results dated later are late, however early the log's
				// clock was when they were logged.
				st, ok := r.Trials.get(k)
				inTime := ok && (st.Due.IsZero() || e.Time.Before(st.Due) || st.Law == "" && r.Clock.Before(st.Due))
				if ok && !st.Done && inTime {
					st.Done = true
					r.Trials.touch(k)
				}
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
			var f finding.Finding
			if st.Law == "" {
				f = newFinding(r.Name(), finding.High, e, fmt.Sprintf(
					"trial %s logged no results 12 months after its primary completion date %s (as of the log's latest entry time %s)",
					id, st.Completion, r.Clock.UTC().Format(time.RFC3339)), st.DateEvent)
			} else {
				trial, _, _ := strings.Cut(id, "|")
				f = newFinding(r.Name(), finding.High, e, fmt.Sprintf(
					"trial %s logged no results by its deadline %s under %s (as of the log's latest entry time %s)",
					trial, st.Due.AddDate(0, 0, -1).Format(time.DateOnly), st.Law, r.Clock.UTC().Format(time.RFC3339)), st.DateEvent)
			}
			f.Submitter = st.Org
			out = append(out, f)
		case r.NextDue.IsZero() || st.Due.Before(r.NextDue):
			r.NextDue = st.Due
		}
	}
	sortFindings(out)
	return out
}

// byCompletion is the rule for trials with no version 3 event: results due
// 12 months after the latest primary completion date reported.
func (r *MissingResults) byCompletion(e *entry.Entry, t *entry.Trial) {
	st, _ := r.Trials.mut(t.RegistryID)
	if st == nil {
		st = &resultsState{}
		r.Trials.put(t.RegistryID, st)
	}
	if d, ok := entry.ParseDate(t.PrimaryCompletionDate); ok && !st.Done {
		st.Org, st.DateEvent, st.Completion = e.Org(), e.ID, t.PrimaryCompletionDate
		r.setDue(st, d.AddDate(1, 0, 1))
	}
}

func (r *MissingResults) setDue(st *resultsState, due time.Time) {
	st.Due = due
	if r.NextDue.IsZero() || st.Due.Before(r.NextDue) {
		r.NextDue = st.Due
	}
}

// byLaw updates what the trial's events said and sets its deadlines under
// FDAAA 801 and the EU CTR.
func (r *MissingResults) byLaw(e *entry.Entry, t *entry.Trial) {
	id := t.RegistryID
	f, _ := r.Facts.mut(id)
	if f == nil {
		f = &trialFacts{}
		r.Facts.put(id, f)
	}
	f.merge(e, t)
	// The version 2 rule's deadline gives way to what the law says.
	if st, ok := r.Trials.get(id); ok && !st.Done {
		r.Trials.del(id)
	}
	r.deadline(id+lawFDAAA, f.fdaaaDeadline())
	r.deadline(id+lawEU, f.euDeadline())
}

// deadline sets (or, when d is nil, drops) the deadline key of a trial not
// reported and without results yet.
func (r *MissingResults) deadline(key string, d *lawDeadline) {
	st, ok := r.Trials.mut(key)
	if ok && st.Done {
		return
	}
	if d == nil {
		if ok {
			r.Trials.del(key)
		}
		return
	}
	if !ok {
		st = &resultsState{}
		r.Trials.put(key, st)
	}
	st.Org, st.DateEvent, st.Completion, st.Law = d.org, d.event, d.from, d.law
	r.setDue(st, d.by.AddDate(0, 0, 1))
}

// lawDeadline is a results deadline: the last day results are in time, the
// law and how it was set, and the event that set the date it counts from.
type lawDeadline struct {
	by               time.Time
	law, from, event string
	org              string
}

func (f *trialFacts) merge(e *entry.Entry, t *entry.Trial) {
	f.Org = e.Org()
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&f.StudyType, t.StudyType)
	set(&f.Phase, t.Phase)
	if t.Design != nil {
		set(&f.Purpose, t.Design.PrimaryPurpose)
	}
	if a := t.FDAAA801; a != nil {
		f.FDAAA, f.Drug, f.Device, f.US = true, a.FDARegulatedDrug, a.FDARegulatedDevice, a.USSite || a.INDIDE || a.USExport
	}
	if eu := t.EUCTR; eu != nil {
		f.EU, f.Paediatr = eu.Applies, eu.Paediatric
	}
	if _, ok := entry.ParseDate(t.PrimaryCompletionDate); ok {
		f.PCD, f.PCDEvent = t.PrimaryCompletionDate, e.ID
	}
	if c := t.CompletionDate; c != nil {
		if _, ok := entry.ParseDate(c.Date); ok {
			f.End, f.EndEvent = c.Date, e.ID
		}
	}
	if d := t.ResultsDelay; d != nil {
		f.Delay, f.DelayFrom, f.DelayApprove, f.DelayUntil = d.Type, d.Submitted, d.ApprovalDate, d.NewDeadline
	}
}

// fdaaaApplies reports whether the trial is an applicable clinical trial
// (42 CFR 11.22(b)).
func (f *trialFacts) fdaaaApplies() bool {
	drug := f.Drug && f.Phase != "phase_1" && f.Phase != "early_phase_1"
	device := f.Device && f.Purpose != "device_feasibility"
	return f.FDAAA && f.StudyType == "interventional" && f.US && (drug || device)
}

func (f *trialFacts) fdaaaDeadline() *lawDeadline {
	pcd, ok := entry.ParseDate(f.PCD)
	if !ok || !f.fdaaaApplies() {
		return nil
	}
	d := &lawDeadline{by: pcd.AddDate(1, 0, 0), from: f.PCD, event: f.PCDEvent, org: f.Org,
		law: "FDAAA 801 (42 CFR 11.44(a): 12 months after the primary completion date " + f.PCD + ")"}
	submitted, ok := entry.ParseDate(f.DelayFrom)
	if !ok || submitted.After(d.by) {
		return d // no delay, or one asked for too late to count
	}
	switch f.Delay {
	case "certification_initial_approval", "certification_new_use":
		by := submitted.AddDate(2, 0, 0)
		if approved, ok := entry.ParseDate(f.DelayApprove); ok && approved.AddDate(0, 0, 30).Before(by) {
			by = approved.AddDate(0, 0, 30)
		}
		if by.After(d.by) {
			d.by, d.law = by, "FDAAA 801 (42 CFR 11.44(b)-(c): certification of "+f.DelayFrom+", 30 days after approval, at most two years after the certification)"
		}
	case "extension":
		if until, ok := entry.ParseDate(f.DelayUntil); ok && until.After(d.by) {
			d.by, d.law = until, "FDAAA 801 (42 CFR 11.44(e): extension to "+f.DelayUntil+")"
		}
	}
	return d
}

func (f *trialFacts) euDeadline() *lawDeadline {
	end, ok := entry.ParseDate(f.End)
	if !ok || !f.EU {
		return nil
	}
	if f.Paediatr {
		return &lawDeadline{by: end.AddDate(0, 6, 0), from: f.End, event: f.EndEvent, org: f.Org,
			law: "the EU rules for paediatric trials (Regulation (EC) No 1901/2006 Articles 41 and 46, Commission guideline 2012/C 302/03: 6 months after the end of the trial " + f.End + ")"}
	}
	return &lawDeadline{by: end.AddDate(1, 0, 0), from: f.End, event: f.EndEvent, org: f.Org,
		law: "the EU Clinical Trials Regulation (Regulation (EU) No 536/2014 Article 37(4): 12 months after the end of the trial " + f.End + ")"}
}

// sortFindings orders findings found in one map walk by their detail, so a
// replay reports them in the same order every time.
func sortFindings(fs []finding.Finding) {
	slices.SortFunc(fs, func(a, b finding.Finding) int { return strings.Compare(a.Detail, b.Detail) })
}
