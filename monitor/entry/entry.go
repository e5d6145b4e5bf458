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

// Access is the body of an ACCESS event.
type Access struct {
	Action       string `json:"action"`
	Outcome      string `json:"outcome"`
	PurposeOfUse string `json:"purpose_of_use"`
	Agent        struct {
		Role         Coding `json:"role"`
		Organization string `json:"organization"`
		Who          string `json:"who"`
	} `json:"agent"`
	Patient       string `json:"patient"`
	Authorization string `json:"authorization"`
	Disclosure    *struct {
		Flag        bool   `json:"flag"`
		Recipient   string `json:"recipient"`
		Description string `json:"description"`
		Basis       string `json:"basis"`
	} `json:"disclosure"`
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
}

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
	// PrimaryCompletionDate is YYYY-MM-DD, or empty.
	PrimaryCompletionDate string `json:"primary_completion_date"`
	ResultsReference      string `json:"results_reference"`
	Amendment             *struct {
		ChangedFields []string `json:"changed_fields"`
	} `json:"amendment"`
}

// Outcome is a trial outcome measure.
type Outcome struct {
	Measure   string `json:"measure"`
	TimeFrame string `json:"time_frame"`
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
	return e, nil
}

// ParseDate parses a YYYY-MM-DD date (UTC midnight).
func ParseDate(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}
