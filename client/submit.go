package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/promise"
)

// Submit sends a signed event envelope to the log and returns its receipt: a
// tlog-proof of the entry in a witness-cosigned checkpoint. It retries on
// network errors, 429 and 5xx, waiting as Retry-After says, until ctx ends
// (then an *UnavailableError); this is safe because the log deduplicates
// events, so resending the same bytes always yields the same index. When the
// log answers 202 (the checkpoint was not ready in time) Submit polls
// /receipt until it is. A 4xx is returned as an *HTTPError with the log's
// reason. If the client has a Policy, the receipt is verified against it and
// the envelope before it is returned (a checkpoint cosigned also by
// witnesses the policy does not name is accepted).
func (c *Client) Submit(ctx context.Context, envelope []byte) (*c2sp.Proof, error) {
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		return nil, fmt.Errorf("couldn't submit: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, "add-event", envelope, false)
	if err != nil {
		return nil, err
	}
	var receipt []byte
	switch resp.status {
	case http.StatusOK:
		receipt = resp.body
	case http.StatusAccepted:
		if receipt, err = c.receipt(ctx, env.ID()); err != nil {
			return nil, err
		}
	default:
		return nil, &HTTPError{Status: resp.status, Reason: oneLine(resp.body)}
	}
	p, err := c2sp.ParseProof(receipt)
	if err != nil {
		return nil, notVerified("the log's receipt does not parse: %v", err)
	}
	if c.Policy != nil {
		if _, err := VerifyProofFile(c.Policy, receipt, env.Marshal()); err != nil {
			return nil, fmt.Errorf("the log's receipt for %s: %w", env.ID(), err)
		}
	}
	return p, nil
}

// SubmitAsync sends a signed event envelope without waiting for a cosigned
// checkpoint and returns the event id, with which Receipt fetches the
// receipt later, and the log's signed inclusion promise (promise.Promise: it
// will include the event within its maximum merge delay), which a monitor
// checks (POST /promise). When Policy is set the promise must verify with
// the log's key and name this event. It retries as Submit does.
func (c *Client) SubmitAsync(ctx context.Context, envelope []byte) (eventID string, promise []byte, err error) {
	env, err := event.ParseEnvelope(envelope)
	if err != nil {
		return "", nil, fmt.Errorf("couldn't submit: %w", err)
	}
	resp, err := c.do(ctx, http.MethodPost, "add-event?async=1", envelope, false)
	if err != nil {
		return "", nil, err
	}
	if resp.status != http.StatusOK && resp.status != http.StatusAccepted {
		return "", nil, &HTTPError{Status: resp.status, Reason: oneLine(resp.body)}
	}
	if resp.status == http.StatusOK { // a receipt: the event is logged already
		return env.ID(), nil, nil
	}
	if c.Policy != nil {
		if err := c.checkPromise(resp.body, env.ID()); err != nil {
			return "", nil, err
		}
	}
	return env.ID(), resp.body, nil
}

// checkPromise verifies a promise with the keys of the logs in Policy and
// checks it names eventID.
func (c *Client) checkPromise(signed []byte, eventID string) error {
	var last error = errors.New("the policy names no log")
	for _, l := range c.Policy.Logs {
		if c.Origin != "" && l.Verifier.Name() != c.Origin {
			continue
		}
		p, err := promise.Open(signed, l.Verifier)
		if err != nil {
			last = err
			continue
		}
		if p.EventID != eventID {
			return notVerified("the log's promise names event %s, not %s", truncate(p.EventID), eventID)
		}
		return nil
	}
	return notVerified("the log's promise does not verify: %v", last)
}

// Receipt waits until the event is in a published checkpoint (the log
// answers 404 until then, and also for an event it never received: bound
// the wait with ctx) and returns its tlog-proof, parsed but not verified:
// verify it with VerifyProofFile and the envelope.
func (c *Client) Receipt(ctx context.Context, eventID string) (*c2sp.Proof, error) {
	receipt, err := c.receipt(ctx, eventID)
	if err != nil {
		return nil, err
	}
	return c2sp.ParseProof(receipt)
}

func (c *Client) receipt(ctx context.Context, eventID string) ([]byte, error) {
	if !strings.HasPrefix(eventID, "sha256:") {
		return nil, fmt.Errorf("event id %q: want sha256:<64 hex digits>", truncate(eventID))
	}
	resp, err := c.do(ctx, http.MethodGet, "receipt/"+eventID, nil, true)
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the receipt of %s: %w", eventID, err)
	}
	if resp.status != http.StatusOK {
		return nil, &HTTPError{Status: resp.status, Reason: oneLine(resp.body)}
	}
	return resp.body, nil
}
