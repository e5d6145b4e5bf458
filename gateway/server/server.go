// Package server is htlog-gateway's HTTP API: the FHIR REST endpoints
// (POST /fhir/AuditEvent, /fhir/Consent, a Bundle at /fhir), the EPCIS 2.0
// capture endpoint (POST /epcis/events), WHO TRDS registrations (POST
// /trds/registrations), status and receipts per item, and the custodian's
// internal API (bearer token): a patient's bundle and a package's key.
//
// Accepting a document: map every part (all or none), sign each item, run
// the log's own admission check on it (a document the log would refuse is
// refused here, before anything is stored), store all items in one
// transaction, and only then answer 201 (FHIR) or 202 (EPCIS capture).
// Refusals are FHIR OperationOutcomes on the FHIR endpoints and RFC 7807
// problem details on the others, with one line naming the field at fault.
// Logs carry event ids and kinds, never a document's content.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/epcis"
	"github.com/htlog/htlog/gateway/fhir"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/gateway/store"
	"github.com/htlog/htlog/gateway/trds"
	"github.com/htlog/htlog/internal/admission"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodySize bounds every request body.
const MaxBodySize = 4 << 20

// Store is the part of the store the server uses.
type Store interface {
	mapping.Keys
	Accept(ctx context.Context, items []store.Accepted) ([]string, error)
	StatusOf(ctx context.Context, eventID string) (*store.Status, error)
	StatusBySource(ctx context.Context, source string) ([]*store.Status, error)
	ExistingPatientKey(ctx context.Context, ref string) ([]byte, bool, error)
	PatientOpenings(ctx context.Context, ref string) ([]mapping.Opening, error)
}

// Monitor is a monitor a patient bundle names.
type Monitor struct {
	URL  string `json:"url"`
	VKey string `json:"vkey"`
}

// Config configures a Server.
type Config struct {
	Mapping mapping.Config
	Store   Store
	Builder *event.Builder
	// Checker is the log's admission check, run before acceptance.
	Checker *admission.Checker
	// Wake is called after items were accepted (the outbox's Wake).
	Wake func()
	// Token is the bearer token of the custodian's internal API; ""
	// disables it.
	Token string
	// LogURL, Policy and Monitors go into patient bundles.
	LogURL   string
	Policy   string
	Monitors []Monitor
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server serves the gateway's API.
type Server struct {
	cfg     Config
	fhir    *fhir.Mapper
	epcis   *epcis.Mapper
	metrics *metrics
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Builder == nil || cfg.Checker == nil {
		return nil, errors.New("server: a store, a builder and an admission checker are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return &Server{cfg: cfg, fhir: fhir.New(cfg.Mapping, cfg.Store), epcis: epcis.New(cfg.Mapping, cfg.Store), metrics: newMetrics(cfg.Registry)}, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fhir/AuditEvent", s.fhirPost("AuditEvent"))
	mux.HandleFunc("POST /fhir/Consent", s.fhirPost("Consent"))
	mux.HandleFunc("POST /fhir", s.fhirPost("Bundle"))
	mux.HandleFunc("GET /fhir/{type}/{id}", s.getBySource)
	mux.HandleFunc("POST /epcis/events", s.epcisCapture)
	mux.HandleFunc("POST /epcis/capture", s.epcisCapture)
	mux.HandleFunc("POST /trds/registrations", s.trdsPost)
	mux.HandleFunc("GET /items/{id}", s.getItem)
	mux.HandleFunc("GET /items/{id}/receipt", s.getReceipt)
	mux.HandleFunc("GET /patients/{id}/bundle", s.auth(s.patientBundle))
	mux.HandleFunc("GET /packages/{gtin}/{serial}", s.auth(s.packageInfo))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	return http.MaxBytesHandler(mux, MaxBodySize)
}

// readBody reads a bounded body.
func readBody(r *http.Request) ([]byte, *mapping.Error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &mapping.Error{Status: http.StatusRequestEntityTooLarge, Reason: fmt.Sprintf("body larger than %d bytes", MaxBodySize)}
		}
		return nil, mapping.Malformed("", "couldn't read the body")
	}
	return b, nil
}

// accepted is one stored item, as answered.
type accepted struct {
	EventID string `json:"event_id"`
	Kind    string `json:"kind"`
	Source  string `json:"source,omitempty"`
	Status  string `json:"status_url"`
}

