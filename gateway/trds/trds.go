// Package trds maps a trial registration given in the items of the WHO
// Trial Registration Data Set (TRDS 1.3.1) to an htlog TRIAL event of
// subtype registration, schema trial v3 (the default) or v2. The input is
// the JSON object Registration documents (one field per TRDS item, named
// after it); docs/gateway.md tables the mapping. Trial data are public by
// law, but version 3 carries no free text: titles, names, criteria and
// statements become commitments whose openings the gateway keeps (the
// registry publishes them), codes and identifiers stay in clear. Only the
// items the trial schema carries are taken: unknown fields are refused
// rather than dropped, and so is an item version 3 cannot carry (a
// condition without a code, a time frame without a duration), with the
// field named.
package trds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/schemas"
)

// Registration is a trial registration in WHO TRDS items. Dates are
// YYYY-MM-DD.
type Registration struct {
	// PrimaryRegistryID is TRDS item 1, the primary registry's trial id
	// (NCT..., ISRCTN..., EU CT number, ...).
	PrimaryRegistryID string `json:"primary_registry_id"`
	// RegistrationDate is TRDS item 2, the date of registration.
	RegistrationDate string `json:"registration_date"`
	// SecondaryIDs is TRDS item 3 (ids in other registries).
	SecondaryIDs []string `json:"secondary_ids,omitempty"`
	// ProtocolID is the sponsor's protocol number (item 3, sponsor-issued).
	ProtocolID string `json:"protocol_id,omitempty"`
	// FundingSources is TRDS item 4, SecondarySponsors item 6.
	FundingSources    []Party `json:"funding_sources,omitempty"`
	SecondarySponsors []Party `json:"secondary_sponsors,omitempty"`
	// PrimarySponsor is TRDS item 5, as an organisation id (gln:, npi:, urn:oid:).
	PrimarySponsor string `json:"primary_sponsor"`
	// Contacts are TRDS items 7 and 8 (public and scientific queries), as
	// text: committed, never in clear.
	Contacts []string `json:"contacts,omitempty"`
	// PublicTitle and ScientificTitle are TRDS items 9 and 10, Acronym
	// the acronym of item 9.
	PublicTitle     string `json:"public_title,omitempty"`
	ScientificTitle string `json:"scientific_title,omitempty"`
	Acronym         string `json:"acronym,omitempty"`
	// Countries is TRDS item 11 (ISO 3166-1 alpha-2).
	Countries []string `json:"countries,omitempty"`
	// Conditions is TRDS item 12, Interventions item 13: each a string
	// (its text) or an object with its code.
	Conditions    []Condition    `json:"conditions,omitempty"`
	Interventions []Intervention `json:"interventions,omitempty"`
	// Eligibility is TRDS item 14.
	Eligibility *Eligibility `json:"eligibility,omitempty"`
	// StudyType is TRDS item 15 (interventional, observational, expanded_access).
	StudyType string `json:"study_type"`
	// Phase and Design are part of TRDS item 15 (phase early_phase_1 ...
	// phase_4, not_applicable).
	Phase  string  `json:"phase"`
	Design *Design `json:"design,omitempty"`
	// FirstEnrollment is TRDS item 16: date and whether actual or anticipated.
	FirstEnrollment Dated `json:"date_of_first_enrollment"`
	// TargetSampleSize is TRDS item 18.
	TargetSampleSize struct {
		N    int    `json:"n"`
		Type string `json:"type"`
	} `json:"target_sample_size"`
	// RecruitmentStatus is TRDS item 19.
	RecruitmentStatus string `json:"recruitment_status"`
	// PrimaryOutcomes and SecondaryOutcomes are TRDS items 20 and 21.
	PrimaryOutcomes   []Outcome `json:"primary_outcomes"`
	SecondaryOutcomes []Outcome `json:"secondary_outcomes,omitempty"`
	// EthicsReview is TRDS item 23 at registration.
	EthicsReview *EthicsReview `json:"ethics_review,omitempty"`
	// PrimaryCompletionDate and PrimaryCompletionType are the primary
	// completion date (42 CFR 11.10), CompletionDate TRDS item 24.
	PrimaryCompletionDate string `json:"primary_completion_date,omitempty"`
	PrimaryCompletionType string `json:"primary_completion_type,omitempty"`
	CompletionDate        *Dated `json:"completion_date,omitempty"`
	// IPDSharing is TRDS item 26.
	IPDSharing *IPDSharing `json:"ipd_sharing,omitempty"`
	// FDAAA801 and EUCTR are what the results deadlines depend on.
	FDAAA801 map[string]bool `json:"fdaaa801,omitempty"`
	EUCTR    map[string]bool `json:"eu_ctr,omitempty"`
	// ProtocolVersion and ProtocolHash identify the registered protocol
	// document (SHA-256 as sha256:<hex>).
	ProtocolVersion string `json:"protocol_version"`
	ProtocolHash    string `json:"protocol_hash"`
}

