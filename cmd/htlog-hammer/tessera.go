package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tesseraTarget is the peer a user would pick instead of htlog: Tessera's
// conformance personality (cmd/conformance/mysql or posix), whose
// POST /add appends the request body as one entry and answers, once the
// entry is sequenced (durably, in the storage), with its decimal index.
// Its checkpoint is at GET /checkpoint, its tiles under /tile/ (tlog-tiles).
type tesseraTarget struct {
	url      string
	client   *http.Client
	leafSize int
	// ready are leaves made in advance; ready[i-1] is request i.
	ready [][]byte
	// merge, if set, samples acknowledged adds to time their publication.
	merge *mergeWatch
}

func newTesseraTarget(url string, leafSize int) *tesseraTarget {
	return &tesseraTarget{url: strings.TrimSuffix(url, "/"), leafSize: leafSize,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}}
}

func (t *tesseraTarget) send(ctx context.Context, _, i int) result {
	leaf := leafFor(t.ready, i, t.leafSize)
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/add", bytes.NewReader(leaf))
	resp, err := t.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	resp.Body.Close()
	acked := time.Now()
	if resp.StatusCode != http.StatusOK {
		return result{status: resp.StatusCode, latency: acked.Sub(start)}
	}
	index, err := strconv.ParseUint(string(bytes.TrimSpace(body)), 10, 64)
	if err != nil {
		return result{status: 0, latency: acked.Sub(start)} // not an index: a failure
	}
	t.merge.noteIndex(i, index, acked)
	return result{status: http.StatusOK, latency: acked.Sub(start)}
}
