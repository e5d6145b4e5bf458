// Package entry is the monitor's view of one logged event: its index, id,
// envelope fields and the kind-specific body decoded into the few fields the
// compliance rules read. The entry checker builds an Entry from the bytes
// the log served; the rules only ever see Entries.
package entry

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/htlog/htlog/event"
)

// Entry is one decoded log entry.
type Entry struct {
	// Index is the entry's position in the log.
	Index uint64
	// ID is the event id, "sha256:<hex>".
	ID string
	// Event is the parsed payload.
	Event *event.Event
	// Time is Event.OccurredAt.
	Time time.Time
	// Exactly one of these is set, by Event.Kind.
	Access  *Access
	Consent *Consent
	Custody *Custody
	Trial   *Trial
}

// Org returns the submitting organisation.
func (e *Entry) Org() string { return e.Event.Submitter.Org }

// Coding is a code from a code system.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

// Period is a time period; End is open when zero.
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Covers reports whether t lies in the period.
func (p Period) Covers(t time.Time) bool {
	return !t.Before(p.Start) && (p.End.IsZero() || t.Before(p.End))
}

// Access is the body of an ACCESS event. A version 3 body lists its agents
// (Agents); Decode sets Agent to the requestor among them, so a rule that
// reads Agent judges both versions alike.
type Access struct {
	Action       string `json:"action"`
	Outcome      string `json:"outcome"`
	PurposeOfUse string `json:"purpose_of_use"`
	Agent        struct {
		Role         Coding `json:"role"`
		Organization string `json:"organization"`
		Who          string `json:"who"`
	} `json:"agent"`
	// Agents are a version 3 body's agents (FHIR AuditEvent.agent).
	Agents        []Agent `json:"agents"`
	Patient       string  `json:"patient"`
	Authorization string  `json:"authorization"`
	Disclosure    *struct {
		Flag        bool   `json:"flag"`
		Recipient   string `json:"recipient"`
		Description string `json:"description"`
		Basis       string `json:"basis"`
	} `json:"disclosure"`
}

// Agent is one agent of a version 3 ACCESS event.
type Agent struct {
	// Kind is user, delegating_user or application.
	Kind         string `json:"kind"`
	Role         Coding `json:"role"`
	Who          string `json:"who"`
	Organization string `json:"organization"`
	Requestor    bool   `json:"requestor"`
}

// Consent is the body of a CONSENT event.
type Consent struct {
	Status  string `json:"status"`
	Scope   string `json:"scope"`
	Patient string `json:"patient"`
	Period  Period `json:"period"`
	Grantee struct {
		Organization string `json:"organization"`
		Person       string `json:"person"`
	} `json:"grantee"`
	Decision   string      `json:"decision"`
	Provisions []Provision `json:"provisions"`
	Revokes    string      `json:"revokes"`
}

// Provision is one exception or restriction of a consent.
type Provision struct {
	Decision string   `json:"decision"`
	Period   *Period  `json:"period"`
	Action   []string `json:"action"`
	Purpose  []string `json:"purpose"`
}

// Custody is the body of a CUSTODY event.
type Custody struct {
	EventType    string    `json:"event_type"`
	Action       string    `json:"action"`
	BizStep      string    `json:"biz_step"`
	Disposition  string    `json:"disposition"`
	Products     []Product `json:"products"`
	BizLocation  string    `json:"biz_location"`
	Sources      []Party   `json:"sources"`
	Destinations []Party   `json:"destinations"`
	Verification *struct {
		Result string `json:"result"`
	} `json:"verification"`
	// Version 3: class-level quantities, the parent and child logistic
	// units of an aggregation, a transformation's inputs and outputs, the
	// DSCSA suspect and illegitimate product determinations, a recall.
	Quantities       []Quantity `json:"quantities"`
	ParentSSCC       string     `json:"parent_sscc"`
	ChildSSCCs       []string   `json:"child_ssccs"`
	InputProducts    []Product  `json:"input_products"`
	InputQuantities  []Quantity `json:"input_quantities"`
	OutputProducts   []Product  `json:"output_products"`
	OutputQuantities []Quantity `json:"output_quantities"`
	SuspectProduct   *struct {
		Flag bool `json:"flag"`
	} `json:"suspect_product"`
	IllegitimateProduct *struct {
		Flag bool `json:"flag"`
		// DeterminedAt and FDANotifiedAt are RFC 3339 times, or empty.
		DeterminedAt  string `json:"determined_at"`
		FDANotifiedAt string `json:"fda_notified_at"`
	} `json:"illegitimate_product"`
	Recall *struct {
		// Scope is lot or package.
		Scope string `json:"scope"`
		Class string `json:"class"`
	} `json:"recall"`
}