// Dated is a date and whether it is actual or anticipated.
type Dated struct {
	Date string `json:"date"`
	Type string `json:"type"`
}

// Code is a system and a code.
type Code = mapping.Code

// Party is an organisation: its id, or its name (committed).
type Party struct {
	Organization string `json:"organization,omitempty"`
	Name         string `json:"name,omitempty"`
}

// Condition is a condition studied: its text and its code (ICD-10,
// ICD-10-CM, SNOMED CT or MeSH). In JSON a bare string is its text.
type Condition struct {
	Text string `json:"text,omitempty"`
	Code *Code  `json:"code,omitempty"`
}

// UnmarshalJSON takes a string (the text) or an object.
func (c *Condition) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	type plain Condition
	return strictDecode(b, (*plain)(c))
}

// Intervention is an intervention: its type (value set
// intervention-type), its code and its name. In JSON a bare string is its
// name.
type Intervention struct {
	Type string `json:"type,omitempty"`
	Code *Code  `json:"code,omitempty"`
	Name string `json:"name,omitempty"`
}

// UnmarshalJSON takes a string (the name) or an object.
func (iv *Intervention) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &iv.Name)
	}
	type plain Intervention
	return strictDecode(b, (*plain)(iv))
}

// Age is an age limit.
type Age struct {
	Value int    `json:"value"`
	Unit  string `json:"unit"`
}

// Eligibility is TRDS item 14: the structured part and the criteria text.
type Eligibility struct {
	Sex               string `json:"sex,omitempty"`
	MinAge            *Age   `json:"min_age,omitempty"`
	MaxAge            *Age   `json:"max_age,omitempty"`
	HealthyVolunteers *bool  `json:"healthy_volunteers,omitempty"`
	Criteria          string `json:"criteria,omitempty"`
}

// Design is the study design of TRDS item 15.
type Design struct {
	Allocation        string `json:"allocation,omitempty"`
	InterventionModel string `json:"intervention_model,omitempty"`
	Masking           string `json:"masking,omitempty"`
	PrimaryPurpose    string `json:"primary_purpose,omitempty"`
}

// EthicsReview is TRDS item 23: status, date, and the committee and the
// approval as text (committed).
type EthicsReview struct {
	Status    string `json:"status"`
	Date      string `json:"date,omitempty"`
	Committee string `json:"committee,omitempty"`
	Approval  string `json:"approval,omitempty"`
}

// IPDSharing is TRDS item 26: the plan and the statement text.
type IPDSharing struct {
	Plan      string `json:"plan"`
	Statement string `json:"statement,omitempty"`
}

// Outcome is a TRDS outcome: its wording (measure, time_frame) and, for
// version 3, the measure as a code, the metric, the aggregation and the
// time frame as a duration.
type Outcome struct {
	Measure     string    `json:"measure"`
	TimeFrame   string    `json:"time_frame"`
	MeasureCode *Code     `json:"measure_code,omitempty"`
	Metric      string    `json:"metric,omitempty"`
	Aggregation string    `json:"aggregation,omitempty"`
	Duration    *Duration `json:"duration,omitempty"`
}

// Duration is an outcome's time frame counted from an anchor.
type Duration struct {
	Value  int    `json:"value"`
	Unit   string `json:"unit"`
	Anchor string `json:"anchor,omitempty"`
}

// Map maps a Registration to a TRIAL event of schema trial v3. now is the
// acceptance time: the event records that the sponsor publishes its
// registration now; the registration date is in the body.
func Map(body []byte, now time.Time) (mapping.Item, error) { return MapVersion(body, now, 3) }