// accept signs, pre-checks and stores items.
func (s *Server) accept(ctx context.Context, items []mapping.Item) ([]accepted, *mapping.Error) {
	now := s.cfg.Now()
	rows := make([]store.Accepted, len(items))
	for i, it := range items {
		body, err := json.Marshal(it.Body)
		if err != nil {
			return nil, &mapping.Error{Status: 500, Reason: "internal error"}
		}
		env, err := s.cfg.Builder.Build(event.Draft{Kind: it.Kind, Version: it.Version, OccurredAt: it.OccurredAt, Supersedes: it.Supersedes, Body: body})
		if err != nil {
			return nil, mapping.Unmappable(it.Source, "couldn't build the event: %v", err)
		}
		raw := env.Marshal()
		// The signature was just made with the builder's key; the rest of
		// the log's admission check runs in full.
		if v := s.cfg.Checker.CheckOwn(raw, now, s.cfg.Builder.KeyID()); !v.OK() {
			r := v.First()
			s.metrics.precheck.WithLabelValues(r.Code).Inc()
			return nil, &mapping.Error{Status: 422, Path: describe(it, i, len(items)), Reason: "the log would refuse the mapped event: " + r.Reason}
		}
		h := sha256.Sum256(it.Input)
		rows[i] = store.Accepted{InputHash: h[:], EventID: env.ID(), Kind: it.Kind, Source: it.Source, Subject: it.Subject, Envelope: raw, Openings: it.Openings, Lots: it.Lots}
	}
	ids, err := s.cfg.Store.Accept(ctx, rows)
	if err != nil {
		s.cfg.Logger.Error("couldn't store accepted items", "err", err)
		return nil, &mapping.Error{Status: http.StatusServiceUnavailable, Reason: "the gateway couldn't store the document; nothing was accepted, send it again"}
	}
	s.cfg.Wake()
	out := make([]accepted, len(items))
	for i, it := range items {
		out[i] = accepted{EventID: ids[i], Kind: it.Kind, Source: it.Source, Status: "/items/" + ids[i]}
		s.metrics.accepted.WithLabelValues(it.Kind).Inc()
		s.cfg.Logger.Debug("accepted", "event", ids[i], "kind", it.Kind)
	}
	return out, nil
}

func describe(it mapping.Item, i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("item %d (%s)", i, it.Kind)
}

// ---- FHIR ----

func (s *Server) fhirPost(want string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, merr := readBody(r)
		if merr == nil {
			var items []mapping.Item
			var err error
			if items, err = s.fhir.Map(r.Context(), want, body); err != nil {
				merr = mapping.AsError(err)
			} else {
				var acc []accepted
				if acc, merr = s.accept(r.Context(), items); merr == nil {
					s.fhirCreated(w, want, body, acc)
					return
				}
			}
		}
		s.metrics.refused.WithLabelValues("fhir").Inc()
		writeOutcome(w, merr)
	}
}

func (s *Server) fhirCreated(w http.ResponseWriter, want string, body []byte, acc []accepted) {
	w.Header().Set("Content-Type", "application/fhir+json")
	if want == "Bundle" {
		var b struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &b)
		entries := make([]any, len(acc))
		for i, a := range acc {
			entries[i] = map[string]any{"response": map[string]any{"status": "201 Created", "location": a.Status}}
		}
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(map[string]any{"resourceType": "Bundle", "type": b.Type + "-response", "entry": entries})
		return
	}
	w.Header().Set("Location", acc[0].Status)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{
		"severity": "information", "code": "informational",
		"diagnostics": "accepted as htlog event " + acc[0].EventID + "; its status and receipt: " + acc[0].Status}}})
}

// writeOutcome answers a FHIR OperationOutcome.
func writeOutcome(w http.ResponseWriter, e *mapping.Error) {
	code := "invalid"
	switch {
	case e.Status == 422:
		code = "not-supported"
	case e.Status == 413:
		code = "too-long"
	case e.Status >= 500:
		code = "exception"
	}
	issue := map[string]any{"severity": "error", "code": code, "diagnostics": e.Reason}
	if e.Path != "" {
		issue["expression"] = []string{e.Path}
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{"resourceType": "OperationOutcome", "issue": []any{issue}})
}

