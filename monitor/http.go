package monitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler returns the monitor's HTTP API:
//
//	GET  /                  HTML dashboard
//	GET  /findings          findings as JSON, newest first (?rule=&org=&severity=&state=
//	                        &from=&to= by event time, &page= or &limit=; default 1000)
//	POST /findings/<id>/state  triage a finding (a regulator: triage.go)
//	GET  /verdicts          signed verdicts on entries (?entries=, at most 100: verdicts.go)
//	GET  /finding/<id>      one finding's page; /finding/<id>.json its record
//	GET  /login, POST /login, POST /logout  a regulator's session on the dashboard
//	GET  /evidence          evidence ids, one a line
//	GET  /evidence/<id>     one evidence bundle
//	POST /pollinate         a signed checkpoint from a peer: 200, or 409 on a split view;
//	                        400 over c2sp.MaxCheckpointSize (32 KiB: room for ML-DSA-44
//	                        cosignatures) or 64 signature lines, 429 over the rate per client
//	POST /proof             a tlog-proof whose checkpoint is checked: 200, or 409
//	GET  /healthz, /metrics
func (m *Monitor) Handler(reg prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", handle(m.handleDashboard))
	mux.Handle("GET /findings", handle(m.handleFindings))
	mux.Handle("GET /verdicts", handle(m.handleVerdicts))
	mux.Handle("POST /findings/{id}/state", handle(m.handleTriage))
	mux.Handle("POST /login", handle(m.handleLogin))
	mux.Handle("GET /login", handle(m.handleLoginPage))
	mux.Handle("GET /finding/{id}", handle(m.handleFinding))
	mux.Handle("POST /logout", handle(m.handleLogout))
	mux.Handle("GET /evidence", handle(m.handleEvidenceList))
	mux.Handle("GET /evidence/{id}", handle(m.handleEvidence))
	pollinate := newClientLimiter(m.cfg.PollinateLimit, m.cfg.PollinateBurst)
	mux.Handle("POST /pollinate", handle(func(w http.ResponseWriter, r *http.Request) (int, error) {
		if d := pollinate.wait(r, time.Now()); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			return http.StatusTooManyRequests, errors.New("too many checkpoints from this address: try again later")
		}
		return m.handlePollinate(w, r)
	}))
	mux.Handle("POST /proof", handle(m.handleProof))
	mux.Handle("POST /promise", handle(m.handlePromise))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// handle adapts a handler returning (status, error): an error with a 4xx
// status is sent as one line of text/plain; a 5xx hides the details.
func handle(h func(w http.ResponseWriter, r *http.Request) (int, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := h(w, r)
		if err == nil {
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		if code >= 500 {
			io.WriteString(w, http.StatusText(code)+"\n")
			return
		}
		io.WriteString(w, strings.ReplaceAll(err.Error(), "\n", " ")+"\n")
	})
}