// Quantity is a class-level quantity of a version 3 CUSTODY event: so many
// units of one lot of one GTIN.
type Quantity struct {
	GTIN     string  `json:"gtin"`
	Lot      string  `json:"lot"`
	Expiry   string  `json:"expiry"`
	Quantity float64 `json:"quantity"`
	UOM      string  `json:"uom"`
}

// LotKey identifies a lot: GTIN and lot number.
func LotKey(gtin, lot string) string { return gtin + "/" + lot }

// Product is one serialized package (DSCSA product identifier).
type Product struct {
	GTIN   string `json:"gtin"`
	Serial string `json:"serial"` // a tag
	Lot    string `json:"lot"`
	Expiry string `json:"expiry"` // YYYY-MM-DD
}

// Key identifies the package: GTIN and serial tag.
func (p Product) Key() string { return p.GTIN + "/" + p.Serial }

// Party is a source or destination of a custody event.
type Party struct {
	Type  string `json:"type"`
	Party string `json:"party"`
}

// Trial is the body of a TRIAL event.
type Trial struct {
	RegistryID string `json:"registry_id"`
	Subtype    string `json:"subtype"`
	// Sponsor is the sponsor's organisation id (version 2; free text in
	// version 1).
	Sponsor          string `json:"sponsor"`
	RegistrationDate string `json:"registration_date"`
	FirstEnrollment  *struct {
		Date string `json:"date"`
		Type string `json:"type"`
	} `json:"first_enrollment"`
	TargetSampleSize *struct {
		N    int64  `json:"n"`
		Type string `json:"type"`
	} `json:"target_sample_size"`
	PrimaryOutcomes []Outcome `json:"primary_outcomes"`
	// Version 3: what decides which results deadlines apply.
	StudyType string `json:"study_type"`
	Phase     string `json:"phase"`
	Design    *struct {
		PrimaryPurpose string `json:"primary_purpose"`
	} `json:"design"`
	Interventions []Intervention `json:"interventions"`
	Countries     []string       `json:"countries"`
	FDAAA801      *struct {
		FDARegulatedDrug   bool `json:"fda_regulated_drug"`
		FDARegulatedDevice bool `json:"fda_regulated_device"`
		USSite             bool `json:"us_site"`
		INDIDE             bool `json:"ind_ide"`
		USExport           bool `json:"us_export"`
	} `json:"fdaaa801"`
	ResultsDelay *struct {
		Type         string `json:"type"`
		Submitted    string `json:"submitted"`
		ApprovalDate string `json:"approval_date"`
		NewDeadline  string `json:"new_deadline"`
	} `json:"results_delay"`
	EUCTR *struct {
		Applies    bool `json:"applies"`
		Paediatric bool `json:"paediatric"`
	} `json:"eu_ctr"`
	// PrimaryCompletionType is actual or anticipated (version 3), or empty.
	PrimaryCompletionType string `json:"primary_completion_type"`
	CompletionDate        *struct {
		Date string `json:"date"`
		Type string `json:"type"`
	} `json:"completion_date"`
	SummaryResults *struct {
		PostedDate string `json:"posted_date"`
	} `json:"summary_results"`
	// PrimaryCompletionDate is YYYY-MM-DD, or empty.
	PrimaryCompletionDate string `json:"primary_completion_date"`
	ResultsReference      string `json:"results_reference"`
	Amendment             *struct {
		ChangedFields []string `json:"changed_fields"`
	} `json:"amendment"`
}