// MapVersion maps a Registration to a TRIAL event of schema trial version
// 2 or 3 (0 means 3).
func MapVersion(body []byte, now time.Time, version int) (mapping.Item, error) {
	if version != 2 {
		version = 3
	}
	var r Registration
	if err := strictDecode(body, &r); err != nil {
		return mapping.Item{}, err
	}
	it := mapping.Item{Kind: "trial", Version: version, Source: "trial:" + r.PrimaryRegistryID}
	switch {
	case r.PrimaryRegistryID == "":
		return it, mapping.Malformed("primary_registry_id", "required (TRDS item 1)")
	case r.PrimarySponsor == "":
		return it, mapping.Malformed("primary_sponsor", "required (TRDS item 5), as an organisation id")
	case r.RegistrationDate == "":
		return it, mapping.Malformed("registration_date", "required (TRDS item 2)")
	case len(r.PrimaryOutcomes) == 0:
		return it, mapping.Malformed("primary_outcomes", "at least one (TRDS item 20)")
	}
	out := map[string]any{
		"registry_id":        r.PrimaryRegistryID,
		"subtype":            "registration",
		"sponsor":            r.PrimarySponsor,
		"registration_date":  r.RegistrationDate,
		"protocol_version":   r.ProtocolVersion,
		"protocol_hash":      r.ProtocolHash,
		"study_type":         r.StudyType,
		"phase":              r.Phase,
		"first_enrollment":   map[string]any{"date": r.FirstEnrollment.Date, "type": r.FirstEnrollment.Type},
		"target_sample_size": map[string]any{"n": r.TargetSampleSize.N, "type": r.TargetSampleSize.Type},
		"recruitment_status": r.RecruitmentStatus,
	}
	opt := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	opt("protocol_id", r.ProtocolID)
	opt("primary_completion_date", r.PrimaryCompletionDate)
	if len(r.SecondaryIDs) > 0 {
		out["secondary_ids"] = r.SecondaryIDs
	}
	var c mapping.Committer
	var err error
	if version == 2 {
		err = v2(&r, out)
	} else {
		err = v3(&r, out, &c)
	}
	if err != nil {
		return it, err
	}
	if err := validate(version, out); err != nil {
		return it, err
	}
	it.Body, it.Input, it.Openings = out, body, c.Openings
	it.OccurredAt = now.UTC().Truncate(time.Minute).Format(time.RFC3339)
	it.Subject = "trial:" + r.PrimaryRegistryID
	return it, nil
}

// v2 adds what trial v2 carries: titles, conditions and interventions as
// text, outcomes as wording. Items only v3 carries are refused, not lost.
func v2(r *Registration, out map[string]any) error {
	for name, set := range map[string]bool{
		"funding_sources": len(r.FundingSources) > 0, "secondary_sponsors": len(r.SecondarySponsors) > 0,
		"contacts": len(r.Contacts) > 0, "acronym": r.Acronym != "", "countries": len(r.Countries) > 0,
		"eligibility": r.Eligibility != nil, "design": r.Design != nil, "ethics_review": r.EthicsReview != nil,
		"primary_completion_type": r.PrimaryCompletionType != "", "completion_date": r.CompletionDate != nil,
		"ipd_sharing": r.IPDSharing != nil, "fdaaa801": r.FDAAA801 != nil, "eu_ctr": r.EUCTR != nil,
	} {
		if set {
			return mapping.Unmappable(name, "trial schema version 2 does not carry this item: map to version 3")
		}
	}
	if r.PublicTitle != "" {
		out["public_title"] = r.PublicTitle
	}
	if r.ScientificTitle != "" {
		out["scientific_title"] = r.ScientificTitle
	}
	var conds, ivs []string
	for i, cd := range r.Conditions {
		if cd.Text == "" {
			return mapping.Unmappable(fmt.Sprintf("conditions[%d]", i), "trial schema version 2 takes a condition's text")
		}
		conds = append(conds, cd.Text)
	}
	for i, iv := range r.Interventions {
		if iv.Name == "" {
			return mapping.Unmappable(fmt.Sprintf("interventions[%d]", i), "trial schema version 2 takes an intervention's name")
		}
		ivs = append(ivs, iv.Name)
	}
	if len(conds) > 0 {
		out["conditions"] = conds
	}
	if len(ivs) > 0 {
		out["interventions"] = ivs
	}
	o2 := func(os []Outcome) []any {
		res := make([]any, len(os))
		for i, o := range os {
			res[i] = map[string]any{"measure": o.Measure, "time_frame": o.TimeFrame}
		}
		return res
	}
	out["primary_outcomes"] = o2(r.PrimaryOutcomes)
	if len(r.SecondaryOutcomes) > 0 {
		out["secondary_outcomes"] = o2(r.SecondaryOutcomes)
	}
	return nil
}

