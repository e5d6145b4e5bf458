package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/mod/sumdb/note"
)

// Plain-language descriptions of a patient's events: what the patient page
// (web/htlog.js, describe), htlog lookup and htlog watch show. The words of
// codes come from the value sets (schemas/valuesets), organisation names
// from a registry the client verified (VerifyRegistry), times in the
// reader's time zone. web_test.go holds htlog.js to the same text.

// Description is one event told in plain language.
type Description struct {
	// Index is the entry's position in the log; EventID its id.
	Index   uint64
	EventID string
	// Time is when the event happened; When is it as the reader reads it.
	Time time.Time
	When string
	// Org is the acting organisation's id; OrgName its verified name ("" if
	// none).
	Org, OrgName string
	// Sentence says who did what, and why.
	Sentence string
	// BreakGlass marks an emergency access (purpose ETREAT).
	BreakGlass bool
	// Disclosure is "" or says to whom and on what basis a record left the
	// organisation.
	Disclosure string
}

// actionWords say what an access did, by its FHIR AuditEvent action code.
var actionWords = map[string]string{"C": "added to", "R": "viewed", "U": "changed", "D": "deleted from", "E": "used"}

// FormatWhen formats t as the plain-language pages do: "Tue 3 Mar 2026, 14:05".
func FormatWhen(t time.Time) string { return t.Format("Mon 2 Jan 2006, 15:04") }

// FormatDay formats t as a date: "3 Mar 2026".
func FormatDay(t time.Time) string { return t.Format("2 Jan 2006") }

// display returns the words of a code in a value set, or the code itself.
func display(set, system, code string) string {
	if vs, ok := schemas.LookupValueSet(set); ok {
		if d := vs.Display(system, code); d != "" {
			return d
		}
	}
	return code
}

