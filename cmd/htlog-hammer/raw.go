package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

// rawTarget is the baseline: QueueLeaf straight to Trillian on a fresh tree.
type rawTarget struct {
	conn     *grpc.ClientConn
	log      trillian.TrillianLogClient
	treeID   int64
	leafSize int
	// ready are leaves made in advance; ready[i-1] is request i.
	ready [][]byte
}

// newRawTarget queues to tree treeID, or to a fresh tree if treeID is 0
// (printing its id on stderr so later runs can reuse it: a tree's size
// affects QueueLeaf's cost, so compare trees of similar size).
func newRawTarget(ctx context.Context, addr string, leafSize int, treeID int64) (*rawTarget, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	if treeID != 0 {
		return &rawTarget{conn: conn, log: trillian.NewTrillianLogClient(conn), treeID: treeID, leafSize: leafSize}, nil
	}
	tree, err := client.CreateAndInitTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{
		TreeState: trillian.TreeState_ACTIVE, TreeType: trillian.TreeType_LOG,
		DisplayName: "htlog baseline", MaxRootDuration: durationpb.New(time.Hour),
	}}, trillian.NewTrillianAdminClient(conn), trillian.NewTrillianLogClient(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("couldn't create a baseline tree on %s: %w", addr, err)
	}
	fmt.Fprintf(os.Stderr, "htlog-hammer: baseline tree %d\n", tree.TreeId)
	return &rawTarget{conn: conn, log: trillian.NewTrillianLogClient(conn), treeID: tree.TreeId, leafSize: leafSize}, nil
}

// randomLeaf makes a random leaf of size bytes (random, so that neither
// Trillian's nor Tessera's deduplication ever merges two of them).
func randomLeaf(size int) []byte {
	leaf := make([]byte, size)
	rand.Read(leaf)
	return leaf
}

// leafFor is request i's leaf (counting from 1): pregenerated if there is
// one, else made now.
func leafFor(ready [][]byte, i, size int) []byte {
	if i-1 < len(ready) {
		return ready[i-1]
	}
	return randomLeaf(size)
}

func (r *rawTarget) send(ctx context.Context, _, i int) result {
	leaf := leafFor(r.ready, i, r.leafSize)
	id := sha256.Sum256(leaf)
	start := time.Now()
	_, err := r.log.QueueLeaf(ctx, &trillian.QueueLeafRequest{LogId: r.treeID, Leaf: &trillian.LogLeaf{LeafValue: leaf, LeafIdentityHash: id[:]}})
	if err != nil {
		return result{latency: time.Since(start)}
	}
	return result{status: 202, latency: time.Since(start)}
}

func (r *rawTarget) close() { r.conn.Close() }