// v3 adds what trial v3 carries: text as commitments, codes in clear.
func v3(r *Registration, out map[string]any, c *mapping.Committer) error {
	commit := func(k, v string) {
		if v != "" {
			out[k] = c.Commit("", v)
		}
	}
	commit("public_title", r.PublicTitle)
	commit("scientific_title", r.ScientificTitle)
	commit("acronym", r.Acronym)
	parties := func(name string, ps []Party) error {
		if len(ps) == 0 {
			return nil
		}
		res := make([]any, len(ps))
		for i, p := range ps {
			switch {
			case p.Organization != "" && p.Name == "":
				res[i] = map[string]any{"organization": p.Organization}
			case p.Name != "" && p.Organization == "":
				res[i] = map[string]any{"name": c.Commit("", p.Name)}
			default:
				return mapping.Unmappable(fmt.Sprintf("%s[%d]", name, i), "give the organisation id or the name, exactly one")
			}
		}
		out[name] = res
		return nil
	}
	if err := parties("funding_sources", r.FundingSources); err != nil {
		return err
	}
	if err := parties("secondary_sponsors", r.SecondarySponsors); err != nil {
		return err
	}
	if len(r.Contacts) > 0 {
		cs := make([]any, len(r.Contacts))
		for i, s := range r.Contacts {
			cs[i] = c.Commit("", s)
		}
		out["contacts"] = cs
	}
	if len(r.Countries) > 0 {
		out["countries"] = r.Countries
	}
	var conds []any
	for i, cd := range r.Conditions {
		if cd.Code == nil {
			return mapping.Unmappable(fmt.Sprintf("conditions[%d].code", i), "required: trial schema version 3 takes conditions as codes (ICD-10, ICD-10-CM, SNOMED CT or MeSH)")
		}
		conds = append(conds, *cd.Code)
	}
	if len(conds) > 0 {
		out["conditions"] = conds
	}
	var ivs []any
	for i, iv := range r.Interventions {
		if iv.Type == "" {
			return mapping.Unmappable(fmt.Sprintf("interventions[%d].type", i), "required: a code of value set intervention-type (drug, device, ...)")
		}
		m := map[string]any{"type": iv.Type}
		if iv.Code != nil {
			m["code"] = *iv.Code
		}
		if iv.Name != "" {
			m["name"] = c.Commit("", iv.Name)
		}
		ivs = append(ivs, m)
	}
	if len(ivs) > 0 {
		out["interventions"] = ivs
	}
	if e := r.Eligibility; e != nil {
		m := map[string]any{}
		if e.Sex != "" {
			m["sex"] = e.Sex
		}
		if e.MinAge != nil {
			m["min_age"] = map[string]any{"value": e.MinAge.Value, "unit": e.MinAge.Unit}
		}
		if e.MaxAge != nil {
			m["max_age"] = map[string]any{"value": e.MaxAge.Value, "unit": e.MaxAge.Unit}
		}
		if e.HealthyVolunteers != nil {
			m["healthy_volunteers"] = *e.HealthyVolunteers
		}
		if e.Criteria != "" {
			m["criteria"] = c.Commit("", e.Criteria)
		}
		out["eligibility"] = m
	}
	if d := r.Design; d != nil {
		m := map[string]any{}
		for k, v := range map[string]string{"allocation": d.Allocation, "intervention_model": d.InterventionModel, "masking": d.Masking, "primary_purpose": d.PrimaryPurpose} {
			if v != "" {
				m[k] = v
			}
		}
		out["design"] = m
	}
	if e := r.EthicsReview; e != nil {
		m := map[string]any{"status": e.Status}
		if e.Date != "" {
			m["date"] = e.Date
		}
		if e.Committee != "" {
			m["committee"] = c.Commit("", e.Committee)
		}
		if e.Approval != "" {
			m["approval"] = c.Commit("", e.Approval)
		}
		out["ethics_review"] = m
	}
	if r.PrimaryCompletionType != "" {
		out["primary_completion_type"] = r.PrimaryCompletionType
	}
	if d := r.CompletionDate; d != nil {
		out["completion_date"] = map[string]any{"date": d.Date, "type": d.Type}
	}
	if p := r.IPDSharing; p != nil {
		m := map[string]any{"plan": p.Plan}
		if p.Statement != "" {
			m["statement"] = c.Commit("", p.Statement)
		}
		out["ipd_sharing"] = m
	}
	if r.FDAAA801 != nil {
		out["fdaaa801"] = r.FDAAA801
	}
	if r.EUCTR != nil {
		out["eu_ctr"] = r.EUCTR
	}
	o3 := func(name string, os []Outcome) ([]any, error) {
		res := make([]any, len(os))
		for i, o := range os {
			path := fmt.Sprintf("%s[%d]", name, i)
			if o.MeasureCode == nil {
				return nil, mapping.Unmappable(path+".measure_code", "required: trial schema version 3 takes the measure as a code (LOINC, SNOMED CT or MeSH)")
			}
			if o.Duration == nil {
				return nil, mapping.Unmappable(path+".duration", "required: trial schema version 3 takes the time frame as a duration (value, unit, anchor)")
			}
			tf := map[string]any{"value": o.Duration.Value, "unit": o.Duration.Unit}
			if o.Duration.Anchor != "" {
				tf["anchor"] = o.Duration.Anchor
			}
			m := map[string]any{"measure": *o.MeasureCode, "time_frame": tf}
			if o.Metric != "" {
				m["metric"] = o.Metric
			}
			if o.Aggregation != "" {
				m["aggregation"] = o.Aggregation
			}
			if o.Measure != "" || o.TimeFrame != "" {
				w, _ := json.Marshal(map[string]string{"measure": o.Measure, "time_frame": o.TimeFrame})
				m["text"] = c.Commit("", string(w))
			}
			res[i] = m
		}
		return res, nil
	}
	po, err := o3("primary_outcomes", r.PrimaryOutcomes)
	if err != nil {
		return err
	}
	out["primary_outcomes"] = po
	if len(r.SecondaryOutcomes) > 0 {
		so, err := o3("secondary_outcomes", r.SecondaryOutcomes)
		if err != nil {
			return err
		}
		out["secondary_outcomes"] = so
	}
	return nil
}