// Outcome is a trial outcome measure. In version 2 Measure and TimeFrame
// are the registry's words; a version 3 outcome decodes to its coded form,
// Measure "<system>|<code>" and TimeFrame the duration in days or months
// (CodedTimeFrame), so that outcomes compare on what they measure and when,
// not on their wording.
type Outcome struct {
	Measure     string `json:"measure"`
	TimeFrame   string `json:"time_frame"`
	Metric      string `json:"metric,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	// Coded is set for a version 3 outcome: Measure and TimeFrame are the
	// coded forms.
	Coded bool `json:"coded,omitempty"`
}

// UnmarshalJSON reads a version 2 outcome (strings) or a version 3 one
// (a coded measure and a structured time frame).
func (o *Outcome) UnmarshalJSON(b []byte) error {
	var raw struct {
		Measure     json.RawMessage `json:"measure"`
		TimeFrame   json.RawMessage `json:"time_frame"`
		Metric      string          `json:"metric"`
		Aggregation string          `json:"aggregation"`
		Coded       bool            `json:"coded"` // in the rules' saved state
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*o = Outcome{Metric: raw.Metric, Aggregation: raw.Aggregation, Coded: raw.Coded}
	if len(raw.Measure) > 0 && raw.Measure[0] == '{' {
		o.Coded = true
		var c Coding
		if err := json.Unmarshal(raw.Measure, &c); err != nil {
			return err
		}
		o.Measure = c.System + "|" + c.Code
	} else if len(raw.Measure) > 0 {
		if err := json.Unmarshal(raw.Measure, &o.Measure); err != nil {
			return err
		}
	}
	if len(raw.TimeFrame) > 0 && raw.TimeFrame[0] == '{' {
		var tf struct {
			Value  int64  `json:"value"`
			Unit   string `json:"unit"`
			Anchor string `json:"anchor"`
		}
		if err := json.Unmarshal(raw.TimeFrame, &tf); err != nil {
			return err
		}
		o.TimeFrame = CodedTimeFrame(tf.Value, tf.Unit)
	} else if len(raw.TimeFrame) > 0 {
		if err := json.Unmarshal(raw.TimeFrame, &o.TimeFrame); err != nil {
			return err
		}
	}
	return nil
}

// CodedTimeFrame returns the normal form of a version 3 time frame: whole
// days for hours, days and weeks ("P84D" for 12 weeks), months for months
// and years ("P36M" for 3 years); hours that are not whole days stay hours.
// Two time frames are the same when their normal forms are.
func CodedTimeFrame(value int64, unit string) string {
	switch unit {
	case "hour":
		if value%24 == 0 {
			return fmt.Sprintf("P%dD", value/24)
		}
		return fmt.Sprintf("PT%dH", value)
	case "day":
		return fmt.Sprintf("P%dD", value)
	case "week":
		return fmt.Sprintf("P%dD", value*7)
	case "month":
		return fmt.Sprintf("P%dM", value)
	case "year":
		return fmt.Sprintf("P%dM", value*12)
	}
	return fmt.Sprintf("%d %s", value, unit)
}

// Intervention is a trial intervention: version 2's words, or version 3's
// type (drug, device, ...).
type Intervention struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// UnmarshalJSON reads a version 2 intervention (a string) or a version 3
// one (an object with a type).
func (in *Intervention) UnmarshalJSON(b []byte) error {
	*in = Intervention{}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &in.Text)
	}
	var v struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	in.Type = v.Type
	return nil
}

// Decode builds an Entry from a parsed event; it decodes the body leniently
// (schema validation is the entry checker's job) and fails only when the
// body does not have the JSON types the rules read.
func Decode(index uint64, id string, ev *event.Event) (*Entry, error) {
	e := &Entry{Index: index, ID: id, Event: ev, Time: ev.Time()}
	var dst any
	switch ev.Kind {
	case "access":
		e.Access = &Access{}
		dst = e.Access
	case "consent":
		e.Consent = &Consent{}
		dst = e.Consent
	case "custody":
		e.Custody = &Custody{}
		dst = e.Custody
	case "trial":
		e.Trial = &Trial{}
		dst = e.Trial
	default:
		return nil, fmt.Errorf("unknown kind %q", ev.Kind)
	}
	if err := json.Unmarshal(ev.Body, dst); err != nil {
		return nil, fmt.Errorf("couldn't decode the %s body: %w", ev.Kind, err)
	}
	if a := e.Access; a != nil && a.Agent.Who == "" {
		for _, ag := range a.Agents {
			if ag.Requestor {
				a.Agent.Role, a.Agent.Organization, a.Agent.Who = ag.Role, ag.Organization, ag.Who
				break
			}
		}
	}
	return e, nil
}

// ParseDate parses a YYYY-MM-DD date (UTC midnight).
func ParseDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}
