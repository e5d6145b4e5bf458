package admission

import (
	"net/http"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
)

// checkIdentity binds what a version 2 body says about who acted to who
// signed it: the acting organisation is the submitter or one it acts for,
// an access's source system is declared, a custody event's locations are
// the submitter's own, a trial's sponsor is one the submitter speaks for;
// in version 3, every agent's organisation and a consent's controller too.
// body is the schema-valid decoded body. Version 1 entries predate the
// binding and are not judged by it.
func checkIdentity(sub *registry.Submitter, ev *event.Event, body map[string]any) *Refusal {
	if ev.Version < 2 {
		return nil
	}
	switch ev.Kind {
	case "access":
		if ev.Version >= 3 {
			// Every agent an access names with an organisation acts for
			// the custodian: the requestor must name one, the others may.
			agents, _ := body["agents"].([]any)
			for i, a := range agents {
				agent, _ := a.(map[string]any)
				if org, ok := agent["organization"].(string); ok && !sub.SpeaksFor(org) {
					return refuse(CodeIdentity, http.StatusForbidden, "body/agents/%d/organization: %s is not registered to act for that organisation (registry acts_for)", i, sub.Org)
				}
			}
		} else {
			agent, _ := body["agent"].(map[string]any)
			if org, _ := agent["organization"].(string); !sub.SpeaksFor(org) {
				return refuse(CodeIdentity, http.StatusForbidden, "body/agent/organization: %s is not registered to act for that organisation (registry acts_for)", sub.Org)
			}
		}
		if sys, _ := body["source_system"].(string); !sub.HasSourceSystem(sys) {
			return refuse(CodeIdentity, http.StatusForbidden, "body/source_system: not one of the source systems %s declared in the registry (source_systems)", sub.Org)
		}
	case "consent":
		// The custodian recording a consent is the submitter; the grantee
		// may be anyone the patient chose. A version 3 controller manages
		// the consent: the submitter or one it acts for.
		if org, ok := body["controller"].(string); ok && !sub.SpeaksFor(org) {
			return refuse(CodeIdentity, http.StatusForbidden, "body/controller: %s is not registered to act for that organisation (registry acts_for)", sub.Org)
		}
	case "custody":
		for _, f := range []string{"biz_location", "read_point"} {
			if loc, ok := body[f].(string); ok && !sub.OwnsLocation(loc) {
				return refuse(CodeIdentity, http.StatusForbidden, "body/%s: not a location of %s (registry acts_for or gs1_company_prefixes)", f, sub.Org)
			}
		}
	case "trial":
		if sponsor, _ := body["sponsor"].(string); !sub.SpeaksFor(sponsor) {
			return refuse(CodeIdentity, http.StatusForbidden, "body/sponsor: %s is not registered to act for that sponsor (registry acts_for)", sub.Org)
		}
	}
	return nil
}

// TrialClaim is what a log knows of a trial before an event about it: the
// sponsor that registered it, if any.
type TrialClaim struct {
	// Owner is the sponsor of the trial's first registration on the log
	// (for a version 1 registration, which names no checked sponsor, its
	// submitter); empty when the trial is not registered.
	Owner string
}

// TrialRef returns the registry id, subtype and sponsor of a version 2
// TRIAL body as the schema decoded it; ok is false for anything else.
func TrialRef(ev *event.Event, body map[string]any) (registryID, subtype, sponsor string, ok bool) {
	if ev.Kind != "trial" || ev.Version < 2 || body == nil {
		return "", "", "", false
	}
	registryID, _ = body["registry_id"].(string)
	subtype, _ = body["subtype"].(string)
	sponsor, _ = body["sponsor"].(string)
	return registryID, subtype, sponsor, registryID != ""
}

// CheckTrialOwner decides whether a version 2 TRIAL event may follow what
// the log holds about its trial: a registration of a trial another sponsor
// registered is refused, and so is any later event of a trial that is not
// registered or whose registered sponsor differs from the event's. The
// server calls it with its claim table, the monitor with the
// registrations it replayed; both get the same answer for the same history.
func CheckTrialOwner(subtype, sponsor string, claim TrialClaim) *Refusal {
	switch {
	case subtype == "registration" && claim.Owner != "" && claim.Owner != sponsor:
		return refuse(CodeAuthority, http.StatusConflict, "body/registry_id: the trial is registered on this log by another sponsor")
	case subtype != "registration" && claim.Owner == "":
		return refuse(CodeAuthority, http.StatusConflict, "body/registry_id: the trial has no registration on this log; register it first")
	case subtype != "registration" && claim.Owner != sponsor:
		return refuse(CodeAuthority, http.StatusForbidden, "body/sponsor: only the sponsor that registered the trial (or an organisation registered to act for it) may log its %s", subtype)
	}
	return nil
}