// bodyToInput names the TRDS input field of a body field where they differ.
var bodyToInput = map[string]string{
	"registry_id": "primary_registry_id", "sponsor": "primary_sponsor", "first_enrollment": "date_of_first_enrollment",
}

var (
	validatorOnce sync.Once
	validator     *schemas.Validator
	validatorErr  error
)

// validate checks the body against its schema and names the input field
// at fault, so that the sender learns which item to fix.
func validate(version int, out map[string]any) error {
	validatorOnce.Do(func() { validator, validatorErr = schemas.NewValidator() })
	if validatorErr != nil {
		return validatorErr
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	err = validator.Validate("trial", version, b)
	var ve *schemas.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	parts := strings.Split(strings.TrimPrefix(ve.Field, "/"), "/")
	if in, ok := bodyToInput[parts[0]]; ok {
		parts[0] = in
	}
	path := parts[0]
	for _, p := range parts[1:] {
		if p != "" && p[0] >= '0' && p[0] <= '9' {
			path += "[" + p + "]"
		} else {
			path += "." + p
		}
	}
	return mapping.Unmappable(path, "does not fit trial schema version %d: %s", version, ve.Reason)
}

// strictDecode decodes one JSON object, refusing unknown fields.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var me *mapping.Error
		if errors.As(err, &me) {
			return me
		}
		return mapping.Malformed("", "not a TRDS registration: %s", shortErr(err))
	}
	if dec.More() {
		return mapping.Malformed("", "one JSON object only")
	}
	return nil
}

func shortErr(err error) string {
	if e, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("invalid JSON at byte %d", e.Offset)
	}
	if e, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("%s: wrong JSON type (want %s)", e.Field, e.Type)
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		return "a field that is not a TRDS item this gateway takes"
	}
	return "invalid JSON"
}
