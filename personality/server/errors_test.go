package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/personality/apierr"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
)

// TestErrorStatuses: every error a handler returns maps to one status in
// one place, with a one-line reason and Retry-After where the error asks.
func TestErrorStatuses(t *testing.T) {
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cases := []struct {
		name       string
		handler    int
		err        error
		status     int
		reason     string
		retryAfter string
	}{
		{"bad request", 0, apierr.BadRequest("count: must be 1 to %d", 256), 400, "count: must be 1 to 256", ""},
		{"a refused submission", 0, &submit.Rejection{Status: 403, Outcome: "unauthorised", Reason: "npi:1 may not submit trial events"}, 403, "npi:1 may not submit trial events", ""},
		{"a trial claimed by another sponsor", 0, &submit.Rejection{Status: 409, Reason: "registered by another sponsor"}, 409, "registered by another sponsor", ""},
		{"too large", 0, apierr.New(413, "the envelope is larger than %d bytes", 65536), 413, "the envelope is larger than 65536 bytes", ""},
		{"rate limited", 0, &submit.Rejection{Status: 429, Reason: "over its rate limit", RetryAfter: 1200 * time.Millisecond}, 429, "over its rate limit", "2"},
		{"merge guard", 0, apierr.Unavailable(15*time.Second, "the log is behind"), 503, "the log is behind", "15"},
		{"beyond the tree", 0, fmt.Errorf("%w: start 9, size 3", tiles.ErrBeyondTree), 404, "beyond the integrated tree: start 9, size 3", ""},
		{"unknown event", 0, tiles.ErrNoSuchEvent, 404, tiles.ErrNoSuchEvent.Error(), ""},
		{"no checkpoint", 0, tiles.ErrNoCheckpoint, 404, tiles.ErrNoCheckpoint.Error(), ""},
		{"the server's own error", 0, errors.New("dial tcp 10.0.0.5:3306: connection refused"), 500, "internal error", ""},
		{"the server's own error, 503", 503, errors.New("couldn't append the event: deadlock"), 503, "internal error", ""},
		{"a reason over two lines", 0, apierr.BadRequest("first line\nsecond line"), 400, "first line", ""},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		s.adapt("test", func(http.ResponseWriter, *http.Request) (int, error) { return tc.handler, tc.err }).
			ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		body := rec.Body.String()
		if rec.Code != tc.status || body != tc.reason+"\n" || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%s: %d %q (Retry-After %q), want %d %q (%q)", tc.name, rec.Code, body, rec.Header().Get("Retry-After"), tc.status, tc.reason, tc.retryAfter)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q", tc.name, ct)
		}
	}
}

// TestAddEventRefusalsWithoutADatabase: the write path's refusals that
// come before the admission check, each with its status.
func TestAddEventRefusalsWithoutADatabase(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	post := func(s *Server, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/add-event", bytes.NewReader(body)))
		return rec
	}
	// Read-only: 503, nothing read.
	if rec := post(New(Config{Logger: quiet, Store: tiles.NewMemory()}), []byte("{}")); rec.Code != 503 || !strings.Contains(rec.Body.String(), "read-only") {
		t.Fatalf("read-only log: %d %q", rec.Code, rec.Body)
	}
	s := New(Config{Logger: quiet, Submitter: submit.New(submit.Config{}), Store: tiles.NewMemory()})
	// Too large: 413 before anything else.
	if rec := post(s, bytes.Repeat([]byte("x"), event.MaxEnvelopeSize+1)); rec.Code != 413 {
		t.Fatalf("too large: %d %q", rec.Code, rec.Body)
	}
	// A replica that has not read what waits for publication: 503.
	if rec := post(s, []byte("{}")); rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "starting") {
		t.Fatalf("before the guard's first reading: %d %q", rec.Code, rec.Body)
	}
	// Bad ids and parameters on the read side: 400.
	for _, path := range []string{"/receipt/sha256:XYZ", "/event/abc", "/entries?start=0&count=0", "/lookup/not-a-tag", "/proof/consistency?old_size=5&tree_size=2"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 400 {
			t.Errorf("GET %s: %d %q, want 400", path, rec.Code, rec.Body)
		}
	}
}
