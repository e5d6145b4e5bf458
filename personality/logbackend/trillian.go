package logbackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/trillian"
	"github.com/google/trillian/types"
	"github.com/htlog/htlog/internal/c2sp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Trillian is a Log backed by a Trillian log server over gRPC.
type Trillian struct {
	client trillian.TrillianLogClient
	treeID int64
}

// NewTrillian returns the Log for tree treeID on conn. It checks the tree is
// a LOG tree that Trillian will serve, so a misconfigured tree id fails at
// startup rather than on the first request.
func NewTrillian(ctx context.Context, conn grpc.ClientConnInterface, treeID int64) (*Trillian, error) {
	admin := trillian.NewTrillianAdminClient(conn)
	tree, err := admin.GetTree(ctx, &trillian.GetTreeRequest{TreeId: treeID})
	if err != nil {
		return nil, fmt.Errorf("couldn't read Trillian tree %d: %w", treeID, err)
	}
	if tree.TreeType != trillian.TreeType_LOG && tree.TreeType != trillian.TreeType_PREORDERED_LOG {
		return nil, fmt.Errorf("Trillian tree %d is a %v tree, not a LOG", treeID, tree.TreeType)
	}
	return &Trillian{client: trillian.NewTrillianLogClient(conn), treeID: treeID}, nil
}

// QueueLeaf implements Log.
func (t *Trillian) QueueLeaf(ctx context.Context, leaf []byte, identityHash [32]byte) ([]byte, bool, error) {
	resp, err := t.client.QueueLeaf(ctx, &trillian.QueueLeafRequest{
		LogId: t.treeID,
		Leaf:  &trillian.LogLeaf{LeafValue: leaf, LeafIdentityHash: identityHash[:]},
	})
	if err != nil {
		return nil, false, mapErr(err)
	}
	if resp.QueuedLeaf == nil || resp.QueuedLeaf.Leaf == nil {
		return nil, false, errors.New("Trillian returned no queued leaf")
	}
	if c := codes.Code(resp.QueuedLeaf.GetStatus().GetCode()); c == codes.AlreadyExists {
		return resp.QueuedLeaf.Leaf.LeafValue, true, nil
	} else if c != codes.OK {
		return nil, false, fmt.Errorf("Trillian QueueLeaf status %v: %s", c, resp.QueuedLeaf.GetStatus().GetMessage())
	}
	return nil, false, nil
}

// LatestRoot implements Log.
func (t *Trillian) LatestRoot(ctx context.Context) (Root, error) {
	resp, err := t.client.GetLatestSignedLogRoot(ctx, &trillian.GetLatestSignedLogRootRequest{LogId: t.treeID})
	if err != nil {
		return Root{}, mapErr(err)
	}
	return parseRoot(resp.GetSignedLogRoot())
}

func parseRoot(slr *trillian.SignedLogRoot) (Root, error) {
	var lr types.LogRootV1
	if slr == nil {
		return Root{}, errors.New("Trillian returned no log root")
	}
	if err := lr.UnmarshalBinary(slr.LogRoot); err != nil {
		return Root{}, fmt.Errorf("couldn't parse Trillian's log root: %w", err)
	}
	var r Root
	if len(lr.RootHash) != len(r.Hash) {
		return Root{}, fmt.Errorf("the root hash from Trillian is %d bytes", len(lr.RootHash))
	}
	r.Size = lr.TreeSize
	copy(r.Hash[:], lr.RootHash)
	return r, nil
}

// ConsistencyProof implements Log.
func (t *Trillian) ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error) {
	if from == 0 || from == to {
		return nil, nil
	}
	resp, err := t.client.GetConsistencyProof(ctx, &trillian.GetConsistencyProofRequest{
		LogId: t.treeID, FirstTreeSize: int64(from), SecondTreeSize: int64(to),
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if resp.Proof == nil {
		return nil, ErrNotFound
	}
	return toHashes(resp.Proof.Hashes)
}

// Leaves implements Log.
func (t *Trillian) Leaves(ctx context.Context, start, count uint64) ([]Leaf, error) {
	resp, err := t.client.GetLeavesByRange(ctx, &trillian.GetLeavesByRangeRequest{
		LogId: t.treeID, StartIndex: int64(start), Count: int64(count),
	})
	if status.Code(err) == codes.OutOfRange {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]Leaf, 0, len(resp.Leaves))
	for i, l := range resp.Leaves {
		if uint64(l.LeafIndex) != start+uint64(i) {
			return nil, fmt.Errorf("Trillian returned leaf %d where %d was expected", l.LeafIndex, start+uint64(i))
		}
		out = append(out, Leaf{Value: l.LeafValue, Queued: l.QueueTimestamp.AsTime()})
	}
	return out, nil
}

func toHashes(bs [][]byte) ([]c2sp.Hash, error) {
	out := make([]c2sp.Hash, len(bs))
	for i, b := range bs {
		if len(b) != len(out[i]) {
			return nil, fmt.Errorf("Trillian returned a %d-byte hash", len(b))
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// mapErr turns Trillian's overload codes into ErrPushback so the HTTP layer
// can answer 503 with Retry-After.
func mapErr(err error) error {
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.Unavailable:
		return fmt.Errorf("%w: %v", ErrPushback, err)
	case codes.NotFound:
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return fmt.Errorf("Trillian: %w", err)
}
