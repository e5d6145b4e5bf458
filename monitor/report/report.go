// Package report writes the monitor's findings for auditors: a JSON array,
// CSV with one row a finding, or a printable HTML report, as
// `htlog-monitor report` writes them (to standard output, or one file of
// each format per organisation).
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/finding"
)

// Formats are the supported output formats.
var Formats = []string{"json", "csv", "html"}

// Report is what an HTML report says besides its findings.
type Report struct {
	// Title heads the report, such as the organisation's name.
	Title string
	// Origin is the log the findings are about.
	Origin string
	// Org is the organisation's id, or empty for a report of every one.
	Org string
	// Since and Until bound the events' times (zero: open).
	Since, Until time.Time
	// Generated is when the report was made.
	Generated time.Time
	// OrgName names an organisation (nil or empty: its id alone).
	OrgName func(string) string
}

// Write writes fs to w in format (json or csv; html with an untitled
// report).
func Write(w io.Writer, fs []finding.Finding, format string) error {
	return Report{Generated: time.Now()}.Write(w, fs, format)
}

// Write writes fs to w in format: json, csv or html.
func (r Report) Write(w io.Writer, fs []finding.Finding, format string) error {
	switch format {
	case "json":
		if fs == nil {
			fs = []finding.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(fs); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"time", "rule", "severity", "index", "submitter", "event_ids", "evidence", "detail", "event_time", "state", "organisation", "id"})
		for _, f := range fs {
			idx := ""
			if f.Index != finding.NoIndex {
				idx = strconv.FormatInt(f.Index, 10)
			}
			at := ""
			if !f.EventTime.IsZero() {
				at = f.EventTime.UTC().Format(time.RFC3339)
			}
			cw.Write([]string{f.Time.UTC().Format(time.RFC3339), f.Rule, string(f.Severity), idx, f.Submitter,
				strings.Join(f.EventIDs, " "), f.Evidence, f.Detail, at, string(f.State), r.name(f.Submitter), f.ID})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		return nil
	case "html":
		type row struct {
			finding.Finding
			Org string
		}
		data := struct {
			Report
			Rows   []row
			Counts map[finding.Severity]int
		}{Report: r, Counts: map[finding.Severity]int{}}
		for _, f := range fs {
			data.Rows = append(data.Rows, row{Finding: f, Org: r.name(f.Submitter)})
			data.Counts[f.Severity]++
		}
		if err := page.Execute(w, data); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		return nil
	}
	return fmt.Errorf("format: must be json, csv or html, got %q", format)
}

// Name returns an organisation's name, or its id if it has none.
func (r Report) Name(org string) string { return r.name(org) }

func (r Report) name(org string) string {
	if r.OrgName != nil && org != "" {
		if n := r.OrgName(org); n != "" {
			return n
		}
	}
	return org
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// FileName returns the base of an organisation's report files (no
// extension): its id with every character but letters, digits, dots,
// dashes and underscores made "_" ("log" for findings about no
// organisation).
func FileName(org string) string {
	if org == "" {
		return "log"
	}
	return unsafeName.ReplaceAllString(org, "_")
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Findings report{{if .Title}}: {{.Title}}{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;color:#1a1a1a;margin:1.5rem;line-height:1.4}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #767676;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
code{word-break:break-all;font-size:.85em}
@media print{body{margin:0}a{color:inherit;text-decoration:none}tr{break-inside:avoid}}
</style></head><body>
<h1>Findings report{{if .Title}}: {{.Title}}{{end}}</h1>
<p>Log <b>{{.Origin}}</b>{{if .Org}}, organisation <b>{{.Org}}</b>{{end}}.
Events from {{if .Since.IsZero}}the start of the log{{else}}{{when .Since}}{{end}} to {{if .Until.IsZero}}now{{else}}{{when .Until}} (exclusive){{end}}, by the time each event occurred.
Generated {{when .Generated}} by htlog-monitor.</p>
<p>{{len .Rows}} findings: {{range $s, $n := .Counts}}{{$n}} {{$s}}; {{end}}</p>
<table><caption>Findings, oldest event first</caption>
<thead><tr><th scope="col">Event time</th><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Organisation</th><th scope="col">State</th><th scope="col">Entry</th><th scope="col">Detail</th><th scope="col">Event ids</th></tr></thead>
<tbody>{{range .Rows}}<tr><td>{{when .EventTime}}</td><td>{{.Severity}}</td><td>{{words .Rule}}</td><td>{{.Org}}</td><td>{{.State}}</td><td>{{if ge .Index 0}}{{.Index}}{{end}}</td><td>{{.Detail}}</td><td>{{range .EventIDs}}<code>{{.}}</code> {{end}}</td></tr>
{{else}}<tr><td colspan="8">No findings.</td></tr>{{end}}</tbody></table>
</body></html>
`))
