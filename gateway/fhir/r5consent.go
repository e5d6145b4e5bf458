package fhir

import (
	"encoding/json"

	"github.com/htlog/htlog/gateway/mapping"
)

// An R5 Consent is, like an R5 AuditEvent, rewritten into its R4 form and
// mapped as one. The differences that matter to htlog:
//
//   - subject, date, grantor, grantee are R4's patient, dateTime, performer
//     and organization; regulatoryBasis takes R4 policyRule's codes;
//   - R5 has no scope: it is read from category (a consentscope code, else
//     the categories docs/gateway.md lists: research, advance directives,
//     and the privacy consents of the published examples);
//   - decision (permit or deny) is the root provision's type, and each
//     nested provision is an exception to its parent: the opposite type;
//   - status not-done (a consent never in force) is R4's rejected, refused
//     as such; unknown is refused.
//
// Dropped as in R4: controller, manager, verification, policyBasis and
// policyText, provision.expression.

type r5Consent struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	Category         []r5Concept       `json:"category"`
	Subject          json.RawMessage   `json:"subject"`
	Date             string            `json:"date"`
	Period           json.RawMessage   `json:"period"`
	Grantor          []json.RawMessage `json:"grantor"`
	Grantee          []json.RawMessage `json:"grantee"`
	SourceAttachment []json.RawMessage `json:"sourceAttachment"`
	SourceReference  []json.RawMessage `json:"sourceReference"`
	RegulatoryBasis  []r5Concept       `json:"regulatoryBasis"`
	Decision         string            `json:"decision"`
	Provision        []r5Provision     `json:"provision"`
}

type r5Provision struct {
	Period        json.RawMessage   `json:"period"`
	Actor         []json.RawMessage `json:"actor"`
	Action        []json.RawMessage `json:"action"`
	SecurityLabel []json.RawMessage `json:"securityLabel"`
	Purpose       []json.RawMessage `json:"purpose"`
	DocumentType  []json.RawMessage `json:"documentType"`
	ResourceType  []json.RawMessage `json:"resourceType"`
	Code          []json.RawMessage `json:"code"`
	DataPeriod    json.RawMessage   `json:"dataPeriod"`
	Data          []json.RawMessage `json:"data"`
	Provision     []r5Provision     `json:"provision"`
}

// r5ScopeOf maps R5 category codes to R4's consentscope.
var r5ScopeOf = map[string]string{
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|research": "research",
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|acd":      "adr",
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|dnr":      "adr",
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|polst":    "adr",
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|hcd":      "adr",
	"http://terminology.hl7.org/CodeSystem/consentcategorycodes|npp":      "patient-privacy",
	"http://loinc.org|59284-0": "patient-privacy", // Patient Consent
	"http://loinc.org|57016-8": "patient-privacy", // Privacy policy acknowledgment
	"http://loinc.org|64292-6": "patient-privacy", // Release of information consent
	// The v3 ActConsentType codes of information consents.
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|INFA":     "patient-privacy", // information access
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|INFAO":    "patient-privacy", // access only
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|INFASO":   "patient-privacy", // access and save only
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|IDSCL":    "patient-privacy", // information disclosure
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|IRDSCL":   "patient-privacy", // information redisclosure
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|RESEARCH": "research",
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|RSDID":    "research", // de-identified information for research
	"http://terminology.hl7.org/CodeSystem/v3-ActCode|RSREID":   "research", // re-identifiable information for research
}

const consentScopeSystem = "http://terminology.hl7.org/CodeSystem/consentscope"

// isR5Consent reports whether a Consent has R5's shape.
func isR5Consent(h resourceHeader) bool {
	return len(h.Decision) > 0 || len(h.Subject) > 0 || len(h.Date) > 0
}

