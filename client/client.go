package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
)

// Client talks to one htlog log over HTTP. The zero value is not usable: set
// URL and Policy. A Client is safe for concurrent use; its fields must not
// change once it is in use.
type Client struct {
	// URL is the log's base URL, such as "http://127.0.0.1:8080".
	URL string
	// HTTP is the HTTP client to use; nil means http.DefaultClient. Bound the
	// time a call may take with its context, not with HTTP.Timeout.
	HTTP *http.Client
	// Policy is the C2SP tlog-policy checkpoints must satisfy: the log's key
	// and the witness quorum. Every method that verifies needs it.
	Policy *c2sp.Policy
	// Origin, if set, pins the log: checkpoints of any other log the policy
	// lists are refused.
	Origin string
	// Tiles, if set, keeps the full hash tiles that verified, so that the
	// proofs and leaf reads of many entries fetch each tile once.
	Tiles *TileCache
}

// ErrNotVerified is wrapped by every error that means "this does not verify":
// a bad signature, a missing quorum, a proof that does not lead to the root,
// an entry that is not what the log committed to.
var ErrNotVerified = errors.New("verification failed")

// notVerified wraps err so that it matches both ErrNotVerified and err.
func notVerified(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrNotVerified, fmt.Errorf(format, args...))
}

// HTTPError is a 4xx answer: the log refused the request, and resending the
// same request will not help. Reason is the log's one-line explanation.
type HTTPError struct {
	Status int
	Reason string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("the log refused the request (%d %s): %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// UnavailableError means the log could not be reached, or answered 429 or
// 5xx, until the context ended. Err is the last failure.
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string {
	return "the log is unreachable or overloaded: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// maxResponseSize bounds every response body the client reads.
const maxResponseSize = 4 << 20

// Backoff bounds when the log gives no Retry-After.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// response is a complete HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) url(path string) string {
	return strings.TrimSuffix(c.URL, "/") + "/" + strings.TrimPrefix(path, "/")
}

// retryable reports whether a status may go away by itself.
// isCertificateError reports whether err is a TLS certificate verification
// failure (unknown authority, wrong host name, expired, invalid).
func isCertificateError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// do sends one request, retrying on network errors, 429 and 5xx (and, when
// retry404 is set, on 404, which /receipt answers until the event is
// published) until ctx ends, honouring Retry-After. Every request the client
// makes is safe to repeat. Any other status is returned as is.
func (c *Client) do(ctx context.Context, method, path string, body []byte, retry404 bool) (*response, error) {
	backoff := minBackoff
	var last error
	for {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
		if err != nil {
			return nil, fmt.Errorf("couldn't build the request: %w", err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		wait := backoff
		resp, err := c.httpClient().Do(req)
		if err != nil && isCertificateError(err) {
			// A certificate the client does not trust will not become
			// trusted by retrying: say so at once.
			return nil, &UnavailableError{Err: fmt.Errorf("the server's TLS certificate is not trusted (a private CA is given with --ca-file or HTLOG_CA_FILE): %w", err)}
		}
		if err == nil {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = fmt.Errorf("couldn't read the answer to %s %s: %w", method, path, rerr)
			case retryable(resp.StatusCode) || retry404 && resp.StatusCode == http.StatusNotFound:
				err = fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, oneLine(data))
				if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
					wait = d
				}
			default:
				return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
			}
		}
		if ctx.Err() != nil {
			if last == nil {
				last = err
			}
			return nil, &UnavailableError{Err: last}
		}
		last = err
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &UnavailableError{Err: last}
		case <-t.C:
		}
		if wait == backoff {
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// get fetches path and insists on 200; a 4xx becomes an *HTTPError.
func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, false)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, &HTTPError{Status: resp.status, Reason: oneLine(resp.body)}
	}
	return resp.body, nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// oneLine shortens an error body from the log to one printable line.
func oneLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "(no reason given)"
	}
	return s
}

// tileFetcher returns a c2sp.TileFetcher reading the log's tlog-tiles API.
// Callers verify every tile against a root; the fetcher trusts nothing.
func (c *Client) tileFetcher() c2sp.TileFetcher {
	return func(ctx context.Context, path string) ([]byte, error) {
		return c.get(ctx, path)
	}
}
