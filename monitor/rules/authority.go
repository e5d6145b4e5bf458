package rules

import (
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// TrialAuthority fires when a trial event comes from someone other than
// the sponsor that registered the trial: a second registration of a trial
// by another sponsor, or an amendment, status, enrollment or results event
// of a trial not registered, or under another sponsor. It runs the log's
// own check (admission.CheckTrialOwner) on the registrations replayed so
// far, so it fires exactly for what htlog-server refuses. A version 1
// registration, which names no checked sponsor, makes its submitter the
// owner; version 1 events are not judged.
type TrialAuthority struct {
	// Owners maps a registry id to the sponsor that registered it.
	Owners table[string] `json:"owners"`
}

func newTrialAuthority() *TrialAuthority { return &TrialAuthority{} }

// Name implements Rule.
func (r *TrialAuthority) Name() string { return "trial_authority" }

// State implements Rule.
func (r *TrialAuthority) State() any { return r }

func (r *TrialAuthority) parts() []part { return []part{{"owners", &r.Owners}} }

// Observe implements Rule.
func (r *TrialAuthority) Observe(e *entry.Entry) []finding.Finding {
	t := e.Trial
	if t == nil {
		return nil
	}
	owner, registered := r.Owners.get(t.RegistryID)
	if e.Event.Version < 2 {
		if t.Subtype == "registration" && !registered {
			r.Owners.put(t.RegistryID, e.Org())
		}
		return nil
	}
	if refusal := admission.CheckTrialOwner(t.Subtype, t.Sponsor, admission.TrialClaim{Owner: owner}); refusal != nil {
		return []finding.Finding{{Rule: r.Name(), Severity: finding.High, Index: int64(e.Index), EventIDs: []string{e.ID},
			Submitter: e.Org(), Detail: refusal.Reason}}
	}
	if t.Subtype == "registration" && !registered {
		r.Owners.put(t.RegistryID, t.Sponsor)
	}
	return nil
}
