package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/note"
)

// witnessClient speaks tlog-witness to one witness and remembers the size it
// last cosigned, so the next request carries the right old size and proof.
type witnessClient struct {
	w      c2sp.PolicyWitness
	http   *http.Client
	mu     sync.Mutex
	size   uint64
	logVer note.Verifier
}

// errWitness is a witness's refusal or failure (never a reason not to
// publish by itself: the policy decides).
var errWitness = errors.New("witness refused")

// cosign obtains and verifies this witness's cosignature lines on signed
// (size, the log-signed checkpoint). proof(old) returns the consistency proof
// from old to size. A 409 is answered once by resending from the witness's size.
func (c *witnessClient) cosign(ctx context.Context, signed []byte, size uint64, proof func(old uint64) ([]c2sp.Hash, error)) ([]byte, error) {
	c.mu.Lock()
	old := c.size
	c.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if old > size {
			return nil, fmt.Errorf("%w: %s has cosigned size %d, above ours %d: possible split view", errWitness, c.w.Name, old, size)
		}
		p, err := proof(old)
		if err != nil {
			return nil, err
		}
		body := c2sp.AddCheckpointRequest{OldSize: old, Proof: p, Checkpoint: signed}.Marshal()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.w.URL, "/")+c2sp.AddCheckpointPath, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("couldn't reach witness %s: %w", c.w.Name, err)
		}
		respBody, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if err := c.check(signed, respBody); err != nil {
				return nil, err
			}
			c.mu.Lock()
			if size > c.size {
				c.size = size
			}
			c.mu.Unlock()
			return respBody, nil
		case http.StatusConflict:
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), c2sp.ContentTypeTreeSize) {
				// tlog-witness: the witness cosigned another root at this size.
				return nil, fmt.Errorf("%w: %s answered 409 without %s (it holds another root at this size: a possible split view): %s",
					errWitness, c.w.Name, c2sp.ContentTypeTreeSize, firstLine(respBody))
			}
			n, err := strconv.ParseUint(strings.TrimSpace(string(respBody)), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s answered 409 without a size", errWitness, c.w.Name)
			}
			old = n
			c.mu.Lock()
			c.size = n
			c.mu.Unlock()
			continue
		default:
			return nil, fmt.Errorf("%w: %s answered %d: %s", errWitness, c.w.Name, resp.StatusCode, firstLine(respBody))
		}
	}
	return nil, fmt.Errorf("%w: %s kept answering 409", errWitness, c.w.Name)
}

// check verifies that lines carry a valid cosignature of signed by this
// witness: nothing unverified is ever published.
func (c *witnessClient) check(signed, lines []byte) error {
	n, err := note.Open(append(append([]byte{}, signed...), lines...), note.VerifierList(c.logVer, c.w.Verifier))
	if err != nil || !c2sp.HasSignature(n, c.w.Verifier) {
		return fmt.Errorf("%w: %s returned no valid cosignature (%v)", errWitness, c.w.Name, err)
	}
	return nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
