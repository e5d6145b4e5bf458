// Package fhir maps FHIR R4 and R5 AuditEvent and Consent resources (alone or in a
// transaction or batch Bundle, IHE BALP included) to htlog ACCESS and
// CONSENT events. Resources are decoded with the generated R4 models of
// github.com/samply/golang-fhir-models; the whole mapping is in this
// package, one function per resource, and docs/gateway.md tables it field by
// field. A resource that cannot be mapped is refused with a *mapping.Error,
// which the server turns into an OperationOutcome.
package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/htlog/htlog/gateway/mapping"
	"github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Mapper maps FHIR resources. It is safe for concurrent use.
type Mapper struct {
	cfg  mapping.Config
	keys mapping.Keys
}

// New returns a Mapper for the submitter cfg describes.
func New(cfg mapping.Config, keys mapping.Keys) *Mapper { return &Mapper{cfg: cfg, keys: keys} }

// accessVersion is the access schema version AuditEvents are mapped to.
func (m *Mapper) accessVersion() int {
	if m.cfg.AccessVersion == 2 {
		return 2
	}
	return 3
}

// MaxBundleEntries bounds the entries of one Bundle.
const MaxBundleEntries = 1000

// resourceHeader is what tells resources apart.
type resourceHeader struct {
	ResourceType string          `json:"resourceType"`
	ID           string          `json:"id"`
	Outcome      json.RawMessage `json:"outcome"`
	Decision     json.RawMessage `json:"decision"`
	Code         json.RawMessage `json:"code"`
	Subject      json.RawMessage `json:"subject"`
	Date         json.RawMessage `json:"date"`
}

// Map maps one resource, of the type want ("" for any of AuditEvent,
// Consent, Bundle), to its items: one for an AuditEvent or a Consent, one
// per entry for a Bundle (all entries or none).
func (m *Mapper) Map(ctx context.Context, want string, body []byte) ([]mapping.Item, error) {
	var h resourceHeader
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, mapping.Malformed("", "not a FHIR JSON resource: %s", jsonReason(err))
	}
	if want != "" && h.ResourceType != want {
		return nil, mapping.Malformed("resourceType", "this endpoint takes %s resources", want)
	}
	switch h.ResourceType {
	case "AuditEvent", "Consent":
		return m.resource(ctx, h, body)
	case "Bundle":
		return m.bundle(ctx, body)
	case "":
		return nil, mapping.Malformed("resourceType", "missing")
	}
	return nil, mapping.Unmappable("resourceType", "htlog logs AuditEvent and Consent resources (alone or in a Bundle), not %s", safeName(h.ResourceType))
}

// resource maps an AuditEvent or a Consent, an R5 one rewritten into its R4
// form first.
func (m *Mapper) resource(ctx context.Context, h resourceHeader, body []byte) ([]mapping.Item, error) {
	isR5, toR4, mapR4 := isR5AuditEvent, r5ToR4, m.auditEvent
	if h.ResourceType == "Consent" {
		isR5, toR4, mapR4 = isR5Consent, r5ConsentToR4, m.consent
	}
	r4 := body
	if isR5(h) {
		var err error
		if r4, err = toR4(body); err != nil {
			return nil, err
		}
	}
	it, err := mapR4(ctx, r4)
	if err != nil {
		return nil, err
	}
	it.Input = body
	return []mapping.Item{it}, nil
}

// isR5AuditEvent reports whether the resource has R5's shape: outcome an
// object, or code instead of type.
func isR5AuditEvent(h resourceHeader) bool {
	o := bytes.TrimSpace(h.Outcome)
	return len(o) > 0 && o[0] == '{' || len(h.Code) > 0
}

