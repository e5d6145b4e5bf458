package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/atomicfile"
	"github.com/htlog/htlog/splitview"
)

// ForkError means the log signed two checkpoints that cannot both be true: a
// split view. Evidence proves it to anyone holding the log's public key
// (splitview.Verify); publish it.
type ForkError struct {
	Evidence *splitview.Evidence
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("the log presented a split view: checkpoints are inconsistent (evidence %s)", e.Evidence.ID()[:16])
}

// Is makes a ForkError match ErrNotVerified.
func (e *ForkError) Is(target error) bool { return target == ErrNotVerified }

// Keeper holds the newest verified checkpoint of one log and never goes
// backwards: a new checkpoint is accepted only once it is verified against
// the policy and proved consistent with the one kept, from the log's hash
// tiles (never from the server's /proof endpoints). Like the Go checksum
// database client, it keeps the larger of the two trees and treats any
// contradiction as a fork, with evidence. A Keeper is safe for concurrent
// use; with a File, its state survives restarts (the file holds the signed
// checkpoint and is replaced atomically).
type Keeper struct {
	client *Client
	file   string

	mu     sync.Mutex
	latest *Checkpoint
}

// NewKeeper returns a Keeper for c's log. If file is not empty, the kept
// checkpoint is loaded from it (it must still verify against the policy) and
// every newer one is written to it; a missing file means "nothing kept yet".
func NewKeeper(c *Client, file string) (*Keeper, error) {
	k := &Keeper{client: c, file: file}
	if file == "" {
		return k, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the kept checkpoint: %w", err)
	}
	cp, err := VerifyCheckpoint(c.Policy, c.Origin, data)
	if err != nil {
		return nil, fmt.Errorf("the kept checkpoint in %s: %w", file, err)
	}
	k.latest = cp
	return k, nil
}

// Latest returns the kept checkpoint, or nil if none was verified yet.
func (k *Keeper) Latest() *Checkpoint {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.latest
}

// Update fetches the log's checkpoint and passes it to Advance.
func (k *Keeper) Update(ctx context.Context) (*Checkpoint, error) {
	signed, err := k.client.get(ctx, "checkpoint")
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the checkpoint: %w", err)
	}
	return k.Advance(ctx, signed)
}

// Advance verifies signed against the policy and the kept checkpoint and
// returns the checkpoint kept afterwards: signed if it is newer (or the
// first), else the one kept before. An older or equal checkpoint must be
// consistent with the kept one too, or it is a fork. On a fork Advance
// returns a *ForkError and keeps the old checkpoint.
func (k *Keeper) Advance(ctx context.Context, signed []byte) (*Checkpoint, error) {
	cp, err := VerifyCheckpoint(k.client.Policy, k.client.Origin, signed)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.latest
	if old == nil {
		return cp, k.store(cp)
	}
	if old.Origin != cp.Origin {
		return nil, notVerified("checkpoint is for log %q, the kept one for %q", cp.Origin, old.Origin)
	}
	small, large := old, cp
	if cp.Size < old.Size {
		small, large = cp, old
	}
	if err := k.client.checkConsistent(ctx, small, large); err != nil {
		return nil, err
	}
	if cp.Size > old.Size {
		return cp, k.store(cp)
	}
	return old, nil
}

// store makes cp the kept checkpoint, on disk first. Callers hold k.mu.
func (k *Keeper) store(cp *Checkpoint) error {
	if k.file != "" {
		if err := atomicfile.Write(k.file, cp.Bytes, 0o600); err != nil {
			return fmt.Errorf("couldn't save the checkpoint: %w", err)
		}
	}
	k.latest = cp
	return nil
}

// checkConsistent proves that small is a prefix of large from hash tiles
// verified against large's root, or returns a *ForkError with evidence.
func (c *Client) checkConsistent(ctx context.Context, small, large *Checkpoint) error {
	if small.Size == large.Size {
		if small.Hash != large.Hash {
			return &ForkError{Evidence: &splitview.Evidence{First: small.Bytes, Second: large.Bytes}}
		}
		return nil
	}
	if small.Size == 0 {
		return nil
	}
	fetch := c.tileFetcher()
	p, err := c2sp.ConsistencyProofFromTiles(ctx, fetch, small.Size, large.Size, large.Hash)
	if err != nil {
		return fmt.Errorf("couldn't prove consistency from size %d to %d: %w", small.Size, large.Size, err)
	}
	err = c2sp.VerifyConsistency(small.Size, large.Size, small.Hash, large.Hash, p)
	if err == nil {
		return nil
	}
	if !errors.Is(err, c2sp.ErrInconsistent) {
		return notVerified("consistency from size %d to %d: %v", small.Size, large.Size, err)
	}
	ep, perr := splitview.ProofFromTiles(ctx, fetch, small.Size, large.Size, large.Hash)
	if perr != nil {
		return notVerified("checkpoints of sizes %d and %d are inconsistent, and evidence could not be built: %v", small.Size, large.Size, perr)
	}
	return &ForkError{Evidence: &splitview.Evidence{First: small.Bytes, Second: large.Bytes, Proof: ep}}
}
