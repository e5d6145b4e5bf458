package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/personality/apierr"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/promise"
)

// addEvent is POST /add-event: the body is a DSSE envelope. By default it
// waits until the event is in a published, cosigned checkpoint and answers
// 200 with a C2SP tlog-proof; with ?async=1, or if ReceiptTimeout passes, it
// answers 202 with an inclusion promise signed by the log (promise.Promise) and
// the receipt is at GET /receipt/<event id>. Either way the event's index is
// in the HTLOG-Leaf-Index header: it is fixed when the event is
// acknowledged. Resubmitting the same event is safe: it is never logged
// twice and gets the same index.
func (s *Server) addEvent(w http.ResponseWriter, r *http.Request) (int, error) {
	if s.cfg.Submitter == nil {
		return 0, apierr.New(http.StatusServiceUnavailable, "the log is frozen (read-only): it accepts no new events")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, event.MaxEnvelopeSize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.metrics.submission("unknown", "too_large", "-")
		return 0, apierr.New(http.StatusRequestEntityTooLarge, "the envelope is larger than %d bytes", event.MaxEnvelopeSize)
	}
	if err != nil {
		return 0, badRequest("couldn't read the request body: %v", err)
	}
	if err := s.guard.admit(time.Now()); err != nil {
		s.metrics.submission("unknown", "merge_lag", "-")
		return 0, err
	}
	release, err := s.cfg.Submitter.Acquire()
	if err != nil {
		s.metrics.submission("unknown", "backlog", "-")
		return 0, err
	}
	defer release()
	acc, err := s.cfg.Submitter.Submit(r.Context(), body)
	var rej *submit.Rejection
	if errors.As(err, &rej) {
		s.metrics.submission("unknown", rej.Outcome, "-")
		return 0, err
	}
	if err != nil {
		s.metrics.submission("unknown", "error", "-")
		return http.StatusServiceUnavailable, err
	}
	outcome := "accepted"
	if acc.Duplicate {
		outcome = "duplicate"
	}
	s.metrics.submission(acc.Event.Kind, outcome, acc.Event.Submitter.Org)
	id := acc.Envelope.ID()
	w.Header().Set("HTLOG-Event-ID", id)
	if acc.Known {
		w.Header().Set("HTLOG-Leaf-Index", strconv.FormatUint(acc.Index, 10))
	}
	if r.URL.Query().Get("async") == "1" {
		return s.accepted(w, id, acc.Leaf)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReceiptTimeout)
	defer cancel()
	proof, idx, err := s.waitForProof(ctx, acc.Envelope.IdentityHash())
	if err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			return s.accepted(w, id, acc.Leaf)
		}
		return 0, err
	}
	s.metrics.receiptReturned()
	w.Header().Set("HTLOG-Leaf-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(proof)
	return http.StatusOK, nil
}

// accepted answers 202 with a signed inclusion promise.
func (s *Server) accepted(w http.ResponseWriter, id string, leaf []byte) (int, error) {
	if s.cfg.Signer == nil {
		return 0, errors.New("no log signer configured for promises")
	}
	promise, err := promise.Promise{Origin: s.cfg.Signer.Name(), EventID: id, LeafHash: c2sp.LeafHash(leaf),
		Timestamp: time.Now(), MaxMergeDelay: s.cfg.MaxMergeDelay}.Sign(s.cfg.Signer)
	if err != nil {
		return 0, fmt.Errorf("couldn't sign the promise: %w", err)
	}
	w.Header().Set("Location", "/receipt/"+id)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	w.Write(promise)
	return http.StatusAccepted, nil
}

// waitForProof waits until the event is integrated and inside the published
// checkpoint, then returns its tlog-proof, as delivered by the watcher or
// built here. It registers with the watcher before looking, so a checkpoint
// published in between is never missed.
func (s *Server) waitForProof(ctx context.Context, id [32]byte) ([]byte, uint64, error) {
	for {
		published, stop := s.watch.wait(id)
		proof, idx, err := s.proofFor(ctx, id, s.watch.current())
		if err == nil {
			stop()
			return proof, idx, nil
		}
		if !errors.Is(err, tiles.ErrNoSuchEvent) && !errors.Is(err, errNotYetPublished) {
			stop()
			return nil, 0, err
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, 0, ctx.Err()
		case r := <-published:
			if r.Proof != nil {
				return r.Proof, r.Index, nil
			}
		}
	}
}

var errNotYetPublished = errors.New("the event is not in a published checkpoint yet")

func (s *Server) proofFor(ctx context.Context, id [32]byte, published tiles.Published) ([]byte, uint64, error) {
	idx, err := s.cfg.Store.EventIndex(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if published.Note == nil || idx >= published.Size {
		return nil, idx, errNotYetPublished
	}
	hashes, err := s.cfg.Store.InclusionProof(ctx, idx, published.Size)
	if err != nil {
		return nil, 0, err
	}
	return c2sp.Proof{Index: idx, Hashes: hashes, Checkpoint: published.Note}.Marshal(), idx, nil
}

// receipt is GET /receipt/<event id>: the tlog-proof once the event is in a
// published checkpoint, else 404.
func (s *Server) receipt(w http.ResponseWriter, r *http.Request) (int, error) {
	id, err := parseEventID(r.PathValue("id"))
	if err != nil {
		return 0, err
	}
	published, err := s.latest(r) // none yet: not published either
	if err != nil {
		return 0, err
	}
	proof, idx, err := s.proofFor(r.Context(), id, published)
	if errors.Is(err, errNotYetPublished) {
		e := apierr.NotFound("the event is not in a published checkpoint yet; retry shortly")
		e.RetryAfter = time.Second
		return 0, e
	}
	if err != nil {
		return 0, err
	}
	w.Header().Set("HTLOG-Leaf-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(proof)
	return http.StatusOK, nil
}

func parseEventID(s string) ([32]byte, error) {
	var id [32]byte
	h, ok := strings.CutPrefix(s, "sha256:")
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != 32 || strings.ToLower(h) != h {
		return id, badRequest("event id must be sha256:<64 lowercase hex digits>")
	}
	copy(id[:], b)
	return id, nil
}
