package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
	"golang.org/x/mod/sumdb/note"
)

// Log is a log this witness follows.
type Log struct {
	// Origin is the log's checkpoint origin; it must equal Verifier.Name().
	Origin string
	// Verifier checks the log's checkpoint signatures.
	Verifier note.Verifier
	// URL is the log's tlog-tiles prefix, for pull mode and for fetching
	// proofs when checking pollinated checkpoints; empty disables both.
	URL string
}

// Config configures a Witness.
type Config struct {
	// Logs are the logs to witness.
	Logs []Log
	// Signers are this witness's cosignature/v1 keys; each cosigns every
	// accepted checkpoint (several at once allow key rotation).
	Signers []note.Signer
	// Store keeps the durable state.
	Store Store
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, if not nil, records requests and latencies.
	Metrics *Metrics
}

// Witness is the tlog-witness state machine. It is safe for concurrent use.
type Witness struct {
	logs    map[string]Log
	signers []note.Signer
	store   Store
	log     *slog.Logger
	metrics *Metrics

	// beforeSwap, if set (by tests), runs between the checks and the
	// compare-and-swap, to stall a request in the race window.
	beforeSwap func()
}

// New returns a Witness.
func New(cfg Config) (*Witness, error) {
	if cfg.Store == nil {
		return nil, errors.New("witness: a Store is required")
	}
	if len(cfg.Signers) == 0 {
		return nil, errors.New("witness: at least one cosigning key is required")
	}
	w := &Witness{logs: map[string]Log{}, signers: cfg.Signers, store: cfg.Store, log: cfg.Logger, metrics: cfg.Metrics}
	if w.log == nil {
		w.log = slog.Default()
	}
	for _, l := range cfg.Logs {
		if l.Verifier == nil || l.Verifier.Name() != l.Origin {
			return nil, fmt.Errorf("witness: log %q: the verifier key name must equal the origin", l.Origin)
		}
		if _, dup := w.logs[l.Origin]; dup {
			return nil, fmt.Errorf("witness: log %q is configured twice", l.Origin)
		}
		w.logs[l.Origin] = l
	}
	return w, nil
}

// Errors AddCheckpoint returns (wrapped, with a one-line reason); the HTTP
// layer maps each to its tlog-witness status code.
var (
	ErrMalformed     = errors.New("malformed request")                           // 400
	ErrOldTooLarge   = errors.New("old size is larger than the checkpoint size") // 400
	ErrBadSignature  = errors.New("no valid signature from the log's key")       // 403
	ErrUnknownOrigin = errors.New("unknown log origin")                          // 404
	ErrInconsistent  = errors.New("checkpoint is not consistent")                // 422
	// ErrRootMismatch is a checkpoint of the size this witness last cosigned
	// but with another root: tlog-witness answers it with 409 Conflict, with
	// no text/x.tlog.size body, which tells a client apart from a stale old size.
	ErrRootMismatch = errors.New("checkpoint has the latest cosigned size but another root hash") // 409
)

// SizeConflictError is a 409: the request's old size is not the size this
// witness last cosigned for the log.
type SizeConflictError struct{ Size uint64 }

func (e *SizeConflictError) Error() string {
	return fmt.Sprintf("old size does not match the latest cosigned size %d", e.Size)
}

