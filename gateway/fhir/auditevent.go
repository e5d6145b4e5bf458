package fhir

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

func asErr[T any](err error, target *T) bool { return errors.As(err, target) }

// auditEvent maps an R4 AuditEvent to an ACCESS event (schema access v2);
// docs/gateway.md has the table.
func (m *Mapper) auditEvent(ctx context.Context, body []byte) (mapping.Item, error) {
	ae, err := fhir.UnmarshalAuditEvent(body)
	if err != nil {
		return mapping.Item{}, mapping.Malformed("AuditEvent", "%s", jsonReason(err))
	}
	it := mapping.Item{Kind: "access", Version: m.accessVersion()}
	if ae.Id != nil {
		it.Source = "AuditEvent/" + *ae.Id
	}
	// The patient: an entity whose role is Patient (object-role 1), or
	// whose what is a Patient reference (BALP's patient entity).
	patient, ok := "", false
	var touched []string
	for _, e := range ae.Entity {
		// A literal Patient reference, or a logical one (an identifier)
		// on an entity whose role is Patient.
		if e.What != nil && e.What.Reference != nil {
			if p, isPatient := patientRef(e.What); isPatient && (patient == "" || isPatientRole(e.Role)) {
				patient, ok = p, true
				continue
			}
		}
		if e.What != nil && e.What.Reference == nil && isPatientRole(e.Role) {
			if p, isPatient := patientRef(&fhir.Reference{Identifier: e.What.Identifier}); isPatient {
				patient, ok = p, true
				continue
			}
		}
		if s := entityString(e); s != "" {
			touched = append(touched, s)
		}
	}
	if !ok {
		return it, mapping.Unmappable("AuditEvent.entity", "names no patient (an entity whose what is a Patient reference or whose role is Patient): htlog logs accesses to patients' records only")
	}
	pkey, err := m.keys.PatientKey(ctx, patient)
	if err != nil {
		return it, err
	}
	if ae.Action == nil {
		return it, mapping.Unmappable("AuditEvent.action", "required by htlog (C, R, U, D or E)")
	}
	if ae.Outcome == nil {
		return it, mapping.Unmappable("AuditEvent.outcome", "required by htlog (0, 4, 8 or 12)")
	}
	if ae.Type.System == nil || ae.Type.Code == nil || !mapping.InValueSet("audit-event-type", *ae.Type.System, *ae.Type.Code) {
		return it, mapping.Unmappable("AuditEvent.type", "not a code of value set audit-event-type (schemas/valuesets)")
	}
	when := ae.Recorded
	if ae.Period != nil && ae.Period.Start != nil {
		when = *ae.Period.Start
	}
	if it.OccurredAt, err = mapping.Minute("AuditEvent.period.start|recorded", when); err != nil {
		return it, err
	}
	// The agent: the requestor (the person who asked), else the first agent.
	if len(ae.Agent) == 0 {
		return it, mapping.Unmappable("AuditEvent.agent", "required")
	}
	ai := slices.IndexFunc(ae.Agent, func(a fhir.AuditEventAgent) bool { return a.Requestor })
	if ai < 0 {
		ai = 0
	}
	agent := ae.Agent[ai]
	role, ok := firstIn("agent-role", codings(agent.Role...))
	if !ok && agent.Type != nil {
		role, ok = firstIn("agent-role", agent.Type.Coding)
	}
	if !ok {
		if role, ok = mapping.ParseCode(m.cfg.DefaultAgentRole); !ok {
			return it, mapping.Unmappable("AuditEvent.agent.role", "the requesting agent's role and type carry no code of value set agent-role, and the gateway has no default_agent_role")
		}
	}
	who := refString(agent.Who)
	if who == "" && agent.AltId != nil {
		who = *agent.AltId
	}
	if who == "" {
		return it, mapping.Unmappable("AuditEvent.agent.who", "the requesting agent is not identified")
	}
	purpose, err := m.purpose(ae, agent)
	if err != nil {
		return it, err
	}
	var c mapping.Committer
	out := map[string]any{
		"action":         ae.Action.Code(),
		"event_type":     mapping.Code{System: *ae.Type.System, Code: *ae.Type.Code},
		"outcome":        ae.Outcome.Code(),
		"purpose_of_use": purpose,
		"agent": map[string]any{
			"role":         role,
			"organization": m.cfg.Org,
			"who":          event.Tag(m.cfg.WorkforceKey, "workforce:"+who),
		},
		"source_system": m.sourceSystem(ae.Source.Observer),
		"patient":       event.PatientTag(pkey, m.cfg.Org),
	}
	if len(touched) > 0 {
		slices.Sort(touched)
		out["data_class"] = c.Commit(patient, strings.Join(touched, "\n"))
	}
	// authorization: a Consent this gateway logged, named by an entity or
	// the agent's policy.
	for _, e := range ae.Entity {
		if e.What != nil && e.What.Reference != nil && strings.HasPrefix(*e.What.Reference, "Consent/") {
			id, found, err := m.keys.EventOf(ctx, *e.What.Reference)
			if err != nil {
				return it, err
			}
			if found {
				out["authorization"] = id
			}
		}
	}
	if isDisclosure(ae) {
		basis, ok := disclosureBasis[purpose]
		if !ok {
			return it, mapping.Unmappable("AuditEvent.purposeOfEvent", "a disclosure for this purpose of use has no HIPAA basis the gateway can name")
		}
		recipient := ""
		for _, a := range ae.Agent {
			if a.Type != nil && hasCode(a.Type.Coding, "http://dicom.nema.org/resources/ontology/DCM", "110152") {
				recipient = refString(a.Who)
				if recipient == "" && a.Name != nil {
					recipient = *a.Name
				}
			}
		}
		if recipient == "" {
			return it, mapping.Unmappable("AuditEvent.agent", "a disclosure needs a Destination Role ID (DCM 110152) agent naming the recipient")
		}
		desc := strings.Join(touched, "\n")
		if desc == "" {
			desc = patient
		}
		out["disclosure"] = map[string]any{
			"flag":        true,
			"recipient":   c.Commit(patient, recipient),
			"description": c.Commit(patient, desc),
			"basis":       basis,
		}
	}
	if it.Version >= 3 {
		if err := m.accessV3(ae, ai, patient, out, &c, &it); err != nil {
			return it, err
		}
	}
	it.Body, it.Openings, it.Subject = out, c.Openings, "patient:"+patient
	return it, nil
}

