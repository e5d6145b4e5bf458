package fhir

import (
	"fmt"
	"strings"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Schema consent v3's bounds.
const (
	MaxProvisions      = 32
	MaxProvisionActors = 16
	maxCodes           = 16
	maxData            = 64
)

// consentVersion is the consent schema version Consents are mapped to.
func (m *Mapper) consentVersion() int {
	if m.cfg.ConsentVersion == 3 {
		return 3
	}
	return 2
}

// consentV3 turns a version 2 body made from cs into a version 3 one: the
// controller, and provisions whose actors are named by role (a code of
// value set agent-role) and by person tag or organisation id, whose
// security labels are codes and whose other data classes are commitments.
// A provision the version 3 body cannot carry whole is refused: dropping
// an actor, a class or a deeper provision would widen what the patient
// allowed. docs/gateway.md has the table.
func (m *Mapper) consentV3(cs fhir.Consent, base *fhir.ConsentProvision, patient string, out map[string]any, c *mapping.Committer) error {
	out["controller"] = m.cfg.Org
	for _, o := range cs.Organization {
		if org, ok := orgID(o); ok {
			out["controller"] = org
			break
		}
	}
	var provisions []any
	// The base provision's own actors, actions, purposes and classes
	// restrict the whole consent: they are the first provision.
	own := *base
	own.Type, own.Period, own.Provision = nil, nil, nil
	if pm, err := m.provisionV3("Consent.provision", own, patient, c); err != nil {
		return err
	} else if len(pm) > 0 {
		pm["decision"] = out["decision"]
		provisions = append(provisions, pm)
	}
	for i, p := range base.Provision {
		path := fmt.Sprintf("Consent.provision.provision[%d]", i)
		if len(p.Provision) > 0 {
			return mapping.Unmappable(path+".provision", "htlog takes provisions one level deep: flatten the nested provisions")
		}
		pm, err := m.provisionV3(path, p, patient, c)
		if err != nil {
			return err
		}
		if len(pm) > 0 {
			provisions = append(provisions, pm)
		}
	}
	if len(provisions) > MaxProvisions {
		return mapping.Unmappable("Consent.provision.provision", "at most %d provisions", MaxProvisions)
	}
	if len(provisions) > 0 {
		out["provisions"] = provisions
	}
	return nil
}

// provisionV3 maps one provision to version 3; an empty map means nothing
// to log.
func (m *Mapper) provisionV3(path string, p fhir.ConsentProvision, patient string, c *mapping.Committer) (map[string]any, error) {
	// provision makes the v2 form: v3 keeps its decision, period, action,
	// purpose and data (with their openings) and makes its own actors and
	// data classes.
	var v2 mapping.Committer
	out, err := m.provision(path, p, patient, &v2)
	if err != nil {
		return nil, err
	}
	delete(out, "actor_role")
	delete(out, "actors")
	delete(out, "data_class")
	data, _ := out["data"].([]string)
	for _, o := range v2.Openings {
		if contains(data, o.Commitment) {
			c.Openings = append(c.Openings, o)
		}
	}
	if len(p.Actor) > MaxProvisionActors {
		return nil, mapping.Unmappable(path+".actor", "at most %d actors", MaxProvisionActors)
	}
	var actors []any
	for i, a := range p.Actor {
		ap := fmt.Sprintf("%s.actor[%d]", path, i)
		role, ok := firstIn("agent-role", a.Role.Coding)
		if !ok {
			return nil, mapping.Unmappable(ap+".role", "not a code of value set agent-role (generic workforce roles such as practitioner-role doctor or nurse): htlog refuses the provision rather than apply it to every role")
		}
		am := map[string]any{"role": role}
		ref := a.Reference
		switch {
		case ref.Reference == nil && ref.Identifier == nil && ref.Display == nil:
			// the role alone
		case ref.Reference != nil && strings.HasPrefix(*ref.Reference, "Organization/") || ref.Type != nil && *ref.Type == "Organization":
			org, ok := orgID(ref)
			if !ok {
				return nil, mapping.Unmappable(ap+".reference", "an organisation is named by its NPI or GLN identifier")
			}
			am["organization"] = org
		case ref.Reference != nil && (strings.HasPrefix(*ref.Reference, "Group/") || strings.HasPrefix(*ref.Reference, "CareTeam/")):
			return nil, mapping.Unmappable(ap+".reference", "htlog names a person or an organisation, not a group or care team")
		default:
			// A person (Practitioner, PractitionerRole, RelatedPerson,
			// Patient): the tag the person's ACCESS events carry as agent.
			am["person"] = event.Tag(m.cfg.WorkforceKey, "workforce:"+refString(&ref))
		}
		actors = append(actors, am)
	}
	if len(actors) > 0 {
		out["actors"] = actors
	}
	var labels []any
	var classes []string
	for _, cd := range p.SecurityLabel {
		if cd.System != nil && cd.Code != nil && mapping.InValueSet("security-label", *cd.System, *cd.Code) {
			labels = append(labels, mapping.Code{System: *cd.System, Code: *cd.Code})
		} else {
			classes = append(classes, c.Commit(patient, deref(cd.System)+"|"+deref(cd.Code)))
		}
	}
	for _, cd := range append(append([]fhir.Coding{}, p.Class...), codings(p.Code...)...) {
		classes = append(classes, c.Commit(patient, deref(cd.System)+"|"+deref(cd.Code)))
	}
	if p.DataPeriod != nil {
		classes = append(classes, c.Commit(patient, "dataPeriod|"+deref(p.DataPeriod.Start)+"|"+deref(p.DataPeriod.End)))
	}
	if len(labels) > maxCodes || len(classes) > maxCodes {
		return nil, mapping.Unmappable(path+".class", "at most %d security labels and %d other data classes", maxCodes, maxCodes)
	}
	if pu, _ := out["purpose"].([]string); len(pu) > maxCodes {
		return nil, mapping.Unmappable(path+".purpose", "at most %d purposes", maxCodes)
	}
	if d, _ := out["data"].([]string); len(d) > maxData {
		return nil, mapping.Unmappable(path+".data", "at most %d data references", maxData)
	}
	if len(labels) > 0 {
		out["security_label"] = labels
	}
	if len(classes) > 0 {
		out["data_class"] = classes
	}
	return out, nil
}
