package fhir

import (
	"strings"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// MaxAgents and MaxEntities are schema access v3's bounds.
const (
	MaxAgents   = 8
	MaxEntities = 32
)

// accessV3 turns a version 2 body made from ae into a version 3 one: every
// agent (the requestor first, up to MaxAgents), the recorded time, subtypes
// and the entities touched (references and queries as commitments).
// docs/gateway.md has the table.
func (m *Mapper) accessV3(ae fhir.AuditEvent, requestor int, patient string, out map[string]any, c *mapping.Committer, it *mapping.Item) error {
	v2agent := out["agent"].(map[string]any)
	delete(out, "agent")
	recorded, err := mapping.Minute("AuditEvent.recorded", ae.Recorded)
	if err != nil {
		return err
	}
	// The audit record is made after the access: occurred_at is the
	// earlier of the two.
	if recorded < it.OccurredAt {
		it.OccurredAt = recorded
	}
	out["recorded"] = recorded
	order := []int{requestor}
	for i := range ae.Agent {
		if i != requestor && len(order) < MaxAgents {
			order = append(order, i)
		}
	}
	var agents []any
	for _, i := range order {
		a := ae.Agent[i]
		isReq := i == requestor
		var typ mapping.Code
		var ok bool
		if a.Type != nil {
			typ, ok = firstIn("agent-type", a.Type.Coding)
		}
		if !ok {
			if isReq {
				return mapping.Unmappable("AuditEvent.agent.type", "the requesting agent's type is not a code of value set agent-type")
			}
			continue
		}
		who := refString(a.Who)
		if who == "" && a.AltId != nil {
			who = *a.AltId
		}
		if who == "" && a.Name != nil {
			who = *a.Name
		}
		if who == "" {
			continue
		}
		kind := "user"
		if typ.System == dcm && strings.HasPrefix(typ.Code, "11015") || a.Who != nil && a.Who.Reference != nil && strings.HasPrefix(*a.Who.Reference, "Device/") {
			kind = "application"
		} else if !isReq {
			kind = "delegating_user"
		}
		ag := map[string]any{"kind": kind, "type": typ, "who": event.Tag(m.cfg.WorkforceKey, "workforce:"+who),
			"organization": m.cfg.Org, "requestor": isReq}
		if isReq {
			ag["role"] = v2agent["role"]
			ag["who"] = v2agent["who"]
		} else if r, ok := firstIn("agent-role", codings(a.Role...)); ok {
			ag["role"] = r
		}
		agents = append(agents, ag)
	}
	out["agents"] = agents
	if subs := inValueSet("audit-event-subtype", ae.Subtype); len(subs) > 0 {
		out["subtypes"] = subs
	}
	var entities []any
	for _, e := range ae.Entity {
		if len(entities) == MaxEntities {
			break
		}
		typ, ok := mapping.Code{}, false
		if e.Type != nil && e.Type.System != nil && e.Type.Code != nil && mapping.InValueSet("entity-type", *e.Type.System, *e.Type.Code) {
			typ, ok = mapping.Code{System: *e.Type.System, Code: *e.Type.Code}, true
		} else if e.What != nil && e.What.Reference != nil {
			rt, _, _ := strings.Cut(*e.What.Reference, "/")
			if mapping.InValueSet("entity-type", resourceTypes, rt) {
				typ, ok = mapping.Code{System: resourceTypes, Code: rt}, true
			}
		}
		if !ok || e.Role == nil || e.Role.Code == nil || e.Role.System == nil || !mapping.InValueSet("entity-role", *e.Role.System, *e.Role.Code) {
			continue // an entity htlog has no code for is in data_class only
		}
		en := map[string]any{"type": typ, "role": *e.Role.Code}
		if s := refString(e.What); s != "" {
			en["what"] = c.Commit(patient, s)
		}
		if e.Query != nil {
			en["query"] = c.Commit(patient, *e.Query)
		}
		if sl := inValueSet("security-label", e.SecurityLabel); len(sl) > 0 {
			en["security_label"] = sl
		}
		entities = append(entities, en)
	}
	if len(entities) > 0 {
		out["entities"] = entities
	}
	return nil
}

const (
	dcm           = "http://dicom.nema.org/resources/ontology/DCM"
	resourceTypes = "http://hl7.org/fhir/resource-types"
)
