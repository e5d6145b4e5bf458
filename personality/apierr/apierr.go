// Package apierr is htlog-server's one error type for answers the client
// can act on: an HTTP status, a one-line reason safe to show, an optional
// Retry-After and the outcome label its metrics record. The write path
// (package submit) refuses with it and the HTTP handlers (package server)
// answer with it; server maps every error to a status in one place.
package apierr

import (
	"fmt"
	"net/http"
	"time"
)

// Error is a request refused for a reason the client can fix or wait out.
type Error struct {
	// Status is the HTTP status (4xx, or 503 for limits and stalls).
	Status int
	// Outcome labels the refusal in metrics (submissions only).
	Outcome string
	// Reason is one line, safe to show: it never holds health data.
	Reason string
	// RetryAfter, if set, is sent as Retry-After (whole seconds, rounded up).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Reason }

// New returns an Error with status and a formatted reason.
func New(status int, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 Error with a formatted reason.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, format, args...)
}

// NotFound returns a 404 Error with a formatted reason.
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, format, args...)
}

// Unavailable returns a 503 Error asking the client to retry after d.
func Unavailable(d time.Duration, format string, args ...any) *Error {
	e := New(http.StatusServiceUnavailable, format, args...)
	e.RetryAfter = d
	return e
}