// AddCheckpoint runs one tlog-witness add-checkpoint request and returns the
// cosignature lines. The state is committed before it returns them.
func (w *Witness) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	req, err := c2sp.ParseAddCheckpointRequest(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	origin, _, _ := bytes.Cut(req.Checkpoint, []byte("\n"))
	l, ok := w.logs[string(origin)]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOrigin, truncate(string(origin)))
	}
	sc, err := c2sp.OpenCheckpoint(req.Checkpoint, l.Verifier)
	switch {
	case errors.Is(err, c2sp.ErrEmptyTreeRoot):
		return nil, fmt.Errorf("%w: %v", ErrInconsistent, err)
	case errors.Is(err, c2sp.ErrNoLogSignature):
		return nil, fmt.Errorf("%w", ErrBadSignature)
	case err != nil:
		var inv *note.InvalidSignatureError
		if errors.As(err, &inv) {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if req.OldSize > sc.Size {
		return nil, fmt.Errorf("%w: old %d, checkpoint %d", ErrOldTooLarge, req.OldSize, sc.Size)
	}
	cur, err := w.store.Latest(ctx, l.Origin)
	switch {
	case errors.Is(err, ErrNoState):
		cur = State{Size: 0, Root: c2sp.EmptyRoot()}
	case err != nil:
		return nil, err
	}
	if req.OldSize != cur.Size {
		return nil, &SizeConflictError{Size: cur.Size}
	}
	if cur.Size == sc.Size && cur.Root != sc.Hash {
		if cur.Note != nil {
			w.recordEvidence(ctx, l.Origin, "add-checkpoint", &splitview.Evidence{First: cur.Note, Second: sc.Bytes})
		}
		return nil, fmt.Errorf("%w (size %d)", ErrRootMismatch, sc.Size)
	}
	if err := c2sp.VerifyConsistency(cur.Size, sc.Size, cur.Root, sc.Hash, req.Proof); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	if w.beforeSwap != nil {
		w.beforeSwap()
	}
	cosigned, err := note.Sign(&note.Note{Text: sc.Note.Text, Sigs: logSigs(sc.Note, l.Verifier)}, w.signers...)
	if err != nil {
		return nil, fmt.Errorf("couldn't cosign: %w", err)
	}
	next := State{Size: sc.Size, Root: sc.Hash, Note: cosigned, UpdatedAt: time.Now()}
	if err := w.store.Swap(ctx, l.Origin, cur.Size, cur.Root, next); err != nil {
		if errors.Is(err, ErrConflict) {
			now, lerr := w.store.Latest(ctx, l.Origin)
			if lerr != nil {
				return nil, lerr
			}
			return nil, &SizeConflictError{Size: now.Size}
		}
		return nil, err
	}
	if w.metrics != nil {
		w.metrics.logSize.WithLabelValues(l.Origin).Set(float64(sc.Size))
		w.metrics.logUpdated.WithLabelValues(l.Origin).Set(float64(next.UpdatedAt.Unix()))
	}
	return ownSignatureLines(cosigned, sc.Note.Text), nil
}

// logSigs keeps only the log's own signature from an opened note, so the
// stored note carries the log signature and this witness's cosignatures.
func logSigs(n *note.Note, v note.Verifier) []note.Signature {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return []note.Signature{s}
		}
	}
	return nil
}

// ownSignatureLines returns the signature lines after the log's first one:
// this witness's cosignatures, which is what add-checkpoint answers with.
func ownSignatureLines(signed []byte, text string) []byte {
	sigs := signed[len(text)+1:]
	_, rest, _ := bytes.Cut(sigs, []byte("\n"))
	return rest
}

func (w *Witness) recordEvidence(ctx context.Context, origin, source string, e *splitview.Evidence) (string, error) {
	v := w.logs[origin].Verifier
	if _, _, err := splitview.Verify(e, v); err != nil {
		// Order the two by size and try again; anything else is not proof.
		e.First, e.Second = e.Second, e.First
		if _, _, err2 := splitview.Verify(e, v); err2 != nil {
			return "", fmt.Errorf("not evidence of a split view: %v", err)
		}
	}
	id, err := w.store.AddEvidence(ctx, origin, source, e)
	if err != nil {
		w.log.Error("couldn't store split-view evidence", "origin", origin, "err", err)
		return "", err
	}
	w.log.Warn("split view detected: the log signed two inconsistent checkpoints", "origin", origin, "evidence", id, "source", source)
	if w.metrics != nil {
		w.metrics.evidence.WithLabelValues(origin).Inc()
	}
	return id, nil
}

// Latest returns the latest cosigned note for origin (log signature plus
// this witness's cosignatures), or ErrNoState.
func (w *Witness) Latest(ctx context.Context, origin string) (State, error) {
	return w.store.Latest(ctx, origin)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
