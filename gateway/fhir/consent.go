package fhir

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/ident"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// consent maps an R4 Consent to a CONSENT event (schema consent v2, or v3
// when the configuration asks for it); docs/gateway.md has the table.
func (m *Mapper) consent(ctx context.Context, body []byte) (mapping.Item, error) {
	cs, err := fhir.UnmarshalConsent(body)
	if err != nil {
		return mapping.Item{}, mapping.Malformed("Consent", "%s", jsonReason(err))
	}
	it := mapping.Item{Kind: "consent", Version: m.consentVersion()}
	if cs.Id != nil {
		it.Source = "Consent/" + *cs.Id
	}
	patient, ok := patientRef(cs.Patient)
	if !ok {
		return it, mapping.Unmappable("Consent.patient", "required, as a Patient reference or identifier")
	}
	pkey, err := m.keys.PatientKey(ctx, patient)
	if err != nil {
		return it, err
	}
	var status string
	switch cs.Status {
	case fhir.ConsentStateDraft, fhir.ConsentStateProposed:
		status = "draft"
	case fhir.ConsentStateActive:
		status = "active"
	case fhir.ConsentStateInactive:
		status = "inactive"
	case fhir.ConsentStateEnteredInError:
		status = "entered-in-error"
	default:
		return it, mapping.Unmappable("Consent.status", "a rejected consent was never in force: htlog logs draft, proposed, active, inactive and entered-in-error consents")
	}
	scope := ""
	for _, c := range cs.Scope.Coding {
		if c.Code != nil && c.System != nil && strings.HasSuffix(*c.System, "/consentscope") {
			switch *c.Code {
			case "adr", "research", "patient-privacy", "treatment":
				scope = *c.Code
			}
		}
	}
	if scope == "" {
		return it, mapping.Unmappable("Consent.scope", "must carry a consentscope code (adr, research, patient-privacy, treatment)")
	}
	if cs.DateTime == nil {
		return it, mapping.Unmappable("Consent.dateTime", "required by htlog")
	}
	dateTime, err := fhirDateTime("Consent.dateTime", *cs.DateTime)
	if err != nil {
		return it, err
	}
	if it.OccurredAt, err = mapping.Minute("Consent.dateTime", dateTime); err != nil {
		return it, err
	}
	var c mapping.Committer
	base := cs.Provision
	if base == nil {
		base = &fhir.ConsentProvision{}
	}
	decision := ""
	if base.Type != nil {
		decision = base.Type.Code()
	} else if cs.PolicyRule != nil {
		for _, pc := range cs.PolicyRule.Coding {
			switch {
			case pc.Code == nil:
			case *pc.Code == "OPTIN" || *pc.Code == "OPTINR":
				decision = "permit"
			case *pc.Code == "OPTOUT" || *pc.Code == "OPTOUTE":
				decision = "deny"
			}
		}
	}
	if decision == "" {
		return it, mapping.Unmappable("Consent.provision.type", "no decision: give provision.type, or a policyRule of OPTIN, OPTINR, OPTOUT or OPTOUTE")
	}
	period := map[string]any{"start": dateTime}
	if base.Period != nil {
		if period, err = fhirPeriod("Consent.provision.period", base.Period); err != nil {
			return it, err
		}
	}
	grantor := event.PatientTag(pkey, m.cfg.Org)
	if len(cs.Performer) > 0 {
		if p, isPatient := patientRef(&cs.Performer[0]); !isPatient || p != patient {
			grantor = event.Tag(m.cfg.WorkforceKey, "person:"+refString(&cs.Performer[0]))
		}
	}
	grantee := m.cfg.Org
	for _, o := range cs.Organization {
		if org, ok := orgID(o); ok {
			grantee = org
			break
		}
	}
	out := map[string]any{
		"status":    status,
		"scope":     scope,
		"patient":   event.PatientTag(pkey, m.cfg.Org),
		"date_time": dateTime,
		"period":    period,
		"grantor":   grantor,
		"grantee":   map[string]any{"organization": grantee},
		"decision":  decision,
	}
	if cats := inValueSet("consent-category", codings(cs.Category...)); len(cats) > 0 {
		out["category"] = cats
	}
	if cs.PolicyRule != nil {
		if pol := inValueSet("consent-policy", cs.PolicyRule.Coding); len(pol) > 0 {
			out["policy"] = pol
		}
	}
	var provisions []any
	if it.Version == 3 {
		if err := m.consentV3(cs, base, patient, out, &c); err != nil {
			return it, err
		}
		base = &fhir.ConsentProvision{} // mapped: none of it again below
	}
	for i, p := range base.Provision {
		pm, err := m.provision(fmt.Sprintf("Consent.provision.provision[%d]", i), p, patient, &c)
		if err != nil {
			return it, err
		}
		if len(pm) > 0 {
			provisions = append(provisions, pm)
		}
	}
	if len(provisions) > 0 {
		out["provisions"] = provisions
	}
	if a := cs.SourceAttachment; a != nil {
		out["source_document"] = c.Commit(patient, strings.Join([]string{deref(a.Url), deref(a.Title), deref(a.Hash)}, "|"))
	} else if cs.SourceReference != nil {
		out["source_document"] = c.Commit(patient, refString(cs.SourceReference))
	}
	if status == "inactive" {
		if it.Source == "" {
			return it, mapping.Unmappable("Consent.id", "an inactive Consent revokes the grant of the same id: the id is required")
		}
		grant, found, err := m.keys.EventOf(ctx, it.Source)
		if err != nil {
			return it, err
		}
		if !found {
			return it, mapping.Unmappable("Consent.id", "an inactive Consent revokes a grant this gateway logged, and it logged none with this id")
		}
		out["revokes"] = grant
		it.Supersedes = []string{grant}
	}
	it.Body, it.Openings, it.Subject = out, c.Openings, "patient:"+patient
	return it, nil
}

