package monitor

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/htlog/htlog/monitor/store"
)

var dashboard = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, ", ") },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>htlog-monitor: {{.Origin}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style>
</head><body>
<h1>htlog-monitor</h1>
<p>Log <b>{{.Origin}}</b>: replayed and verified <b>{{.Size}}</b> entries.</p>
<h2>Checkpoints heard of</h2>
<table><tr><th>size</th><th>root</th><th>source</th><th>cosigners</th><th>checked</th></tr>
{{range .Checkpoints}}<tr><td>{{.Size}}</td><td><code>{{.Root}}</code></td><td>{{.Source}}</td><td>{{join .Cosigners}}</td><td>{{.Checked}}</td></tr>
{{end}}</table>
<h2>Findings by rule and submitter</h2>
<table><tr><th>rule</th><th>submitter</th><th>count</th></tr>
{{range .Counts}}<tr><td><a href="/findings?rule={{.Rule}}">{{.Rule}}</a></td><td>{{.Submitter}}</td><td>{{.N}}</td></tr>
{{else}}<tr><td colspan="3">none</td></tr>{{end}}</table>
<h2>Split-view evidence</h2>
<ul>{{range .Evidence}}<li><a href="/evidence/{{.}}">{{.}}</a></li>{{else}}<li>none</li>{{end}}</ul>
<p><a href="/findings">/findings</a> · <a href="/metrics">/metrics</a></p>
</body></html>
`))

func (m *Monitor) handleDashboard(w http.ResponseWriter, r *http.Request) (int, error) {
	ctx := r.Context()
	data := struct {
		Origin      string
		Size        uint64
		Checkpoints []store.Checkpoint
		Counts      []store.Count
		Evidence    []string
	}{Origin: m.origin}
	if c := m.Confirmed(); c != nil {
		data.Size = c.Size
	}
	var err error
	if data.Checkpoints, err = m.cfg.Store.RecentCheckpoints(ctx, 20); err != nil {
		return http.StatusInternalServerError, err
	}
	if data.Counts, err = m.cfg.Store.CountFindings(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	if data.Evidence, err = m.cfg.Store.EvidenceIDs(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return 0, dashboard.Execute(w, data)
}