func (m *Monitor) handleFindings(w http.ResponseWriter, r *http.Request) (int, error) {
	q, _, err := parseFilter(r.URL.Query())
	if err != nil {
		return http.StatusBadRequest, err
	}
	if r.URL.Query().Get("limit") == "" && r.URL.Query().Get("page") == "" {
		q.Limit = 1000
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	fs, err := m.cfg.Store.Findings(r.Context(), q)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if fs == nil {
		fs = []finding.Finding{}
	}
	w.Header().Set("Content-Type", "application/json")
	return 0, json.NewEncoder(w).Encode(fs)
}

func (m *Monitor) handleEvidenceList(w http.ResponseWriter, r *http.Request) (int, error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	ids, err := m.cfg.Store.EvidenceIDs(r.Context())
	if err != nil {
		return http.StatusInternalServerError, err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, id := range ids {
		io.WriteString(w, id+"\n")
	}
	return 0, nil
}

var evidenceID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (m *Monitor) handleEvidence(w http.ResponseWriter, r *http.Request) (int, error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	id := r.PathValue("id")
	if !evidenceID.MatchString(id) {
		return http.StatusBadRequest, errors.New("evidence id: must be 64 lowercase hex digits")
	}
	b, err := m.cfg.Store.Evidence(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound, errors.New("no such evidence")
	}
	if err != nil {
		return http.StatusInternalServerError, err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(b)
	return 0, nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("body: larger than %d bytes or unreadable", limit)
	}
	return b, nil
}

// maxPollinateSignatures bounds the signature lines of a pollinated
// checkpoint: the log's, a policy's witnesses', and room for strangers'.
const maxPollinateSignatures = 64

func (m *Monitor) handlePollinate(w http.ResponseWriter, r *http.Request) (int, error) {
	body, err := readBody(w, r, c2sp.MaxCheckpointSize)
	if err != nil {
		return http.StatusBadRequest, err
	}
	if i := bytes.LastIndex(body, []byte("\n\n")); i >= 0 && bytes.Count(body[i+2:], []byte("\n")) > maxPollinateSignatures {
		return http.StatusBadRequest, fmt.Errorf("checkpoint has more than %d signature lines", maxPollinateSignatures)
	}
	return m.observeHTTP(w, r, body, "pollinate")
}

func (m *Monitor) handleProof(w http.ResponseWriter, r *http.Request) (int, error) {
	body, err := readBody(w, r, c2sp.MaxProofSize)
	if err != nil {
		return http.StatusBadRequest, err
	}
	p, err := c2sp.ParseProof(body)
	if err != nil {
		return http.StatusBadRequest, err
	}
	return m.observeHTTP(w, r, p.Checkpoint, "proof")
}

func (m *Monitor) observeHTTP(w http.ResponseWriter, r *http.Request, signed []byte, source string) (int, error) {
	_, _, inconsistent, err := m.Observe(r.Context(), signed, source)
	switch {
	case errors.Is(err, ErrWrongOrigin):
		return http.StatusNotFound, err
	case err != nil && strings.HasPrefix(err.Error(), "couldn't record"):
		return http.StatusInternalServerError, err
	case err != nil:
		return http.StatusForbidden, fmt.Errorf("checkpoint does not verify: %w", err)
	case inconsistent:
		return http.StatusConflict, errors.New("split view: this checkpoint is inconsistent with another the log signed; see /evidence")
	}
	io.WriteString(w, "ok\n")
	return 0, nil
}

// PromiseResponse is the answer to POST /promise: the promise's state.
type PromiseResponse struct {
	EventID  string    `json:"event_id"`
	LeafHash string    `json:"leaf_hash"`
	Deadline time.Time `json:"deadline"`
	// Status is pending, honoured, broken or unjudged.
	Status string `json:"status"`
	// Index is the leaf's index once known, else -1.
	Index  int64  `json:"index"`
	Detail string `json:"detail,omitempty"`
}

// handlePromise is POST /promise: the body is an inclusion promise signed by
// the log (the 202 answer of its add-event). The monitor keeps it and checks
// the log includes the leaf within the promised delay. 201 for a new
// promise, 200 for a known one (with its current state).
func (m *Monitor) handlePromise(w http.ResponseWriter, r *http.Request) (int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c2sp.MaxCheckpointSize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body: a promise is at most %d bytes", c2sp.MaxCheckpointSize)
	}
	if err != nil {
		return http.StatusBadRequest, errors.New("body: unreadable")
	}
	p, added, err := m.AddPromise(r.Context(), body)
	switch {
	case errors.Is(err, ErrPromiseSignature):
		return http.StatusForbidden, err
	case errors.Is(err, ErrBadPromise):
		return http.StatusBadRequest, err
	case err != nil:
		return http.StatusInternalServerError, err
	}
	code := http.StatusOK
	if added {
		code = http.StatusCreated
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(PromiseResponse{EventID: p.EventID, LeafHash: p.LeafHash.String(), Deadline: p.Deadline,
		Status: p.Status, Index: p.Index, Detail: p.Detail})
	return 0, nil
}