// provision maps a nested provision; an empty map means nothing to log.
func (m *Mapper) provision(path string, p fhir.ConsentProvision, patient string, c *mapping.Committer) (map[string]any, error) {
	out := map[string]any{}
	if p.Type != nil {
		out["decision"] = p.Type.Code()
	}
	if p.Period != nil {
		per, err := fhirPeriod(path+".period", p.Period)
		if err != nil {
			return nil, err
		}
		out["period"] = per
	}
	var roles []mapping.Code
	var actors []string
	for _, a := range p.Actor {
		if r, ok := firstIn("agent-role", a.Role.Coding); ok {
			roles = append(roles, r)
		}
		if s := refString(&a.Reference); s != "" {
			actors = append(actors, c.Commit(patient, s))
		}
	}
	if len(roles) > 0 {
		out["actor_role"] = roles
	}
	if len(actors) > 0 {
		out["actors"] = actors
	}
	var actions []string
	for _, cd := range codings(p.Action...) {
		if cd.Code != nil {
			switch *cd.Code {
			case "collect", "access", "use", "disclose", "correct":
				if !contains(actions, *cd.Code) {
					actions = append(actions, *cd.Code)
				}
			}
		}
	}
	if len(actions) > 0 {
		out["action"] = actions
	}
	var purposes []string
	for _, cd := range p.Purpose {
		if cd.Code != nil && cd.System != nil && *cd.System == actReason && isPurpose(*cd.Code) {
			purposes = append(purposes, *cd.Code)
		}
	}
	if len(purposes) > 0 {
		out["purpose"] = purposes
	}
	var classes []string
	for _, cd := range append(append([]fhir.Coding{}, p.SecurityLabel...), append(p.Class, codings(p.Code...)...)...) {
		classes = append(classes, c.Commit(patient, deref(cd.System)+"|"+deref(cd.Code)))
	}
	if p.DataPeriod != nil {
		classes = append(classes, c.Commit(patient, "dataPeriod|"+deref(p.DataPeriod.Start)+"|"+deref(p.DataPeriod.End)))
	}
	if len(classes) > 0 {
		out["data_class"] = classes
	}
	var data []string
	for _, d := range p.Data {
		data = append(data, c.Commit(patient, d.Meaning.Code()+"|"+refString(&d.Reference)))
	}
	if len(data) > 0 {
		out["data"] = data
	}
	return out, nil
}

// orgID returns the organisation id a reference's identifier gives: an NPI
// or a GLN with a valid check digit.
func orgID(r fhir.Reference) (string, bool) {
	if r.Identifier == nil || r.Identifier.System == nil || r.Identifier.Value == nil {
		return "", false
	}
	var id string
	switch *r.Identifier.System {
	case "http://hl7.org/fhir/sid/us-npi":
		id = "npi:" + *r.Identifier.Value
	case "urn:oid:1.3.160", "https://www.gs1.org/gln":
		id = "gln:" + *r.Identifier.Value
	default:
		return "", false
	}
	return id, ident.OrgID(id)
}

// fhirDateTime returns a FHIR date or dateTime as an RFC 3339 time: a date
// is its midnight UTC.
func fhirDateTime(path, s string) (string, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.RFC3339Nano), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	return "", mapping.Malformed(path, "must be a FHIR date (YYYY-MM-DD) or dateTime with a time zone")
}

func fhirPeriod(path string, p *fhir.Period) (map[string]any, error) {
	if p.Start == nil {
		return nil, mapping.Unmappable(path+".start", "required by htlog")
	}
	start, err := fhirDateTime(path+".start", *p.Start)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"start": start}
	if p.End != nil {
		end, err := fhirDateTime(path+".end", *p.End)
		if err != nil {
			return nil, err
		}
		out["end"] = end
	}
	return out, nil
}

// inValueSet returns the codings that are concepts of the value set.
func inValueSet(name string, cs []fhir.Coding) []mapping.Code {
	var out []mapping.Code
	for _, c := range cs {
		if c.System != nil && c.Code != nil && mapping.InValueSet(name, *c.System, *c.Code) {
			out = append(out, mapping.Code{System: *c.System, Code: *c.Code})
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
