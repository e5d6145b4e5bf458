package main

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/schemas"
)

func init() {
	register("disclosures", subcommand{
		summary: "a patient's accounting of disclosures (HIPAA 164.528), from the log and their bundle",
		run:     disclosuresCmd,
	})
}

const disclosuresHelp = `
Lists the disclosures of your health information that your provider must
account for (HIPAA, 45 CFR 164.528), over the six years before today unless
--since and --until say otherwise: date, who disclosed, to whom, what, why
and under which legal basis.

It finds your events on the log with the key in your patient bundle
(--bundle, from your provider) and verifies that each is included in the
log, with the witness policy of the bundle. Recipients and descriptions are
on the log only as commitments; the openings in your bundle reveal them, and
each opening is checked against the commitment on the log: one that does not
match is reported as such, never shown as the recipient.

Disclosures 164.528(a)(1) does not require are left out and counted at the
end: for treatment, payment or health care operations, to you, under your
authorization (docs/regulator.md lists each exclusion).

--format text (printable, the default), html (a printable page) or json.`

// acctExclusions are the legal bases whose disclosures an accounting
// leaves out, with the paragraph of 164.528(a)(1) that does.
var acctExclusions = map[string]string{
	"tpo":           "164.528(a)(1)(i): for treatment, payment or health care operations",
	"to-patient":    "164.528(a)(1)(ii): to you",
	"authorization": "164.528(a)(1)(iv): under your authorization",
}

// tpoPurposes are the purposes of use that make a disclosure logged
// without a legal basis (schema version 1) one for treatment, payment or
// operations (164.528(a)(1)(i)); patientPurposes one to the patient
// (164.528(a)(1)(ii)).
var (
	tpoPurposes     = []string{"TREAT", "ETREAT", "CAREMGT", "HPAYMT", "HOPERAT"}
	patientPurposes = []string{"PATRQT"}
)

// Opened is a committed field of a disclosure and what the bundle's opening
// revealed of it.
type Opened struct {
	Commitment string `json:"commitment"`
	// Value is the opened value, empty unless Status is "opened".
	Value string `json:"value,omitempty"`
	// Status is "opened", "no opening in the bundle" or "the opening does
	// not match the commitment on the log".
	Status string `json:"status"`
}

// Opening statuses.
const (
	openedOK       = "opened"
	openedMissing  = "no opening in the bundle"
	openedMismatch = "the opening does not match the commitment on the log"
)

// AcctDisclosure is one disclosure an accounting lists (164.528(b)(2)).
type AcctDisclosure struct {
	Date          time.Time `json:"date"`
	Index         uint64    `json:"index"`
	EventID       string    `json:"event_id"`
	Discloser     string    `json:"discloser"`
	DiscloserName string    `json:"discloser_name,omitempty"`
	Recipient     Opened    `json:"recipient"`
	Description   Opened    `json:"description"`
	Purpose       string    `json:"purpose"`
	PurposeText   string    `json:"purpose_text"`
	Basis         string    `json:"legal_basis"`
	BasisText     string    `json:"legal_basis_text"`
	// Note says what a reader must know besides (a basis that may be
	// excluded, none recorded).
	Note string `json:"note,omitempty"`
}

// AcctExcluded is a disclosure left out, and the paragraph that excludes it.
type AcctExcluded struct {
	Date    time.Time `json:"date"`
	Index   uint64    `json:"index"`
	EventID string    `json:"event_id"`
	Basis   string    `json:"legal_basis"`
	Reason  string    `json:"reason"`
}

// Accounting is an accounting of disclosures for one patient and period.
type Accounting struct {
	Origin        string           `json:"log"`
	Custodian     string           `json:"custodian"`
	CustodianName string           `json:"custodian_name,omitempty"`
	Since         time.Time        `json:"since"`
	Until         time.Time        `json:"until"`
	Generated     time.Time        `json:"generated"`
	Disclosures   []AcctDisclosure `json:"disclosures"`
	Excluded      []AcctExcluded   `json:"excluded"`
	// Verified says what was checked of every event listed.
	Verified string `json:"verified"`
}

// accessDisclosure is what an accounting reads of an ACCESS body.
type accessDisclosure struct {
	PurposeOfUse string `json:"purpose_of_use"`
	Disclosure   *struct {
		Flag        bool   `json:"flag"`
		Recipient   string `json:"recipient"`
		Description string `json:"description"`
		Basis       string `json:"basis"`
	} `json:"disclosure"`
}

