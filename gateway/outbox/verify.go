package outbox

import (
	"fmt"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
)

// receiptVerifier verifies receipts as client.VerifyProofFile does (the
// checkpoint signed by the policy's log and cosigned to quorum, the
// inclusion proof from the envelope's leaf hash to its root), verifying each
// checkpoint once: the receipts of one window share a few checkpoints, and
// their signatures cost more than everything else the outbox does.
type receiptVerifier struct {
	policy *c2sp.Policy
	mu     sync.Mutex
	cache  map[string]*client.Checkpoint
}

// maxCachedCheckpoints bounds the cache; it is emptied when full.
const maxCachedCheckpoints = 64

func (v *receiptVerifier) verify(p *c2sp.Proof, leaf c2sp.Hash) error {
	v.mu.Lock()
	cp, ok := v.cache[string(p.Checkpoint)]
	v.mu.Unlock()
	if !ok {
		var err error
		if cp, err = client.VerifyCheckpoint(v.policy, "", p.Checkpoint); err != nil {
			return fmt.Errorf("the receipt's checkpoint: %w", err)
		}
		v.mu.Lock()
		if v.cache == nil || len(v.cache) >= maxCachedCheckpoints {
			v.cache = map[string]*client.Checkpoint{}
		}
		v.cache[string(p.Checkpoint)] = cp
		v.mu.Unlock()
	}
	if err := c2sp.VerifyInclusion(p.Index, cp.Size, leaf, cp.Hash, p.Hashes); err != nil {
		return fmt.Errorf("%w: the event is not at index %d of the receipt's checkpoint: %v", client.ErrNotVerified, p.Index, err)
	}
	return nil
}
