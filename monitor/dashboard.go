package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

// The dashboard: public pages for anyone (the log's health, the
// checkpoints heard of, findings with filters and paging, one finding with
// its history and evidence) and, for a signed-in regulator, the triage
// form. Plain HTML, no script: labelled controls, table headers with scope,
// contrast of at least 4.5:1, and tables that scroll on a narrow screen.

var pages = template.Must(template.New("layout").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":   ago,
	"join":  func(s []string, sep string) string { return strings.Join(s, sep) },
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	"short": func(s string) string {
		if len(s) > 20 {
			return s[:20] + "…"
		}
		return s
	},
}).Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · htlog-monitor</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.45}
header,main,footer{padding:0 1rem;max-width:72rem;margin:0 auto}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:baseline;border-bottom:1px solid #767676}
header p{margin:.6rem 0}
a{color:#0b4fa8}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #b35c00;outline-offset:2px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;min-width:100%}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #767676;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
code{font-size:.9em;word-break:break-all}
.sev{display:inline-block;padding:0 .4rem;border-radius:.2rem;font-weight:600}
.sev-critical{background:#7a0000;color:#fff}.sev-high{background:#a4161a;color:#fff}
.sev-medium{background:#ffe08a;color:#1a1a1a}.sev-review{background:#d6e8ff;color:#1a1a1a}
.state-open{font-weight:700}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:flex-end}
form.filters div{display:flex;flex-direction:column}
label{font-weight:600}
input,select,textarea,button{font:inherit;padding:.25rem .4rem;border:1px solid #595959;border-radius:.2rem;background:#fff;color:#1a1a1a}
button{background:#0b4fa8;color:#fff;border-color:#0b4fa8;cursor:pointer}
.health{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.5rem 1rem;margin:0;padding:0}
.health div{border:1px solid #767676;padding:.5rem;border-radius:.3rem}
.health dt{font-weight:600}.health dd{margin:0}
.warn{color:#8a1c00;font-weight:600}
nav.pages{display:flex;gap:1rem;margin:.6rem 0}
@media (max-width:40rem){
 table.cards,table.cards caption,table.cards tbody,table.cards tr,table.cards td{display:block;min-width:0}
 table.cards thead tr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
 table.cards tr{border:1px solid #767676;margin:.5rem 0;padding:.3rem}
 table.cards td{border:0;padding:.1rem .2rem}
 table.cards td::before{content:attr(data-label) ": ";font-weight:600}
}
</style></head><body>
<header><p><a href="/">htlog-monitor</a> · log <b>{{.Origin}}</b></p>
{{if .Who}}<form method="post" action="/logout"><p>Signed in as <b>{{.Who}}</b> (regulator) <button type="submit">Sign out</button></p></form>{{else}}<p><a href="/login?next={{.Path}}">Regulator sign-in</a></p>{{end}}</header>
<main>{{end}}
{{define "foot"}}</main><footer><p><a href="/findings">Findings as JSON</a> · <a href="/evidence">Evidence ids</a> · <a href="/metrics">Metrics</a></p></footer></body></html>{{end}}

{{define "sev"}}<span class="sev sev-{{.}}">{{.}}</span>{{end}}

{{define "dashboard"}}{{template "head" .}}
<h1>Monitor dashboard</h1>
<section aria-labelledby="health"><h2 id="health">Health of the log</h2>
<dl class="health">
<div><dt>Latest checkpoint</dt><dd>{{if .Latest}}size {{.Latest.Size}}, first seen {{when .Latest.Seen}} ({{ago .Now .Latest.Seen}}){{else}}none heard of yet{{end}}</dd></div>
<div><dt>Cosigned by</dt><dd>{{if .Latest}}{{with .Latest.Cosigners}}{{join . ", "}}{{else}}no witness{{end}}{{else}}—{{end}}</dd></div>
<div><dt>Verified by this monitor</dt><dd>{{.Size}} entries{{if .LastRound.IsZero}}{{else}}, last round {{ago .Now .LastRound}}{{end}}</dd></div>
<div><dt>Monitor's lag</dt><dd{{if gt .Lag 0}} class="warn"{{end}}>{{.Lag}} entries behind the latest checkpoint</dd></div>
</dl></section>

<section aria-labelledby="findings-h"><h2 id="findings-h">Findings</h2>
<form class="filters" method="get" action="/" aria-label="Filter findings">
<div><label for="f-rule">Rule</label><select id="f-rule" name="rule"><option value="">any</option>{{range .Rules}}<option value="{{.}}"{{if eq . $.Filter.Rule}} selected{{end}}>{{words .}}</option>{{end}}</select></div>
<div><label for="f-org">Organisation</label><select id="f-org" name="org"><option value="">any</option>{{range .Orgs}}<option value="{{.ID}}"{{if eq .ID $.Filter.Submitter}} selected{{end}}>{{.Label}}</option>{{end}}</select></div>
<div><label for="f-sev">Severity</label><select id="f-sev" name="severity"><option value="">any</option>{{range .Severities}}<option value="{{.}}"{{if eq (print .) (print $.Filter.Severity)}} selected{{end}}>{{.}}</option>{{end}}</select></div>
<div><label for="f-state">State</label><select id="f-state" name="state"><option value="">any</option>{{range .States}}<option value="{{.}}"{{if eq (print .) (print $.Filter.State)}} selected{{end}}>{{.}}</option>{{end}}</select></div>
<div><label for="f-from">Event from</label><input id="f-from" type="date" name="from" value="{{.From}}"></div>
<div><label for="f-to">Event to</label><input id="f-to" type="date" name="to" value="{{.To}}"></div>
<div><button type="submit">Filter</button></div>
</form>
<div class="scroll" role="region" aria-label="Findings table" tabindex="0">
<table id="findings" class="cards"><caption>Findings, newest first (page {{.Page}})</caption>
<thead><tr><th scope="col">Severity</th><th scope="col">Event time</th><th scope="col">Organisation</th><th scope="col">Rule</th><th scope="col">State</th><th scope="col">Finding</th></tr></thead>
<tbody>{{range .Findings}}<tr><td data-label="Severity">{{template "sev" .Severity}}</td><td data-label="Event time">{{when .EventTime}}</td><td data-label="Organisation">{{.Org}}</td><td data-label="Rule">{{words .Rule}}</td><td data-label="State" class="state-{{.State}}">{{.State}}</td><td data-label="Finding"><a href="/finding/{{.ID}}">{{.Summary}}</a>{{if ge .Index 0}} (entry {{.Index}}){{end}}</td></tr>
{{else}}<tr><td colspan="6">No finding matches.</td></tr>{{end}}</tbody></table></div>
<nav class="pages" aria-label="Pages of findings">{{if .Prev}}<a href="{{.Prev}}" rel="prev">Newer findings</a>{{end}}{{if .Next}}<a href="{{.Next}}" rel="next">Older findings</a>{{end}}</nav>
</section>

<section aria-labelledby="cps"><h2 id="cps">Checkpoints heard of</h2>
<div class="scroll" role="region" aria-label="Checkpoints table" tabindex="0">
<table><caption>One row per tree size and root, largest first</caption>
<thead><tr><th scope="col">Size</th><th scope="col">Root hash</th><th scope="col">First seen</th><th scope="col">Heard from</th><th scope="col">Cosigners</th><th scope="col">Checked</th></tr></thead>
<tbody>{{range .Checkpoints}}<tr><td>{{.Size}}</td><td><code title="{{.Root}}">{{short .Root.String}}</code></td><td>{{when .Seen}}</td><td>{{join .Sources ", "}}</td><td>{{join .Cosigners ", "}}</td><td>{{if .Checked}}yes{{else}}not yet{{end}}</td></tr>
{{else}}<tr><td colspan="6">None yet.</td></tr>{{end}}</tbody></table></div>
</section>

<section aria-labelledby="ev"><h2 id="ev">Split-view evidence</h2>
<ul>{{range .Evidence}}<li><a href="/evidence/{{.}}" download>Evidence bundle {{short .}}</a></li>{{else}}<li>None: no split view seen.</li>{{end}}</ul>
</section>
{{template "foot" .}}{{end}}

{{define "finding"}}{{template "head" .}}
<h1>Finding: {{words .F.Rule}}</h1>
<dl>
<dt>State</dt><dd id="state" class="state-{{.F.State}}">{{.F.State}}</dd>
<dt>Severity</dt><dd>{{template "sev" .F.Severity}}</dd>
<dt>What it means</dt><dd>{{.Summary}}</dd>
<dt>Detail</dt><dd>{{.F.Detail}}</dd>
<dt>Organisation</dt><dd>{{.Org}}</dd>
<dt>Event time</dt><dd>{{when .F.EventTime}}</dd>
<dt>Log entry</dt><dd>{{if ge .F.Index 0}}{{.F.Index}}{{else}}none (about the log itself){{end}}</dd>
<dt>Event ids</dt><dd>{{range .F.EventIDs}}<code>{{.}}</code><br>{{else}}none{{end}}</dd>
<dt>Recorded by the monitor</dt><dd>{{when .F.Time}}</dd>
<dt>Evidence</dt><dd><a href="/finding/{{.F.ID}}.json" download>This finding and its history (JSON)</a>{{if .F.Evidence}} · <a href="/evidence/{{.F.Evidence}}" download>split-view evidence bundle</a>{{end}}</dd>
</dl>
<h2 id="history">History</h2>
<div class="scroll" role="region" aria-labelledby="history" tabindex="0"><table><caption>Changes of state, oldest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Note</th></tr></thead>
<tbody>{{range .History}}<tr><td>{{when .At}}</td><td>{{.Who}}</td><td>{{.From}}</td><td>{{.To}}</td><td>{{.Note}}</td></tr>{{else}}<tr><td colspan="5">No change yet: open since it was recorded.</td></tr>{{end}}</tbody></table></div>
<h2 id="triage">Triage</h2>
{{if .Who}}{{if .Next}}<form method="post" action="/findings/{{.F.ID}}/state" aria-labelledby="triage">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p><label for="t-state">New state</label><br><select id="t-state" name="state" required>{{range .Next}}<option value="{{.}}">{{.}}</option>{{end}}</select></p>
<p><label for="t-note">Note (required; public: write no health data)</label><br><textarea id="t-note" name="note" rows="3" cols="50" maxlength="2000" required></textarea></p>
<p><button type="submit">Save</button></p></form>{{end}}
{{else}}<p><a href="/login?next=/finding/{{.F.ID}}">Sign in as a regulator</a> to acknowledge, dispute or resolve this finding.</p>{{end}}
<p><a href="/">Back to the dashboard</a></p>
{{template "foot" .}}{{end}}

{{define "login"}}{{template "head" .}}
<h1>Regulator sign-in</h1>
<form method="post" action="/login">
<input type="hidden" name="next" value="{{.Next}}">
<p><label for="l-name">Name</label><br><input id="l-name" name="name" autocomplete="username" required></p>
<p><label for="l-token">Token</label><br><input id="l-token" name="token" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
{{template "foot" .}}{{end}}
`))

// ago says how long before now t was, in words.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// page is what every page shows in its header.
type page struct {
	Title, Origin, Path, Who string
	Now                      time.Time
}

func (m *Monitor) page(r *http.Request, title string) page {
	p := page{Title: title, Origin: m.origin, Path: r.URL.RequestURI(), Now: time.Now()}
	if se, ok := m.sessions.get(r, p.Now); ok {
		p.Who = se.name
	}
	return p
}

// orgLabel names an organisation: its name and id, or its id alone.
func (m *Monitor) orgLabel(org string) string {
	if org == "" {
		return "—"
	}
	if n := m.orgName(org); n != "" {
		return n + " (" + org + ")"
	}
	return org
}

// findingRow is a finding as the dashboard lists it.
type findingRow struct {
	finding.Finding
	Org, Summary string
}

func (m *Monitor) render(w http.ResponseWriter, name string, data any) (int, error) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		return http.StatusInternalServerError, err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte(b.String()))
	return 0, nil
}

func (m *Monitor) handleDashboard(w http.ResponseWriter, r *http.Request) (int, error) {
	ctx := r.Context()
	q, pageNo, err := parseFilter(r.URL.Query())
	if err != nil {
		return http.StatusBadRequest, err
	}
	if r.URL.Query().Get("limit") != "" {
		return http.StatusBadRequest, errors.New("limit: the dashboard pages by page=")
	}
	data := struct {
		page
		Size, Lag   uint64
		LastRound   time.Time
		Latest      *store.Checkpoint
		Checkpoints []store.Checkpoint
		Evidence    []string
		Filter      finding.Filter
		From, To    string
		Rules       []string
		Orgs        []struct{ ID, Label string }
		Severities  []finding.Severity
		States      []finding.State
		Findings    []findingRow
		Page        int
		Prev, Next  string
	}{page: m.page(r, "Dashboard"), Filter: q, Page: pageNo, Severities: finding.Severities, States: finding.States,
		From: r.URL.Query().Get("from"), To: r.URL.Query().Get("to")}
	if c := m.Confirmed(); c != nil {
		data.Size = c.Size
	}
	m.mu.Lock()
	data.LastRound = m.lastRound
	m.mu.Unlock()
	if data.Checkpoints, err = m.cfg.Store.RecentCheckpoints(ctx, 20); err != nil {
		return http.StatusInternalServerError, err
	}
	if len(data.Checkpoints) > 0 {
		data.Latest = &data.Checkpoints[0]
		if data.Latest.Size > data.Size {
			data.Lag = data.Latest.Size - data.Size
		}
	}
	counts, err := m.cfg.Store.CountFindings(ctx)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	var orgs []string
	for _, c := range counts {
		if !slices.Contains(data.Rules, c.Rule) {
			data.Rules = append(data.Rules, c.Rule)
		}
		if c.Submitter != "" && !slices.Contains(orgs, c.Submitter) {
			orgs = append(orgs, c.Submitter)
		}
	}
	slices.Sort(orgs)
	for _, o := range orgs {
		data.Orgs = append(data.Orgs, struct{ ID, Label string }{o, m.orgLabel(o)})
	}
	q.Limit++
	fs, err := m.cfg.Store.Findings(ctx, q)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	more := len(fs) > PageSize
	if more {
		fs = fs[:PageSize]
	}
	for _, f := range fs {
		data.Findings = append(data.Findings, findingRow{Finding: f, Org: m.orgLabel(f.Submitter), Summary: Summary(f.Rule)})
	}
	link := func(p int) string {
		v := r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		return "/?" + v.Encode() + "#findings"
	}
	if pageNo > 1 {
		data.Prev = link(pageNo - 1)
	}
	if more {
		data.Next = link(pageNo + 1)
	}
	if data.Evidence, err = m.cfg.Store.EvidenceIDs(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	return m.render(w, "dashboard", data)
}

// FindingRecord is a finding with its triage history, as
// /finding/<id>.json serves it.
type FindingRecord struct {
	finding.Finding
	Summary string               `json:"summary"`
	History []finding.Transition `json:"history"`
}

func (m *Monitor) handleFinding(w http.ResponseWriter, r *http.Request) (int, error) {
	id, asJSON := strings.CutSuffix(r.PathValue("id"), ".json")
	if !evidenceID.MatchString(id) {
		return http.StatusBadRequest, errors.New("finding id: must be 64 lowercase hex digits")
	}
	f, err := m.cfg.Store.Finding(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound, errors.New("no such finding")
	}
	if err != nil {
		return http.StatusInternalServerError, err
	}
	h, err := m.cfg.Store.History(r.Context(), id)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if asJSON {
		if h == nil {
			h = []finding.Transition{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Disposition", `attachment; filename="finding-`+id[:16]+`.json"`)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(FindingRecord{Finding: f, Summary: Summary(f.Rule), History: h})
	}
	data := struct {
		page
		F            finding.Finding
		Org, Summary string
		History      []finding.Transition
		Next         []finding.State
		CSRF         string
	}{page: m.page(r, "Finding "+id[:12]), F: f, Org: m.orgLabel(f.Submitter), Summary: Summary(f.Rule), History: h}
	if se, ok := m.sessions.get(r, time.Now()); ok {
		data.CSRF = se.csrf
		for _, s := range finding.States {
			if finding.CheckMove(f.State, s) == nil {
				data.Next = append(data.Next, s)
			}
		}
	}
	return m.render(w, "finding", data)
}

func (m *Monitor) handleLoginPage(w http.ResponseWriter, r *http.Request) (int, error) {
	data := struct {
		page
		Next string
	}{page: m.page(r, "Regulator sign-in"), Next: localPath(r.URL.Query().Get("next"))}
	if u, err := url.Parse(data.Next); err != nil || u.Host != "" {
		data.Next = "/"
	}
	return m.render(w, "login", data)
}
