package witness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxBodySize bounds every request body; tlog-witness asks for >= 64 KiB.
const MaxBodySize = c2sp.MaxAddCheckpointBody

// Handler returns the witness's HTTP API: POST /add-checkpoint, GET
// /<hex sha256(origin)>/checkpoint, POST /pollinate, GET /evidence[/<id>],
// GET /healthz and GET /metrics (from gatherer, if not nil).
func (w *Witness) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+c2sp.AddCheckpointPath, w.endpoint("add-checkpoint", w.handleAddCheckpoint))
	mux.Handle("POST /pollinate", w.endpoint("pollinate", w.handlePollinate))
	mux.Handle("GET /evidence", w.endpoint("evidence", w.handleEvidenceList))
	// /evidence/<id> and /<origin id>/checkpoint overlap as patterns, so
	// one handler tells them apart.
	checkpoint := w.endpoint("checkpoint", w.handleCheckpoint)
	evidence := w.endpoint("evidence", w.handleEvidence)
	mux.HandleFunc("GET /{first}/{second}", func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.PathValue("first") == "evidence":
			evidence.ServeHTTP(rw, r)
		case r.PathValue("second") == "checkpoint":
			checkpoint.ServeHTTP(rw, r)
		default:
			http.NotFound(rw, r)
		}
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		if _, err := w.store.Origins(r.Context()); err != nil {
			http.Error(rw, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// response is what a handler produces on success.
type response struct {
	contentType string
	body        []byte
}

// endpoint adapts a handler returning (response, error) to http.Handler,
// bounding the body and mapping every error to one status and one line.
func (w *Witness) endpoint(name string, h func(ctx context.Context, r *http.Request, body []byte) (response, error)) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var body []byte
		if r.Method == http.MethodPost {
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBodySize))
			if err != nil {
				w.finish(rw, name, start, response{}, fmt.Errorf("%w: body larger than %d bytes", errTooLarge, MaxBodySize))
				return
			}
		}
		resp, err := h(r.Context(), r, body)
		w.finish(rw, name, start, resp, err)
	})
}

var (
	errTooLarge = errors.New("request too large")
	errNotFound = errors.New("not found")
)

func (w *Witness) finish(rw http.ResponseWriter, name string, start time.Time, resp response, err error) {
	code := http.StatusOK
	if err != nil {
		code = statusOf(err)
		var conflict *SizeConflictError
		if errors.As(err, &conflict) {
			rw.Header().Set("Content-Type", c2sp.ContentTypeTreeSize)
			rw.WriteHeader(code)
			fmt.Fprintf(rw, "%d\n", conflict.Size)
		} else {
			if code >= 500 {
				w.log.Error("request failed", "endpoint", name, "err", err)
				err = errors.New("internal error")
			}
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.WriteHeader(code)
			fmt.Fprintln(rw, oneLine(err.Error()))
		}
	} else {
		if resp.contentType == "" {
			resp.contentType = "text/plain; charset=utf-8"
		}
		rw.Header().Set("Content-Type", resp.contentType)
		rw.WriteHeader(code)
		rw.Write(resp.body)
	}
	if w.metrics != nil {
		w.metrics.requests.WithLabelValues(name, strconv.Itoa(code)).Inc()
		w.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

// statusOf is the one mapping from witness errors to HTTP status codes.
func statusOf(err error) int {
	var conflict *SizeConflictError
	switch {
	case errors.As(err, &conflict), errors.Is(err, ErrSplitView), errors.Is(err, ErrRootMismatch):
		return http.StatusConflict
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrOldTooLarge):
		return http.StatusBadRequest
	case errors.Is(err, ErrBadSignature):
		return http.StatusForbidden
	case errors.Is(err, ErrUnknownOrigin), errors.Is(err, ErrNoState), errors.Is(err, ErrNoEvidence), errors.Is(err, errNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInconsistent):
		return http.StatusUnprocessableEntity
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func (w *Witness) handleAddCheckpoint(ctx context.Context, _ *http.Request, body []byte) (response, error) {
	sigs, err := w.AddCheckpoint(ctx, body)
	return response{body: sigs}, err
}

// OriginID is the path element the monitoring endpoint uses for an origin:
// hex SHA-256 of the origin, without any prefix (unlike log.ID's "o:").
func OriginID(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(sum[:])
}

func (w *Witness) handleCheckpoint(ctx context.Context, r *http.Request, _ []byte) (response, error) {
	id := r.PathValue("first")
	for origin := range w.logs {
		if OriginID(origin) == id {
			st, err := w.store.Latest(ctx, origin)
			if err != nil {
				return response{}, err
			}
			return response{body: st.Note}, nil
		}
	}
	return response{}, fmt.Errorf("%w: no log with id %q", ErrUnknownOrigin, truncate(id))
}

func (w *Witness) handlePollinate(ctx context.Context, _ *http.Request, body []byte) (response, error) {
	verdict, err := w.Pollinate(ctx, body)
	return response{body: []byte(verdict + "\n")}, err
}

func (w *Witness) handleEvidenceList(ctx context.Context, _ *http.Request, _ []byte) (response, error) {
	list, err := w.store.ListEvidence(ctx)
	if err != nil {
		return response{}, err
	}
	b, err := json.Marshal(list)
	return response{contentType: "application/json", body: append(b, '\n')}, err
}

func (w *Witness) handleEvidence(ctx context.Context, r *http.Request, _ []byte) (response, error) {
	b, err := w.store.Evidence(ctx, r.PathValue("second"))
	return response{body: b}, err
}
