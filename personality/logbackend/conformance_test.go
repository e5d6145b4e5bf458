package logbackend_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/logbackend"
)

// runConformance checks the contract of Log that the personality relies on;
// both implementations run it.
func runConformance(t *testing.T, l logbackend.Log) {
	ctx := context.Background()
	var leaves [][]byte
	for i := range 40 {
		leaf := fmt.Appendf(nil, "leaf %d", i)
		leaves = append(leaves, leaf)
		if _, dup, err := l.QueueLeaf(ctx, leaf, sha256.Sum256(leaf)); err != nil || dup {
			t.Fatalf("QueueLeaf %d: dup=%v err=%v", i, dup, err)
		}
	}
	// The same identity hash is deduplicated and returns the first leaf.
	existing, dup, err := l.QueueLeaf(ctx, []byte("other bytes"), sha256.Sum256(leaves[3]))
	if err != nil || !dup || string(existing) != string(leaves[3]) {
		t.Fatalf("duplicate QueueLeaf: %q %v %v", existing, dup, err)
	}
	var root logbackend.Root
	deadline := time.Now().Add(30 * time.Second)
	for root.Size < 40 {
		if root, err = l.LatestRoot(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 40 leaves sequenced", root.Size)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := l.Leaves(ctx, 0, 100)
	if err != nil || len(got) != 40 {
		t.Fatalf("Leaves: %d %v", len(got), err)
	}
	hs := make([]c2sp.Hash, len(got))
	for i, leaf := range got {
		hs[i] = c2sp.LeafHash(leaf.Value)
		if leaf.Queued.IsZero() || time.Since(leaf.Queued) > time.Minute {
			t.Fatalf("leaf %d queued at %v", i, leaf.Queued)
		}
	}
	if c2sp.RootFromLeafHashes(hs) != root.Hash {
		t.Fatal("root does not match the leaves")
	}
	p, err := l.ConsistencyProof(ctx, 17, 40)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2sp.VerifyConsistency(17, 40, c2sp.RootFromLeafHashes(hs[:17]), root.Hash, p); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}
	if none, err := l.Leaves(ctx, 40, 5); err != nil || len(none) != 0 {
		t.Fatalf("Leaves beyond the tree: %d %v", len(none), err)
	}
}

func TestMemoryConformance(t *testing.T) {
	m := logbackend.NewMemory()
	runConformance(t, m)
	m.Failing = fmt.Errorf("%w: test", logbackend.ErrPushback)
	if _, _, err := m.QueueLeaf(context.Background(), []byte("x"), [32]byte{}); !errors.Is(err, logbackend.ErrPushback) {
		t.Fatalf("Failing: %v", err)
	}
}

func TestTrillianConformance(t *testing.T) {
	tr := testonly.StartTrillian(t)
	id := tr.CreateTree(t)
	l, err := logbackend.NewTrillian(context.Background(), tr.Dial(t), id)
	if err != nil {
		t.Fatal(err)
	}
	runConformance(t, l)
	if _, err := logbackend.NewTrillian(context.Background(), tr.Dial(t), id+12345); err == nil {
		t.Fatal("NewTrillian accepted a tree that does not exist")
	}
}