// r5ConsentToR4 rewrites an R5 Consent as the R4 Consent it means.
func r5ConsentToR4(body []byte) ([]byte, error) {
	var c r5Consent
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, mapping.Malformed("Consent", "%s", jsonReason(err))
	}
	out := map[string]any{"resourceType": "Consent"}
	if c.ID != "" {
		out["id"] = c.ID
	}
	switch c.Status {
	case "draft", "active", "inactive", "entered-in-error":
		out["status"] = c.Status
	case "not-done":
		out["status"] = "rejected"
	default:
		return nil, mapping.Unmappable("Consent.status", "htlog logs draft, active, inactive and entered-in-error consents")
	}
	scope := ""
	var categories []any
	for _, cat := range c.Category {
		var kept []r5Coding
		for _, cd := range cat.Coding {
			sys, _ := cd["system"].(string)
			code, _ := cd["code"].(string)
			if sys == consentScopeSystem {
				scope = code
				continue
			}
			if s, ok := r5ScopeOf[sys+"|"+code]; ok && scope == "" {
				scope = s
			}
			kept = append(kept, cd)
		}
		if len(kept) > 0 {
			categories = append(categories, map[string]any{"coding": kept})
		}
	}
	if scope == "" {
		return nil, mapping.Unmappable("Consent.category", "no category htlog reads a scope from: a consentscope code (adr, research, patient-privacy, treatment) or a category docs/gateway.md lists")
	}
	out["scope"] = map[string]any{"coding": []any{map[string]any{"system": consentScopeSystem, "code": scope}}}
	if len(categories) > 0 {
		out["category"] = categories
	}
	setRaw(out, "patient", c.Subject)
	if c.Date != "" {
		out["dateTime"] = c.Date
	}
	setList(out, "performer", c.Grantor)
	setList(out, "organization", c.Grantee)
	if len(c.SourceAttachment) > 0 {
		out["sourceAttachment"] = c.SourceAttachment[0]
	} else if len(c.SourceReference) > 0 {
		out["sourceReference"] = c.SourceReference[0]
	}
	var basis []r5Coding
	for _, b := range c.RegulatoryBasis {
		basis = append(basis, b.Coding...)
	}
	if len(basis) > 0 {
		out["policyRule"] = map[string]any{"coding": basis}
	}
	if c.Decision != "" {
		if c.Decision != "permit" && c.Decision != "deny" {
			return nil, mapping.Malformed("Consent.decision", "must be permit or deny")
		}
		root := map[string]any{"type": c.Decision}
		setRaw(root, "period", c.Period)
		switch len(c.Provision) {
		case 0:
		case 1:
			// The one provision is the root's content.
			r5ProvisionInto(root, c.Provision[0], c.Decision)
		default:
			var nested []any
			for _, p := range c.Provision {
				pm := map[string]any{"type": c.Decision}
				r5ProvisionInto(pm, p, c.Decision)
				nested = append(nested, pm)
			}
			root["provision"] = nested
		}
		out["provision"] = root
	}
	return json.Marshal(out)
}

// r5ProvisionInto writes an R5 provision's elements into an R4 provision
// whose type is decision; its nested provisions are exceptions.
func r5ProvisionInto(out map[string]any, p r5Provision, decision string) {
	if _, set := out["period"]; !set {
		setRaw(out, "period", p.Period)
	}
	setList(out, "actor", p.Actor)
	setList(out, "action", p.Action)
	setList(out, "securityLabel", p.SecurityLabel)
	setList(out, "purpose", p.Purpose)
	setList(out, "class", append(append([]json.RawMessage{}, p.DocumentType...), p.ResourceType...))
	setList(out, "code", p.Code)
	setRaw(out, "dataPeriod", p.DataPeriod)
	setList(out, "data", p.Data)
	exception := "deny"
	if decision == "deny" {
		exception = "permit"
	}
	var nested []any
	for _, n := range p.Provision {
		nm := map[string]any{"type": exception}
		r5ProvisionInto(nm, n, exception)
		nested = append(nested, nm)
	}
	if len(nested) > 0 {
		out["provision"] = nested
	}
}

func setRaw(m map[string]any, k string, v json.RawMessage) {
	if len(v) > 0 {
		m[k] = v
	}
}

func setList(m map[string]any, k string, v []json.RawMessage) {
	if len(v) > 0 {
		m[k] = v
	}
}