// purpose returns the purpose of use: the first purposeOfEvent coding in
// value set purpose-of-use, else the requesting agent's purposeOfUse, else
// the configured default.
func (m *Mapper) purpose(ae fhir.AuditEvent, agent fhir.AuditEventAgent) (string, error) {
	for _, ccs := range [][]fhir.CodeableConcept{ae.PurposeOfEvent, agent.PurposeOfUse} {
		for _, c := range codings(ccs...) {
			if c.Code != nil && c.System != nil && *c.System == actReason && isPurpose(*c.Code) {
				return *c.Code, nil
			}
		}
	}
	if m.cfg.DefaultPurpose != "" {
		return m.cfg.DefaultPurpose, nil
	}
	return "", mapping.Unmappable("AuditEvent.purposeOfEvent", "no purpose of use of value set purpose-of-use, and the gateway has no default_purpose_of_use")
}

const actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

func isPurpose(code string) bool { return mapping.InValueSet("purpose-of-use", actReason, code) }

// disclosureBasis names the HIPAA basis of a disclosure by its purpose of
// use: treatment, payment and operations (164.506), public health
// (164.512(b)), oversight (164.512(d)), law (164.512(a), (f)), the
// patient's own request (164.502(a)(1)(i)); research and marketing need the
// patient's authorization (164.508).
var disclosureBasis = map[string]string{
	"TREAT": "tpo", "ETREAT": "tpo", "CAREMGT": "tpo", "HOPERAT": "tpo", "HPAYMT": "tpo", "HQUALIMP": "tpo",
	"PUBHLTH": "public-health", "HOVERSIGHT": "health-oversight", "HLEGAL": "required-by-law", "LAW": "law-enforcement",
	"PATRQT": "to-patient", "HRESCH": "authorization", "HMARKT": "authorization", "FAMRQT": "authorization", "PWATRNY": "authorization",
}

// isDisclosure reports whether the AuditEvent records a disclosure: an
// export (DCM 110106) whose subtype or agents say it left the custodian
// (a Destination Role ID agent outside, or subtype Disclosure as in the
// FHIR disclosure example and BALP's disclosure pattern).
func isDisclosure(ae fhir.AuditEvent) bool {
	if ae.Type.Code == nil || *ae.Type.Code != "110106" {
		return false
	}
	for _, s := range ae.Subtype {
		if s.Code != nil && strings.EqualFold(*s.Code, "disclosure") {
			return true
		}
	}
	for _, a := range ae.Agent {
		if a.Type != nil && hasCode(a.Type.Coding, "http://dicom.nema.org/resources/ontology/DCM", "110152") && a.Who != nil {
			return true
		}
	}
	return false
}

func hasCode(cs []fhir.Coding, system, code string) bool {
	return slices.ContainsFunc(cs, func(c fhir.Coding) bool {
		return c.System != nil && c.Code != nil && *c.System == system && *c.Code == code
	})
}

// isPatientRole reports whether an entity's role is object-role 1 (Patient).
func isPatientRole(role *fhir.Coding) bool {
	return role != nil && role.Code != nil && *role.Code == "1" && role.System != nil &&
		strings.HasSuffix(*role.System, "/object-role")
}

// entityString is what a non-patient entity touched, for the data_class
// commitment: its type and its reference.
func entityString(e fhir.AuditEventEntity) string {
	var parts []string
	if e.Type != nil && e.Type.Code != nil {
		parts = append(parts, *e.Type.Code)
	}
	if s := refString(e.What); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// sourceSystem returns the observer's id if it is a declared source system,
// else the gateway's own.
func (m *Mapper) sourceSystem(obs fhir.Reference) string {
	for _, cand := range []*string{ptrIdentValue(obs.Identifier), obs.Display} {
		if cand != nil && slices.Contains(m.cfg.SourceSystems, strings.ToLower(*cand)) {
			return strings.ToLower(*cand)
		}
	}
	return m.cfg.SourceSystem
}

func ptrIdentValue(id *fhir.Identifier) *string {
	if id == nil {
		return nil
	}
	return id.Value
}