// openField opens commitment with the bundle's openings, checking each.
func openField(commitment string, openings []client.BundleOpening) Opened {
	o := Opened{Commitment: commitment, Status: openedMissing}
	for _, op := range openings {
		if op.Commitment != commitment {
			continue
		}
		raw, err := hex.DecodeString(op.Opening)
		if err == nil && event.VerifyCommitment(commitment, raw, []byte(op.Value)) {
			return Opened{Commitment: commitment, Value: op.Value, Status: openedOK}
		}
		o.Status = openedMismatch
	}
	return o
}

// display returns a code's words in a value set, or the code.
func display(set, code string) string {
	if vs, ok := schemas.LookupValueSet(set); ok {
		if d := vs.Display("", code); d != "" {
			return d
		}
	}
	return code
}

// account builds the accounting of the disclosures among events (verified
// by the caller) that occurred in [since, until).
func account(events []client.Event, openings []client.BundleOpening, name func(string) string, since, until time.Time) *Accounting {
	a := &Accounting{Since: since, Until: until, Disclosures: []AcctDisclosure{}, Excluded: []AcctExcluded{}}
	for _, e := range events {
		if e.Event == nil || e.Event.Kind != "access" {
			continue
		}
		var body accessDisclosure
		if json.Unmarshal(e.Event.Body, &body) != nil || body.Disclosure == nil || !body.Disclosure.Flag {
			continue
		}
		at := e.Event.Time()
		if at.Before(since) || !at.Before(until) {
			continue
		}
		d := body.Disclosure
		reason, excluded := acctExclusions[d.Basis]
		if d.Basis == "" && slices.Contains(tpoPurposes, body.PurposeOfUse) {
			reason, excluded = acctExclusions["tpo"]+" (no legal basis recorded; its purpose says so)", true
		}
		if d.Basis == "" && slices.Contains(patientPurposes, body.PurposeOfUse) {
			reason, excluded = acctExclusions["to-patient"]+" (no legal basis recorded; its purpose says so)", true
		}
		if excluded {
			a.Excluded = append(a.Excluded, AcctExcluded{Date: at, Index: e.Index, EventID: e.ID, Basis: d.Basis, Reason: reason})
			continue
		}
		org := e.Event.Submitter.Org
		ad := AcctDisclosure{Date: at, Index: e.Index, EventID: e.ID, Discloser: org, DiscloserName: name(org),
			Recipient: openField(d.Recipient, openings), Description: openField(d.Description, openings),
			Purpose: body.PurposeOfUse, PurposeText: display("purpose-of-use", body.PurposeOfUse),
			Basis: d.Basis, BasisText: display("disclosure-basis", d.Basis)}
		switch d.Basis {
		case "":
			ad.BasisText, ad.Note = "none recorded", "the event names no legal basis (an event logged before bases were recorded): ask your provider"
		case "specialized-government":
			ad.Note = "disclosures for national security (164.512(k)(2)) or to a correctional institution (164.512(k)(5)) need no accounting (164.528(a)(1)(vi), (vii)); the log does not tell them apart from the other specialized government functions, so this one is listed"
		}
		a.Disclosures = append(a.Disclosures, ad)
	}
	slices.SortFunc(a.Disclosures, func(x, y AcctDisclosure) int { return cmp.Or(x.Date.Compare(y.Date), cmp.Compare(x.Index, y.Index)) })
	slices.SortFunc(a.Excluded, func(x, y AcctExcluded) int { return cmp.Or(x.Date.Compare(y.Date), cmp.Compare(x.Index, y.Index)) })
	return a
}