// writeProblem answers an RFC 7807 problem, as the EPCIS 2.0 REST binding does.
func writeProblem(w http.ResponseWriter, typ string, e *mapping.Error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(e.Status)
	detail := e.Reason
	if e.Path != "" {
		detail = e.Path + ": " + e.Reason
	}
	json.NewEncoder(w).Encode(map[string]any{"type": typ, "title": http.StatusText(e.Status), "status": e.Status, "detail": detail})
}

// ---- EPCIS ----

func (s *Server) epcisCapture(w http.ResponseWriter, r *http.Request) {
	body, merr := readBody(r)
	if merr == nil {
		items, err := s.epcis.Map(r.Context(), body)
		if err != nil {
			merr = mapping.AsError(err)
		} else {
			var acc []accepted
			if acc, merr = s.accept(r.Context(), items); merr == nil {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Location", acc[0].Status)
				w.WriteHeader(http.StatusAccepted)
				json.NewEncoder(w).Encode(map[string]any{"captured": acc})
				return
			}
		}
	}
	s.metrics.refused.WithLabelValues("epcis").Inc()
	typ := "epcisException:ValidationException"
	if merr.Status == 413 {
		typ = "epcisException:CaptureLimitExceededException"
	} else if merr.Status >= 500 {
		typ = "epcisException:ImplementationException"
	}
	writeProblem(w, typ, merr)
}

// ---- TRDS ----

func (s *Server) trdsPost(w http.ResponseWriter, r *http.Request) {
	body, merr := readBody(r)
	if merr == nil {
		it, err := trds.Map(body, s.cfg.Now())
		if err != nil {
			merr = mapping.AsError(err)
		} else {
			var acc []accepted
			if acc, merr = s.accept(r.Context(), []mapping.Item{it}); merr == nil {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Location", acc[0].Status)
				w.WriteHeader(http.StatusCreated)
				json.NewEncoder(w).Encode(acc[0])
				return
			}
		}
	}
	s.metrics.refused.WithLabelValues("trds").Inc()
	writeProblem(w, "about:blank", merr)
}

// ---- status ----