func (m *Mapper) bundle(ctx context.Context, body []byte) ([]mapping.Item, error) {
	b, err := fhir.UnmarshalBundle(body)
	if err != nil {
		return nil, mapping.Malformed("Bundle", "%s", jsonReason(err))
	}
	switch b.Type {
	case fhir.BundleTypeTransaction, fhir.BundleTypeBatch, fhir.BundleTypeCollection:
	default:
		return nil, mapping.Unmappable("Bundle.type", "must be transaction, batch or collection")
	}
	if len(b.Entry) == 0 {
		return nil, mapping.Malformed("Bundle.entry", "no entries")
	}
	if len(b.Entry) > MaxBundleEntries {
		return nil, mapping.Malformed("Bundle.entry", "at most %d entries", MaxBundleEntries)
	}
	var out []mapping.Item
	for i, e := range b.Entry {
		path := fmt.Sprintf("Bundle.entry[%d]", i)
		if e.Request != nil && e.Request.Method != fhir.HTTPVerbPOST && e.Request.Method != fhir.HTTPVerbPUT {
			return nil, mapping.Unmappable(path+".request.method", "only POST and PUT entries can be logged")
		}
		if len(e.Resource) == 0 {
			return nil, mapping.Malformed(path+".resource", "missing")
		}
		var h resourceHeader
		_ = json.Unmarshal(e.Resource, &h)
		if h.ResourceType == "Bundle" {
			return nil, mapping.Unmappable(path+".resource", "nested Bundles are not taken")
		}
		items, err := m.Map(ctx, "", e.Resource)
		if err != nil {
			me := mapping.AsError(err)
			me.Path = path + "." + me.Path
			return nil, me
		}
		out = append(out, items...)
	}
	return out, nil
}

// patientRef returns the custodian's name for the patient a Reference
// points to: "Patient/<id>" for a literal reference (relative or absolute,
// any _history dropped), "Patient?identifier=<system>|<value>" for a
// logical one. ok is false when the reference names no patient.
func patientRef(r *fhir.Reference) (string, bool) {
	if r == nil {
		return "", false
	}
	if r.Reference != nil {
		ref := *r.Reference
		if u, err := url.Parse(ref); err == nil && u.IsAbs() {
			ref = strings.TrimPrefix(u.Path, "/")
		}
		parts := strings.Split(ref, "/")
		for i := 0; i+1 < len(parts); i++ {
			if parts[i] == "Patient" && validID(parts[i+1]) {
				return "Patient/" + parts[i+1], true
			}
		}
		return "", false
	}
	if r.Identifier != nil && r.Identifier.Value != nil && *r.Identifier.Value != "" &&
		(r.Type == nil || *r.Type == "Patient") {
		sys := ""
		if r.Identifier.System != nil {
			sys = *r.Identifier.System
		}
		return "Patient?identifier=" + sys + "|" + *r.Identifier.Value, true
	}
	return "", false
}

// PatientRefOfID returns the patient reference of a FHIR logical id.
func PatientRefOfID(id string) (string, bool) {
	if !validID(id) {
		return "", false
	}
	return "Patient/" + id, true
}

// validID reports whether s is a FHIR id: [A-Za-z0-9-.]{1,64}.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// refString returns a Reference as one string (reference, else
// identifier system|value, else display), for tags and commitments.
func refString(r *fhir.Reference) string {
	switch {
	case r == nil:
		return ""
	case r.Reference != nil:
		return *r.Reference
	case r.Identifier != nil && r.Identifier.Value != nil:
		s := ""
		if r.Identifier.System != nil {
			s = *r.Identifier.System
		}
		return s + "|" + *r.Identifier.Value
	case r.Display != nil:
		return *r.Display
	}
	return ""
}

// firstIn returns the first coding of codings in the value set.
func firstIn(valueSet string, codings []fhir.Coding) (mapping.Code, bool) {
	for _, c := range codings {
		if c.System != nil && c.Code != nil && mapping.InValueSet(valueSet, *c.System, *c.Code) {
			return mapping.Code{System: *c.System, Code: *c.Code}, true
		}
	}
	return mapping.Code{}, false
}

// codings flattens CodeableConcepts.
func codings(ccs ...fhir.CodeableConcept) []fhir.Coding {
	var out []fhir.Coding
	for _, cc := range ccs {
		out = append(out, cc.Coding...)
	}
	return out
}

// safeName returns s if it is a plain identifier (a resource type name),
// else a placeholder: refusals never quote arbitrary input.
func safeName(s string) string {
	if len(s) > 40 {
		return "this resource type"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "this resource type"
		}
	}
	return s
}

// jsonReason shortens a JSON decoding error without quoting input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case asErr(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case asErr(err, &te):
		return fmt.Sprintf("%s: wrong JSON type (want %s)", te.Field, te.Type)
	}
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.ReplaceAll(s, "\n", " ")
}