// bundleWithOpenings parses a patient bundle. The openings are checked one
// by one by the accounting (an opening that does not match is reported, not
// refused), so a bundle that the strict parser refuses for its openings
// alone is read with its openings set aside and returned beside it.
func bundleWithOpenings(b []byte) (*client.PatientBundle, []client.BundleOpening, error) {
	pb, err := client.ParsePatientBundle(b)
	if err == nil {
		return pb, pb.Openings, nil
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(b, &raw) != nil || raw["openings"] == nil {
		return nil, nil, err
	}
	var openings []client.BundleOpening
	if json.Unmarshal(raw["openings"], &openings) != nil {
		return nil, nil, err
	}
	delete(raw, "openings")
	rest, merr := json.Marshal(raw)
	if merr != nil {
		return nil, nil, err
	}
	pb, err2 := client.ParsePatientBundle(rest)
	if err2 != nil {
		return nil, nil, err
	}
	return pb, openings, nil
}

func disclosuresCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("disclosures", "--bundle FILE [--since DATE] [--until DATE] [--format text|html|json] [--tz ZONE]", disclosuresHelp, stderr)
	lf := addLogFlags(fs, false)
	bundleFile := fs.String("bundle", "", "your patient bundle (from your provider): log, provider, key, policy, monitors and openings (required)")
	sinceFlag := fs.String("since", "", "first day (YYYY-MM-DD) or time (RFC 3339) of the period (default: six years before --until)")
	untilFlag := fs.String("until", "", "last day (YYYY-MM-DD, included) or time (RFC 3339, excluded) of the period (default: now)")
	format := fs.String("format", "text", "text, html or json")
	tz := fs.String("tz", "Local", "show times in this time zone (an IANA name such as Europe/Paris, or Local)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *bundleFile == "" || fs.NArg() != 0 {
		return usageError{"--bundle FILE is required (the patient bundle your provider gave you)"}
	}
	if *lf.policy != "" {
		return usageError{"--bundle gives the witness policy: give no --policy with it"}
	}
	if !slices.Contains([]string{"text", "html", "json"}, *format) {
		return usageError{fmt.Sprintf("--format must be text, html or json, not %q", *format)}
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{"--tz: " + err.Error()}
	}
	now := time.Now()
	until, err := periodBound("--until", *untilFlag, now, loc, true)
	if err != nil {
		return err
	}
	since, err := periodBound("--since", *sinceFlag, until.AddDate(-6, 0, 0), loc, false)
	if err != nil {
		return err
	}
	if !since.Before(until) {
		return usageError{"--since must be before --until"}
	}
	b, err := readFileArg(*bundleFile, client.MaxBundleSize)
	if err != nil {
		return err
	}
	bundle, openings, err := bundleWithOpenings(b)
	if err != nil {
		return usageError{fmt.Sprintf("%s: %v", *bundleFile, err)}
	}
	c, err := lf.client(false)
	if err != nil {
		return err
	}
	if c.Policy, err = bundle.ParsedPolicy(); err != nil {
		return usageError{fmt.Sprintf("%s: %v", *bundleFile, err)}
	}
	if *lf.url == "" {
		c.URL = bundle.Log
	}
	tag, err := bundle.Tag()
	if err != nil {
		return usageError{fmt.Sprintf("%s: %v", *bundleFile, err)}
	}
	ctx, cancel := lf.context()
	defer cancel()
	events, err := c.Lookup(ctx, tag) // each event's inclusion verified against the policy
	if err != nil {
		return classify(err)
	}
	name := func(string) string { return "" }
	if reg, err := c.Registry(ctx); err != nil {
		fmt.Fprintf(stderr, "organisation names are not shown (the log's registry did not verify): %v\n", err)
	} else {
		name = func(org string) string { n, _ := reg.Name(org); return n }
	}
	a := account(events, openings, name, since, until)
	a.Custodian, a.CustodianName, a.Generated = bundle.Custodian, name(bundle.Custodian), now.UTC()
	a.Origin = c.Policy.Logs[0].Verifier.Name()
	if len(events) > 0 {
		last := events[len(events)-1].Checkpoint
		a.Origin = last.Origin
		a.Verified = fmt.Sprintf("each event was found with your key and its inclusion verified in a checkpoint of %s cosigned by %s", last.Origin, strings.Join(last.Witnesses, ", "))
	} else {
		a.Verified = "the log has no event carrying your tag"
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	case "html":
		return acctHTML.Execute(stdout, acctView{a, loc})
	}
	return writeAccountingText(stdout, a, loc)
}

// periodBound parses --since or --until: a date (local midnight; for
// --until, the end of that day) or an RFC 3339 time; empty gives def.
func periodBound(flag, s string, def time.Time, loc *time.Location, endOfDay bool) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("%s must be a date such as 2026-05-03 or an RFC 3339 time, not %q", flag, s)}
}

func orgText(name, org string) string {
	if name == "" {
		return org
	}
	return name + " (" + org + ")"
}

