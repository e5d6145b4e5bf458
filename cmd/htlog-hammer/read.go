package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// readKinds are the read loads --read knows: what a monitor, a witness or
// an auditor asks a log for.
var readKinds = []string{"checkpoint", "tile", "entries", "inclusion"}

// readTarget reads from a log: its checkpoint, full level-0 hash tiles or
// full entry bundles (tlog-tiles paths, chosen at random below the size of
// the checkpoint read first), or (htlog only) inclusion proofs of random
// entries in that checkpoint's tree from GET /proof/inclusion. The same
// paths work on htlog-server and on a plain file server serving a Tessera
// POSIX log's directory.
type readTarget struct {
	url    string
	kind   string
	client *http.Client
	size   uint64 // the tree size read before the load
}

func newReadTarget(ctx context.Context, url, kind string) (*readTarget, error) {
	known := false
	for _, k := range readKinds {
		known = known || k == kind
	}
	if !known {
		return nil, fmt.Errorf("--read must be one of %s, not %q", strings.Join(readKinds, ", "), kind)
	}
	r := &readTarget{url: strings.TrimSuffix(url, "/"), kind: kind,
		// Identity encoding, as the file server it is compared with sends:
		// gzip would only add the client's decompression to the cores the
		// server shares here (on a network it halves an entry bundle).
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}}
	w := &mergeWatch{url: r.url, client: r.client}
	size, err := w.checkpointSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("couldn't read %s/checkpoint: %w", r.url, err)
	}
	r.size = size
	if (kind == "tile" || kind == "entries") && size < 256 {
		return nil, fmt.Errorf("the log at %s has %d entries: no full tile to read", r.url, size)
	}
	if kind == "inclusion" && size < 2 {
		return nil, fmt.Errorf("the log at %s has %d entries: no inclusion proof to read", r.url, size)
	}
	return r, nil
}

// tileIndex is a tlog-tiles index path element: groups of three digits,
// each but the last prefixed with "x" (1234067 is x001/x234/067).
func tileIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

// path is the request path for request i.
func (r *readTarget) path() string {
	switch r.kind {
	case "tile":
		return "/tile/0/" + tileIndex(rand.Uint64N(r.size/256))
	case "entries":
		return "/tile/entries/" + tileIndex(rand.Uint64N(r.size/256))
	case "inclusion":
		return "/proof/inclusion?index=" + strconv.FormatUint(rand.Uint64N(r.size), 10) + "&tree_size=" + strconv.FormatUint(r.size, 10)
	default:
		return "/checkpoint"
	}
}

func (r *readTarget) send(ctx context.Context, _, _ int) result {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+r.path(), nil)
	resp, err := r.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start)}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	latency := time.Since(start)
	if err != nil || (resp.StatusCode == http.StatusOK && n == 0) {
		return result{latency: latency}
	}
	return result{status: resp.StatusCode, latency: latency}
}

// checkpointSizeOf parses a checkpoint's tree size (its second line).
func checkpointSizeOf(body []byte) (uint64, error) {
	lines := bytes.SplitN(body, []byte("\n"), 3)
	if len(lines) < 3 {
		return 0, fmt.Errorf("not a checkpoint: %q", body)
	}
	return strconv.ParseUint(string(lines[1]), 10, 64)
}
