package fhir

import (
	"encoding/json"
	"slices"

	"github.com/htlog/htlog/gateway/mapping"
)

// The FHIR R5 AuditEvent is the R4 one reorganised: the same facts under
// other names (category and code for type and subtype, authorization for
// purposeOfEvent and purposeOfUse, occurred[x] for period, an outcome
// object, CodeableConcepts for roles). The gateway's R4 model
// (samply/golang-fhir-models) has no R5, so an R5 AuditEvent is rewritten,
// element by element, into its R4 form and then mapped as one: one mapping
// for both versions. What R5 adds and htlog does not log (encounter,
// outcome detail text, network strings, entity details, basedOn) is
// dropped.

type r5Coding = map[string]any

type r5AuditEvent struct {
	ID            string           `json:"id"`
	Category      []r5Concept      `json:"category"`
	Code          r5Concept        `json:"code"`
	Action        string           `json:"action"`
	OccurredPer   *json.RawMessage `json:"occurredPeriod"`
	OccurredDT    string           `json:"occurredDateTime"`
	Recorded      string           `json:"recorded"`
	Outcome       *r5Outcome       `json:"outcome"`
	Authorization []r5Concept      `json:"authorization"`
	Patient       json.RawMessage  `json:"patient"`
	Agent         []r5Agent        `json:"agent"`
	Source        r5Source         `json:"source"`
	Entity        []r5Entity       `json:"entity"`
}

type r5Concept struct {
	Coding []r5Coding `json:"coding"`
}

type r5Outcome struct {
	Code r5Coding `json:"code"`
}

type r5Agent struct {
	Type          *r5Concept      `json:"type"`
	Role          []r5Concept     `json:"role"`
	Who           json.RawMessage `json:"who"`
	Requestor     bool            `json:"requestor"`
	Policy        []string        `json:"policy"`
	Authorization []r5Concept     `json:"authorization"`
}

type r5Source struct {
	Observer json.RawMessage `json:"observer"`
	Type     []r5Concept     `json:"type"`
}

type r5Entity struct {
	What          json.RawMessage `json:"what"`
	Role          *r5Concept      `json:"role"`
	SecurityLabel []r5Concept     `json:"securityLabel"`
	Query         string          `json:"query"`
}

// humanTypes are the reference types whose agent is a person.
var humanTypes = []string{"Practitioner", "PractitionerRole", "Patient", "RelatedPerson"}

// r5ToR4 rewrites an R5 AuditEvent into the R4 form the mapper reads.
func r5ToR4(body []byte) ([]byte, error) {
	var a r5AuditEvent
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, mapping.Malformed("AuditEvent", "%s", jsonReason(err))
	}
	out := map[string]any{"resourceType": "AuditEvent", "action": a.Action, "recorded": a.Recorded}
	if a.ID != "" {
		out["id"] = a.ID
	}
	// type: the first category coding htlog knows, else the code's;
	// subtype: the code's codings (and other categories).
	var codings []r5Coding
	for _, c := range a.Category {
		codings = append(codings, c.Coding...)
	}
	codings = append(codings, a.Code.Coding...)
	ti := slices.IndexFunc(codings, func(c r5Coding) bool {
		s, _ := c["system"].(string)
		k, _ := c["code"].(string)
		return mapping.InValueSet("audit-event-type", s, k)
	})
	if ti < 0 {
		return nil, mapping.Unmappable("AuditEvent.category", "neither category nor code carries a code of value set audit-event-type")
	}
	out["type"] = codings[ti]
	if sub := slices.Delete(slices.Clone(codings), ti, ti+1); len(sub) > 0 {
		out["subtype"] = sub
	}
	switch {
	case a.OccurredPer != nil:
		out["period"] = a.OccurredPer
	case a.OccurredDT != "":
		out["period"] = map[string]any{"start": a.OccurredDT}
	}
	if a.Outcome != nil {
		if code, ok := a.Outcome.Code["code"].(string); ok {
			out["outcome"] = code
		}
	}
	if len(a.Authorization) > 0 {
		out["purposeOfEvent"] = a.Authorization
	}
	var agents []any
	for _, ag := range a.Agent {
		m := map[string]any{"requestor": ag.Requestor}
		if ag.Type != nil {
			m["type"] = ag.Type
		} else if ag.Requestor && isHumanRef(ag.Who) {
			// A requestor that is a person: R5 leaves the type out.
			m["type"] = map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser"}}}
		}
		if len(ag.Role) > 0 {
			m["role"] = ag.Role
		}
		if len(ag.Who) > 0 {
			m["who"] = ag.Who
		}
		if len(ag.Policy) > 0 {
			m["policy"] = ag.Policy
		}
		if len(ag.Authorization) > 0 {
			m["purposeOfUse"] = ag.Authorization
		}
		agents = append(agents, m)
	}
	out["agent"] = agents
	src := map[string]any{}
	if len(a.Source.Observer) > 0 {
		src["observer"] = a.Source.Observer
	} else {
		src["observer"] = map[string]any{}
	}
	var st []r5Coding
	for _, c := range a.Source.Type {
		st = append(st, c.Coding...)
	}
	if len(st) > 0 {
		src["type"] = st
	}
	out["source"] = src
	var entities []any
	if len(a.Patient) > 0 {
		entities = append(entities, map[string]any{"what": a.Patient,
			"role": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}})
	}
	for _, e := range a.Entity {
		m := map[string]any{}
		if len(e.What) > 0 {
			m["what"] = e.What
		}
		if e.Role != nil && len(e.Role.Coding) > 0 {
			m["role"] = e.Role.Coding[0]
		}
		var sl []r5Coding
		for _, c := range e.SecurityLabel {
			sl = append(sl, c.Coding...)
		}
		if len(sl) > 0 {
			m["securityLabel"] = sl
		}
		if e.Query != "" {
			m["query"] = e.Query
		}
		entities = append(entities, m)
	}
	if len(entities) > 0 {
		out["entity"] = entities
	}
	return json.Marshal(out)
}

// isHumanRef reports whether a Reference points to a person.
func isHumanRef(raw json.RawMessage) bool {
	var r struct {
		Reference string `json:"reference"`
		Type      string `json:"type"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return false
	}
	for _, t := range humanTypes {
		if r.Type == t || len(r.Reference) > len(t) && r.Reference[:len(t)+1] == t+"/" {
			return true
		}
	}
	return false
}
