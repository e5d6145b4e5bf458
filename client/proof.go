package client

import (
	"fmt"
	"strings"

	"github.com/htlog/htlog/internal/c2sp"
)

// ProofResult is what a verified tlog-proof establishes.
type ProofResult struct {
	// Index is the entry's position in the log.
	Index uint64
	// Checkpoint is the checkpoint the entry is included in, with the names
	// of the witnesses that vouched for it.
	Checkpoint *Checkpoint
}

// VerifyProofFile verifies a tlog-proof offline, with nothing but the policy
// and the logged entry (for htlog, the canonical event envelope): the proof
// parses strictly, its checkpoint is signed by a log of the policy and
// cosigned to quorum, its signatures are canonical, and its inclusion proof
// leads from the entry's leaf hash to the checkpoint's root. Every failure
// wraps ErrNotVerified (and c2sp.ErrQuorumNotMet or c2sp.ErrUnknownLog when
// that is the reason).
//
// A signature from a key the policy does not list cannot be checked, so a
// proof carrying one might have been altered: VerifyProofFile then returns
// the otherwise verified result together with an error wrapping
// ErrUnknownSignature, and the caller decides whether to accept it.
func VerifyProofFile(policy *c2sp.Policy, proof, entry []byte) (*ProofResult, error) {
	p, err := c2sp.ParseProof(proof)
	if err != nil {
		return nil, notVerified("couldn't parse the proof: %v", err)
	}
	if len(p.Extra) > 0 {
		return nil, notVerified("the proof carries an extra line, which nothing authenticates; htlog receipts have none")
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
	res := &ProofResult{Index: p.Index, Checkpoint: cp}
	if len(cp.UnknownSigners) > 0 {
		return res, fmt.Errorf("%w: %w: %s (the proof was altered, or a witness your policy does not name cosigned it)",
			ErrNotVerified, ErrUnknownSignature, strings.Join(cp.UnknownSigners, ", "))
	}
	return res, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
