// Package trds maps a trial registration given in the items of the WHO
// Trial Registration Data Set (TRDS 1.3.1) to an htlog TRIAL event of
// subtype registration. The input is the JSON object Registration
// documents (one field per TRDS item, named after it); docs/gateway.md
// tables the mapping. Trial data are public by law: nothing is tagged or
// committed, but only the items the trial schema carries are taken, and
// unknown fields are refused rather than dropped.
package trds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/htlog/htlog/gateway/mapping"
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
	// PrimarySponsor is TRDS item 5, as an organisation id (gln:, npi:, urn:oid:).
	PrimarySponsor string `json:"primary_sponsor"`
	// PublicTitle and ScientificTitle are TRDS items 9 and 10.
	PublicTitle     string `json:"public_title,omitempty"`
	ScientificTitle string `json:"scientific_title,omitempty"`
	// Conditions is TRDS item 12, Interventions item 13.
	Conditions    []string `json:"conditions,omitempty"`
	Interventions []string `json:"interventions,omitempty"`
	// StudyType is TRDS item 15 (interventional, observational, expanded_access).
	StudyType string `json:"study_type"`
	// Phase is part of TRDS item 15 (early_phase_1 ... phase_4, not_applicable).
	Phase string `json:"phase"`
	// FirstEnrollment is TRDS item 16: date and whether actual or anticipated.
	FirstEnrollment struct {
		Date string `json:"date"`
		Type string `json:"type"`
	} `json:"date_of_first_enrollment"`
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
	// PrimaryCompletionDate is TRDS item 23 (completion date).
	PrimaryCompletionDate string `json:"primary_completion_date,omitempty"`
	// ProtocolVersion and ProtocolHash identify the registered protocol
	// document (SHA-256 as sha256:<hex>).
	ProtocolVersion string `json:"protocol_version"`
	ProtocolHash    string `json:"protocol_hash"`
}

// Outcome is a TRDS outcome: its measure and time frame.
type Outcome struct {
	Measure   string `json:"measure"`
	TimeFrame string `json:"time_frame"`
}

// Map maps a Registration to a TRIAL event. now is the acceptance time:
// the event records that the sponsor publishes its registration now; the
// registration date is in the body.
func Map(body []byte, now time.Time) (mapping.Item, error) {
	var r Registration
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return mapping.Item{}, mapping.Malformed("", "not a TRDS registration: %s", shortErr(err))
	}
	if dec.More() {
		return mapping.Item{}, mapping.Malformed("", "one JSON object only")
	}
	it := mapping.Item{Kind: "trial", Version: 2, Source: "trial:" + r.PrimaryRegistryID}
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
		"primary_outcomes":   outcomes(r.PrimaryOutcomes),
	}
	opt := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	opt("protocol_id", r.ProtocolID)
	opt("public_title", r.PublicTitle)
	opt("scientific_title", r.ScientificTitle)
	opt("primary_completion_date", r.PrimaryCompletionDate)
	if len(r.SecondaryIDs) > 0 {
		out["secondary_ids"] = r.SecondaryIDs
	}
	if len(r.Conditions) > 0 {
		out["conditions"] = r.Conditions
	}
	if len(r.Interventions) > 0 {
		out["interventions"] = r.Interventions
	}
	if len(r.SecondaryOutcomes) > 0 {
		out["secondary_outcomes"] = outcomes(r.SecondaryOutcomes)
	}
	it.Body, it.Input = out, body
	it.OccurredAt = now.UTC().Truncate(time.Minute).Format(time.RFC3339)
	it.Subject = "trial:" + r.PrimaryRegistryID
	return it, nil
}

func outcomes(os []Outcome) []any {
	out := make([]any, len(os))
	for i, o := range os {
		out[i] = map[string]any{"measure": o.Measure, "time_frame": o.TimeFrame}
	}
	return out
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
