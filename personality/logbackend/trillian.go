package logbackend

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/trillian"
	"github.com/google/trillian/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Trillian is a Log backed by a Trillian log server over gRPC.
type Trillian struct {
	client trillian.TrillianLogClient
	treeID int64
}

// NewTrillian returns the Log for the PREORDERED_LOG tree treeID on conn. It
// checks the tree's type and that it is ACTIVE or FROZEN, so a misconfigured
// tree id fails at startup rather than on the first request.
func NewTrillian(ctx context.Context, conn grpc.ClientConnInterface, treeID int64) (*Trillian, error) {
	return open(ctx, conn, treeID, trillian.TreeType_PREORDERED_LOG)
}

// NewLegacy returns a Reader of the LOG tree treeID on conn: the tree of a
// log from before htlog sequenced events itself, read to take in what it
// sequenced after the upgrade.
func NewLegacy(ctx context.Context, conn grpc.ClientConnInterface, treeID int64) (*Trillian, error) {
	return open(ctx, conn, treeID, trillian.TreeType_LOG)
}

func open(ctx context.Context, conn grpc.ClientConnInterface, treeID int64, want trillian.TreeType) (*Trillian, error) {
	admin := trillian.NewTrillianAdminClient(conn)
	tree, err := admin.GetTree(ctx, &trillian.GetTreeRequest{TreeId: treeID})
	if err != nil {
		return nil, fmt.Errorf("couldn't read Trillian tree %d: %w", treeID, err)
	}
	if tree.TreeType != want {
		return nil, fmt.Errorf("Trillian tree %d is a %v tree, not a %v", treeID, tree.TreeType, want)
	}
	if tree.TreeState != trillian.TreeState_ACTIVE && tree.TreeState != trillian.TreeState_FROZEN {
		return nil, fmt.Errorf("Trillian tree %d is %v, not ACTIVE or FROZEN", treeID, tree.TreeState)
	}
	return &Trillian{client: trillian.NewTrillianLogClient(conn), treeID: treeID}, nil
}

// AddSequenced implements Log. Trillian answers a leaf it already holds (by
// identity or at that index) with FailedPrecondition and stores nothing; it
// does not say whether the leaf it holds is the same, so a retry passes and
// a genuine conflict shows where the publisher looks for it: Trillian's
// root at that size differs from htlog's, and nothing more is published.
func (t *Trillian) AddSequenced(ctx context.Context, start uint64, leaves [][]byte, ids [][32]byte) error {
	req := &trillian.AddSequencedLeavesRequest{LogId: t.treeID, Leaves: make([]*trillian.LogLeaf, len(leaves))}
	for i, leaf := range leaves {
		req.Leaves[i] = &trillian.LogLeaf{LeafValue: leaf, LeafIdentityHash: ids[i][:], LeafIndex: int64(start) + int64(i)}
	}
	resp, err := t.client.AddSequencedLeaves(ctx, req)
	if err != nil {
		return mapErr(err)
	}
	if len(resp.Results) != len(leaves) {
		return fmt.Errorf("Trillian answered %d of %d sequenced leaves", len(resp.Results), len(leaves))
	}
	for i, r := range resp.Results {
		switch c := codes.Code(r.GetStatus().GetCode()); c {
		case codes.OK, codes.FailedPrecondition, codes.AlreadyExists:
		default:
			return fmt.Errorf("Trillian refused leaf %d: %v %s", start+uint64(i), c, r.GetStatus().GetMessage())
		}
	}
	return nil
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

// mapErr turns Trillian's overload codes into ErrPushback and NotFound
// into ErrNotFound.
func mapErr(err error) error {
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.Unavailable:
		return fmt.Errorf("%w: %v", ErrPushback, err)
	case codes.NotFound:
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return fmt.Errorf("Trillian: %w", err)
}
