package client

import (
	"fmt"
	"strings"

	"github.com/htlog/htlog/c2sp"
)

// ProofResult is what a verified tlog-proof establishes.
type ProofResult struct {
	// Index is the entry's position in the log.
	Index uint64
	// Checkpoint is the checkpoint the entry is included in, with the names
	// of the witnesses that vouched for it.
	Checkpoint *Checkpoint
	// Extra is the proof's optional extra data. Nothing authenticates it:
	// tlog-proof says applications must not trust it implicitly.
	Extra []byte
}

// VerifyProofFile verifies a tlog-proof offline, with nothing but the policy
// and the logged entry (for htlog, the canonical event envelope): the proof
// parses strictly, its checkpoint is signed by a log of the policy and
// cosigned to quorum, the signatures that count are canonical, and its
// inclusion proof leads from the entry's leaf hash to the checkpoint's root.
// Every failure wraps ErrNotVerified (and c2sp.ErrQuorumNotMet or
// c2sp.ErrUnknownLog when that is the reason).
//
// It follows the specs: signatures from keys the policy does not list are
// ignored (and named in Checkpoint.UnknownSigners), and an "extra" line is
// accepted and returned, unauthenticated, in Extra. Call Strict on the
// result to refuse both.
func VerifyProofFile(policy *c2sp.Policy, proof, entry []byte) (*ProofResult, error) {
	p, err := c2sp.ParseProof(proof)
	if err != nil {
		return nil, notVerified("couldn't parse the proof: %v", err)
	}
	if !bytesEqual(p.Marshal(), proof) {
		return nil, notVerified("the proof is not in canonical form")
	}
	cp, err := VerifyCheckpoint(policy, "", p.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("the proof's checkpoint: %w", err)
	}
	if err := c2sp.VerifyInclusion(p.Index, cp.Size, c2sp.LeafHash(entry), cp.Hash, p.Hashes); err != nil {
		return nil, notVerified("the entry is not at index %d of the checkpoint of size %d (wrong entry file, or the proof was altered): %v", p.Index, cp.Size, err)
	}
	return &ProofResult{Index: p.Index, Checkpoint: cp, Extra: p.Extra}, nil
}

// Strict refuses what VerifyProofFile ignores as the specs require: a
// signature from a key the policy does not list (the error wraps
// ErrUnknownSignature) and extra data. htlog receipts carry neither, so a
// proof that does was cosigned by a witness outside the policy or had lines
// added. Errors wrap ErrNotVerified.
func (r *ProofResult) Strict() error {
	if len(r.Checkpoint.UnknownSigners) > 0 {
		return fmt.Errorf("%w: %w: %s (strict: a witness your policy does not name cosigned it, or the proof was altered)",
			ErrNotVerified, ErrUnknownSignature, strings.Join(r.Checkpoint.UnknownSigners, ", "))
	}
	if len(r.Extra) > 0 {
		return notVerified("the proof carries an extra line, which nothing authenticates (strict: htlog receipts have none)")
	}
	return nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