// itemJSON is an item's status as served.
type itemJSON struct {
	EventID  string  `json:"event_id"`
	Kind     string  `json:"kind"`
	Source   string  `json:"source,omitempty"`
	State    string  `json:"state"`
	Index    *int64  `json:"index,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Promise  *string `json:"promise,omitempty"`
	Receipt  *string `json:"receipt,omitempty"`
	Envelope string  `json:"envelope"`
	Accepted string  `json:"accepted_at"`
	Updated  string  `json:"updated_at"`
}

func toJSON(st *store.Status) itemJSON {
	j := itemJSON{EventID: st.EventID, Kind: st.Kind, Source: st.Source, State: store.StateName(st.State), Index: st.Index, Reason: st.Reason,
		Envelope: string(st.Envelope), Accepted: st.Accepted.Format(time.RFC3339Nano), Updated: st.Updated.Format(time.RFC3339Nano)}
	if len(st.Promise) > 0 {
		p := string(st.Promise)
		j.Promise = &p
	}
	if len(st.Proof) > 0 {
		p := string(st.Proof)
		j.Receipt = &p
	}
	return j
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Store.StatusOf(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, "couldn't read the item", http.StatusServiceUnavailable)
		return
	}
	if st == nil {
		http.Error(w, "no such item", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(toJSON(st))
}

// getReceipt serves an item's tlog-proof (404 until it is logged).
func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Store.StatusOf(r.Context(), r.PathValue("id"))
	if err != nil {
		http.Error(w, "couldn't read the item", http.StatusServiceUnavailable)
		return
	}
	if st == nil || st.State != store.Logged {
		http.Error(w, "no receipt (yet) for this item", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(st.Proof)
}

func (s *Server) getBySource(w http.ResponseWriter, r *http.Request) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if typ != "AuditEvent" && typ != "Consent" {
		writeOutcome(w, &mapping.Error{Status: 404, Reason: "this gateway keeps AuditEvent and Consent items only"})
		return
	}
	sts, err := s.cfg.Store.StatusBySource(r.Context(), typ+"/"+id)
	if err != nil {
		writeOutcome(w, &mapping.Error{Status: 503, Reason: "couldn't read the items"})
		return
	}
	if len(sts) == 0 {
		writeOutcome(w, &mapping.Error{Status: 404, Reason: "no item from this resource"})
		return
	}
	out := make([]itemJSON, len(sts))
	for i, st := range sts {
		out[i] = toJSON(st)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"items": out})
}

// ---- custodian API ----

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if s.cfg.Token == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="htlog-gateway"`)
			http.Error(w, "this is the custodian's internal API: a bearer token is required", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// patientBundle is GET /patients/{id}/bundle: {id} is the FHIR logical id
// of the Patient, or "identifier" with ?identifier=<system>|<value>.
// ?openings=0 leaves the openings out (a QR code).
func (s *Server) patientBundle(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ref, ok := fhir.PatientRefOfID(id)
	if id == "identifier" {
		v := r.URL.Query().Get("identifier")
		ref, ok = "Patient?identifier="+v, strings.Contains(v, "|") && len(v) < 300
	}
	if !ok {
		http.Error(w, "want /patients/<FHIR id>/bundle or /patients/identifier/bundle?identifier=<system>|<value>", http.StatusBadRequest)
		return
	}
	key, found, err := s.cfg.Store.ExistingPatientKey(r.Context(), ref)
	if err != nil {
		http.Error(w, "couldn't read the patient's key", http.StatusServiceUnavailable)
		return
	}
	if !found {
		http.Error(w, "the gateway has logged nothing about this patient", http.StatusNotFound)
		return
	}
	b := client.PatientBundle{Type: client.BundleType, Log: s.cfg.LogURL, Custodian: s.cfg.Mapping.Org,
		Key: fmt.Sprintf("%x", key), Policy: s.cfg.Policy}
	for _, m := range s.cfg.Monitors {
		b.Monitors = append(b.Monitors, client.BundleMonitor{URL: m.URL, VKey: m.VKey})
	}
	omitted := 0
	if r.URL.Query().Get("openings") != "0" {
		ops, err := s.cfg.Store.PatientOpenings(r.Context(), ref)
		if err != nil {
			http.Error(w, "couldn't read the openings", http.StatusServiceUnavailable)
			return
		}
		for _, o := range ops {
			if len(o.Value) > MaxBundleOpeningValue {
				omitted++ // the bundle format bounds a value: GET /items and the custodian's records keep it
				continue
			}
			b.Openings = append(b.Openings, client.BundleOpening{Commitment: o.Commitment, Value: o.Value, Opening: o.OpeningHex()})
		}
		if n := len(b.Openings); n > MaxBundleOpenings {
			omitted += n - MaxBundleOpenings
			b.Openings = b.Openings[n-MaxBundleOpenings:] // the newest
		}
	}
	out, err := b.Marshal()
	if err != nil {
		s.cfg.Logger.Error("couldn't make a patient bundle", "err", err)
		http.Error(w, "couldn't make the patient bundle (is the gateway's log URL and policy right?)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if omitted > 0 {
		w.Header().Set("HTLOG-Omitted-Openings", fmt.Sprint(omitted))
	}
	w.Write(out)
}

// The patient bundle's bounds (client/bundle.go): openings past them are
// left out, and counted in the HTLOG-Omitted-Openings header.
const (
	MaxBundleOpenings     = 10000
	MaxBundleOpeningValue = 4096
)

// packageInfo is GET /packages/{gtin}/{serial}: the package's key (for a
// trading partner, handed over with the transaction information), its tag
// and what the gateway knows of it.
func (s *Server) packageInfo(w http.ResponseWriter, r *http.Request) {
	gtin, serial := r.PathValue("gtin"), r.PathValue("serial")
	lot, expiry, ok, err := s.cfg.Store.Package(r.Context(), gtin, serial)
	if err != nil {
		http.Error(w, "couldn't read the package", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, "no such package", http.StatusNotFound)
		return
	}
	key, err := s.cfg.Store.PackageKey(r.Context(), gtin, serial)
	if err != nil {
		http.Error(w, "couldn't read the package", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"gtin": gtin, "serial": serial, "lot": lot, "expiry": expiry,
		"key": fmt.Sprintf("%x", key), "tag": epcis.PackageTag(key, gtin, serial)})
}

// ---- metrics ----

type metrics struct {
	accepted, refused, precheck *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_gateway_accepted_total", Help: "Items accepted (stored for submission), by kind."}, []string{"kind"}),
		refused:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_gateway_refused_total", Help: "Documents refused, by standard."}, []string{"standard"}),
		precheck: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "htlog_gateway_precheck_refused_total", Help: "Mapped events the log's admission check refused before acceptance, by refusal code."}, []string{"code"}),
	}
	reg.MustRegister(m.accepted, m.refused, m.precheck)
	return m
}
