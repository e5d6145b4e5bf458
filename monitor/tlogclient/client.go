// Package tlogclient reads a C2SP tlog-tiles log and talks to witnesses and
// peer monitors over HTTP: it is the monitor's only network reader. Every
// body is size-bounded and every non-200 answer is an error, so whatever a
// misbehaving server sends turns into an error the caller can report.
package tlogclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/htlog/htlog/c2sp"
)

// maxTileBody bounds a tile or entry bundle body.
const maxTileBody = c2sp.TileWidth * (2 + c2sp.MaxEntrySize)

// FetchError is returned when a server could not be reached or did not
// answer 200: the server is down or misconfigured, not (yet) lying.
type FetchError struct {
	URL    string
	Status int // 0 when no answer came back
	Err    error
}

func (e *FetchError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("couldn't fetch %s: HTTP %d", e.URL, e.Status)
	}
	return fmt.Sprintf("couldn't fetch %s: %v", e.URL, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// IsFetchError reports whether err (or an error it wraps) is a FetchError.
func IsFetchError(err error) bool {
	var fe *FetchError
	return errors.As(err, &fe)
}

// Client reads one log. It is safe for concurrent use.
type Client struct {
	// BaseURL is the log's tlog-tiles prefix, without a trailing slash.
	BaseURL string
	// HTTP is the client used for every request.
	HTTP *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

// New returns a client for the log at baseURL.
func New(baseURL string, hc *http.Client) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: hc, UserAgent: "htlog-monitor"}
}

// Get fetches url and returns its body, at most limit bytes.
func (c *Client) Get(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{URL: url, Err: err}
	}
	req.Header.Set("User-Agent", c.UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, &FetchError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, &FetchError{URL: url, Status: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &FetchError{URL: url, Err: err}
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s: body is larger than %d bytes", url, limit)
	}
	return body, nil
}

// Checkpoint fetches the log's signed checkpoint (unverified).
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.Get(ctx, c.BaseURL+"/checkpoint", c2sp.MaxCheckpointSize)
}

// Tile fetches a tlog-tiles resource by path (c2sp.TilePath, EntriesPath).
func (c *Client) Tile(ctx context.Context, path string) ([]byte, error) {
	return c.Get(ctx, c.BaseURL+"/"+path, maxTileBody)
}

// Fetcher returns the client as a c2sp.TileFetcher.
func (c *Client) Fetcher() c2sp.TileFetcher { return c.Tile }

// Bundle fetches entry bundle index holding width entries and decodes it;
// a bundle that does not hold exactly width entries is an error (not a
// FetchError: the log answered, with garbage).
func (c *Client) Bundle(ctx context.Context, index uint64, width int) ([][]byte, error) {
	data, err := c.Tile(ctx, c2sp.EntriesPath(index, width))
	if err != nil {
		return nil, err
	}
	entries, err := c2sp.ParseEntryBundle(data, width)
	if err != nil {
		return nil, fmt.Errorf("entry bundle %d (width %d): %w", index, width, err)
	}
	return entries, nil
}

// MonitoringPath returns the tlog-witness monitoring path of origin's latest
// cosigned checkpoint: /<hex SHA-256(origin)>/checkpoint (no "o:" prefix,
// unlike log.ID).
func MonitoringPath(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return "/" + hex.EncodeToString(sum[:]) + "/checkpoint"
}

// WitnessCheckpoint fetches a witness's latest checkpoint of origin.
func (c *Client) WitnessCheckpoint(ctx context.Context, witnessURL, origin string) ([]byte, error) {
	return c.Get(ctx, strings.TrimSuffix(witnessURL, "/")+MonitoringPath(origin), c2sp.MaxCheckpointSize)
}

// ErrSplitView is returned by Pollinate when the peer answered 409: it holds
// a checkpoint inconsistent with the one sent.
var ErrSplitView = errors.New("peer reports a split view")

// Pollinate POSTs a signed checkpoint to peerURL/pollinate.
func (c *Client) Pollinate(ctx context.Context, peerURL string, signed []byte) error {
	url := strings.TrimSuffix(peerURL, "/") + "/pollinate"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(signed))
	if err != nil {
		return &FetchError{URL: url, Err: err}
	}
	req.Header.Set("Content-Type", c2sp.ContentTypeCheckpoint)
	req.Header.Set("User-Agent", c.UserAgent)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return &FetchError{URL: url, Err: err}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusConflict:
		return fmt.Errorf("%s: %w", url, ErrSplitView)
	default:
		return &FetchError{URL: url, Status: resp.StatusCode}
	}
}