func openedText(o Opened) string {
	if o.Status == openedOK {
		return o.Value
	}
	return "(" + o.Status + ")"
}

// writeAccountingText writes the accounting as printable text.
func writeAccountingText(w io.Writer, a *Accounting, loc *time.Location) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Accounting of disclosures (HIPAA, 45 CFR 164.528)\n")
	fmt.Fprintf(&b, "Provider: %s\nLog: %s\n", orgText(a.CustodianName, a.Custodian), a.Origin)
	fmt.Fprintf(&b, "Period: %s to %s (times in %s)\n\n", a.Since.In(loc).Format("2 Jan 2006 15:04"), a.Until.In(loc).Format("2 Jan 2006 15:04"), loc)
	if len(a.Disclosures) == 0 {
		b.WriteString("No disclosure to account for in this period.\n")
	}
	for i, d := range a.Disclosures {
		fmt.Fprintf(&b, "%d. %s\n", i+1, d.Date.In(loc).Format("Mon 2 Jan 2006, 15:04"))
		fmt.Fprintf(&b, "   Disclosed by: %s\n", orgText(d.DiscloserName, d.Discloser))
		fmt.Fprintf(&b, "   To: %s\n", openedText(d.Recipient))
		fmt.Fprintf(&b, "   What: %s\n", openedText(d.Description))
		fmt.Fprintf(&b, "   Purpose: %s\n", d.PurposeText)
		fmt.Fprintf(&b, "   Legal basis: %s\n", d.BasisText)
		if d.Note != "" {
			fmt.Fprintf(&b, "   Note: %s\n", d.Note)
		}
		fmt.Fprintf(&b, "   Log entry %d, event %s\n", d.Index, d.EventID)
	}
	if len(a.Excluded) > 0 {
		fmt.Fprintf(&b, "\nNot listed, as 164.528(a)(1) allows (%d):\n", len(a.Excluded))
		for _, x := range a.Excluded {
			fmt.Fprintf(&b, "  - %s, log entry %d: %s\n", x.Date.In(loc).Format("2 Jan 2006"), x.Index, x.Reason)
		}
	}
	fmt.Fprintf(&b, "\nChecked: %s.\n", a.Verified)
	_, err := io.WriteString(w, b.String())
	return err
}

type acctView struct {
	*Accounting
	Loc *time.Location
}

var acctHTML = template.Must(template.New("acct").Funcs(template.FuncMap{
	"when":   func(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 2 Jan 2006, 15:04") },
	"day":    func(t time.Time, loc *time.Location) string { return t.In(loc).Format("2 Jan 2006") },
	"org":    orgText,
	"opened": openedText,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Accounting of disclosures</title>
<style>body{font-family:system-ui,sans-serif;color:#1a1a1a;margin:1.5rem;line-height:1.4}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #767676;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}@media print{body{margin:0}tr{break-inside:avoid}}</style></head><body>
<h1>Accounting of disclosures</h1>
<p>HIPAA, 45 CFR 164.528. Provider: <b>{{org .CustodianName .Custodian}}</b>. Log: {{.Origin}}.<br>
Period: {{when .Since .Loc}} to {{when .Until .Loc}} (times in {{.Loc}}).</p>
<table><caption>Disclosures, oldest first</caption>
<thead><tr><th scope="col">Date</th><th scope="col">Disclosed by</th><th scope="col">To</th><th scope="col">What</th><th scope="col">Purpose</th><th scope="col">Legal basis</th><th scope="col">Log entry</th></tr></thead>
<tbody>{{range .Disclosures}}<tr><td>{{when .Date $.Loc}}</td><td>{{org .DiscloserName .Discloser}}</td><td>{{opened .Recipient}}</td><td>{{opened .Description}}</td><td>{{.PurposeText}}</td><td>{{.BasisText}}{{if .Note}}<br><small>{{.Note}}</small>{{end}}</td><td>{{.Index}}</td></tr>
{{else}}<tr><td colspan="7">No disclosure to account for in this period.</td></tr>{{end}}</tbody></table>
{{if .Excluded}}<h2>Not listed, as 164.528(a)(1) allows</h2><ul>{{range .Excluded}}<li>{{day .Date $.Loc}}, log entry {{.Index}}: {{.Reason}}</li>{{end}}</ul>{{end}}
<p>Checked: {{.Verified}}.</p>
</body></html>
`))