// withArticle puts "a" or "an" before a role's words unless they have one.
func withArticle(s string) string {
	for _, a := range []string{"a ", "an ", "the "} {
		if strings.HasPrefix(s, a) {
			return s
		}
	}
	if s != "" && strings.ContainsRune("aeiouAEIOU", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type plainAgent struct {
	Role         *coding `json:"role"`
	Organization string  `json:"organization"`
	Requestor    *bool   `json:"requestor"`
}

type plainBody struct {
	Action       string       `json:"action"`
	Outcome      string       `json:"outcome"`
	PurposeOfUse string       `json:"purpose_of_use"`
	Agent        *plainAgent  `json:"agent"`
	Agents       []plainAgent `json:"agents"`
	Disclosure   *struct {
		Flag        bool   `json:"flag"`
		Recipient   string `json:"recipient"`
		Description string `json:"description"`
		Basis       string `json:"basis"`
	} `json:"disclosure"`
	// consent
	Status     string                         `json:"status"`
	Decision   string                         `json:"decision"`
	Revokes    string                         `json:"revokes"`
	Grantee    *struct{ Organization string } `json:"grantee"`
	Provisions []struct {
		Decision string   `json:"decision"`
		Purpose  []string `json:"purpose"`
	} `json:"provisions"`
}

// Describe tells ev (entry index) in plain language, with organisation
// names from reg (nil: none verified), the values that bundle's openings
// reveal (nil: none), and times in loc.
func Describe(index uint64, ev *event.Event, eventID string, reg *Registry, bundle *PatientBundle, loc *time.Location) Description {
	d := Description{Index: index, EventID: eventID, Org: ev.Submitter.Org}
	if t, err := time.Parse(time.RFC3339, ev.OccurredAt); err == nil {
		d.Time = t.In(loc)
		d.When = FormatWhen(d.Time)
	} else {
		d.When = ev.OccurredAt
	}
	var b plainBody
	_ = json.Unmarshal(ev.Body, &b) // a body that does not fit leaves fields empty
	agent := b.Agent
	for i := range b.Agents {
		if agent == nil || (b.Agents[i].Requestor != nil && *b.Agents[i].Requestor) {
			agent = &b.Agents[i]
		}
	}
	if agent != nil && agent.Organization != "" {
		d.Org = agent.Organization
	} else if b.Grantee != nil && b.Grantee.Organization != "" {
		d.Org = b.Grantee.Organization
	}
	d.OrgName, _ = reg.Name(d.Org)
	org := d.OrgName
	switch {
	case org != "":
	case reg == nil:
		org = "the organisation " + d.Org + " (name not verified)"
	default:
		org = "the organisation " + d.Org + " (no name in the log's registry)"
	}
	switch ev.Kind {
	case "access":
		who := "someone"
		if agent != nil && agent.Role != nil {
			who = withArticle(display("agent-role", agent.Role.System, agent.Role.Code))
		}
		verb, ok := actionWords[b.Action]
		if !ok {
			verb = "used"
		}
		s := capitalise(who) + " at " + org + " " + verb + " your record"
		if b.Outcome != "" && b.Outcome != "0" {
			s = capitalise(who) + " at " + org + " tried to use your record (it failed)"
		}
		if b.PurposeOfUse != "" {
			s += ", for " + display("purpose-of-use", "", b.PurposeOfUse)
		}
		d.Sentence = s + "."
		d.BreakGlass = b.PurposeOfUse == "ETREAT"
		if b.Disclosure != nil && b.Disclosure.Flag {
			to := "a recipient your provider has not revealed to you"
			if v, ok := bundle.opening(b.Disclosure.Recipient); ok {
				to = v
			}
			d.Disclosure = "Disclosed to " + to
			if v, ok := bundle.opening(b.Disclosure.Description); ok {
				d.Disclosure += " (" + v + ")"
			}
			if b.Disclosure.Basis != "" {
				d.Disclosure += ", on the basis of " + display("disclosure-basis", "", b.Disclosure.Basis)
			}
			d.Disclosure += "."
		}
	case "consent":
		what := "your consent"
		if b.Decision == "deny" {
			what = "your refusal"
		}
		var purposes []string
		for _, p := range b.Provisions {
			if p.Decision == "deny" {
				continue
			}
			for _, c := range p.Purpose {
				if w := display("purpose-of-use", "", c); !contains(purposes, w) {
					purposes = append(purposes, w)
				}
			}
		}
		s := capitalise(org) + " recorded " + what
		switch {
		case b.Revokes != "":
			s = capitalise(org) + " recorded that you withdrew a consent"
		case b.Status != "" && b.Status != "active":
			s = capitalise(org) + " recorded that " + what + " is no longer in force"
		}
		if len(purposes) > 0 {
			s += ", for " + strings.Join(purposes, ", ")
		}
		d.Sentence = s + "."
	default:
		d.Sentence = fmt.Sprintf("%s logged a %s event about you.", capitalise(org), ev.Kind)
	}
	return d
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// opening is Opening on a possibly nil bundle.
func (b *PatientBundle) opening(commitment string) (string, bool) {
	if b == nil || commitment == "" {
		return "", false
	}
	return b.Opening(commitment)
}

// VerdictText says in plain words what one monitor found about an entry,
// with dates in loc: "allowed under your consent of 3 May 2026",
// "emergency access, under review", "no consent found".
func VerdictText(v EntryVerdict, loc *time.Location) string {
	switch v.Status {
	case VerdictAllowed:
		if v.ConsentAt != nil {
			return "allowed under your consent of " + FormatDay(v.ConsentAt.In(loc))
		}
		return "allowed under your consent"
	case VerdictPermittedDisclosure:
		return "a disclosure the law permits without your consent"
	case VerdictUnderReview:
		return "emergency access, under review"
	case VerdictFlagged:
		for _, f := range v.Findings {
			if f.State == "resolved" {
				continue
			}
			if f.Rule == "access_without_consent" {
				return "no consent found"
			}
			return "flagged: " + f.Summary
		}
		return "flagged"
	case VerdictNoFinding:
		return "checked, nothing to report"
	case VerdictNotCheckedYet:
		return "not checked yet"
	}
	return "unknown verdict"
}

// Lines returns the description as the lines htlog lookup prints and htlog
// watch sends: the sentence, the marks, whether it is in the log, then one
// line per monitor (verdicts maps a monitor's name to its verdict text, or
// to "not verified: ..." when its answer could not be checked).
func (d Description) Lines(inLog string, monitors []string, verdicts map[string]string) []string {
	out := []string{d.When + ": " + d.Sentence}
	if d.BreakGlass {
		out = append(out, "  ⚠ Emergency access (break-glass).")
	}
	if d.Disclosure != "" {
		out = append(out, "  ⇢ "+d.Disclosure)
	}
	out = append(out, "  "+inLog)
	for _, m := range monitors {
		out = append(out, "  Monitor "+m+": "+verdicts[m])
	}
	return out
}

// InLogText is the line that says an event's inclusion proof verified, in
// words that do not read as "this access was fine".
func InLogText(index uint64) string {
	return fmt.Sprintf("✓ In the log as entry %d (proof checked): it is on the record for good. Whether it was allowed is what the monitors say.", index)
}

// Describer tells a patient's events in plain language and asks the
// monitors of their bundle what they found: the one place htlog lookup and
// htlog watch get their text from.
type Describer struct {
	// Registry gives organisation names; nil shows ids.
	Registry *Registry
	// Bundle gives openings and monitors; nil means none.
	Bundle *PatientBundle
	// Location is the reader's time zone.
	Location *time.Location
	// HTTP is used to reach the monitors; nil means http.DefaultClient.
	HTTP *http.Client
}

// Told is one event as a Describer tells it.
type Told struct {
	// Lines are the plain-language lines (Description.Lines).
	Lines []string
	// Settled reports that every monitor of the bundle answered about the
	// event with a verified verdict other than "not checked yet".
	Settled bool
}

// Tell returns each event told in plain language, in order, with each
// monitor's verdict (or why it could not be verified).
func (d *Describer) Tell(ctx context.Context, origin string, events []Event) []Told {
	var indexes []uint64
	for _, e := range events {
		indexes = append(indexes, e.Index)
	}
	var names []string
	verdicts := map[uint64]map[string]string{}
	settled := map[uint64]bool{}
	for _, e := range events {
		verdicts[e.Index] = map[string]string{}
		settled[e.Index] = true
	}
	if d.Bundle != nil && len(events) > 0 {
		for _, m := range d.Bundle.Monitors {
			name := m.URL
			if v, err := note.NewVerifier(m.VKey); err == nil {
				name = v.Name()
			}
			names = append(names, name)
			mv, err := FetchVerdicts(ctx, d.HTTP, m, origin, indexes)
			for _, e := range events {
				v, ok := mv.entry(e.Index)
				switch {
				case err != nil:
					verdicts[e.Index][name] = "not verified (" + err.Error() + ")"
				case !ok:
					verdicts[e.Index][name] = "not verified (the monitor said nothing about this entry)"
				case v.EventID != "" && v.EventID != e.ID:
					verdicts[e.Index][name] = "not verified (the monitor's verdict is about another event)"
				default:
					verdicts[e.Index][name] = VerdictText(v, d.Location)
				}
				if err != nil || !ok || v.Status == VerdictNotCheckedYet || (v.EventID != "" && v.EventID != e.ID) {
					settled[e.Index] = false
				}
			}
		}
	}
	out := make([]Told, 0, len(events))
	for _, e := range events {
		desc := Describe(e.Index, e.Event, e.ID, d.Registry, d.Bundle, d.Location)
		out = append(out, Told{Lines: desc.Lines(InLogText(e.Index), names, verdicts[e.Index]), Settled: settled[e.Index]})
	}
	return out
}

func (mv *MonitorVerdicts) entry(i uint64) (EntryVerdict, bool) {
	if mv == nil {
		return EntryVerdict{}, false
	}
	v, ok := mv.Entries[i]
	return v, ok
}
