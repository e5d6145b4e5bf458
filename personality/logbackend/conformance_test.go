package logbackend_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/logbackend"
)

func ids(leaves [][]byte) [][32]byte {
	out := make([][32]byte, len(leaves))
	for i, l := range leaves {
		out[i] = sha256.Sum256(l)
	}
	return out
}

// runConformance checks the contract of Log that the personality relies on;
// both implementations run it.
func runConformance(t *testing.T, l logbackend.Log) {
	ctx := context.Background()
	var leaves [][]byte
	for i := range 40 {
		leaves = append(leaves, fmt.Appendf(nil, "leaf %d", i))
	}
	// Out of order, in batches, with a retry of a batch already stored
	// (a crash between storing and recording it).
	for _, r := range [][2]int{{20, 40}, {0, 10}, {0, 10}, {10, 20}, {5, 25}} {
		if err := l.AddSequenced(ctx, uint64(r[0]), leaves[r[0]:r[1]], ids(leaves[r[0]:r[1]])); err != nil {
			t.Fatalf("AddSequenced [%d, %d): %v", r[0], r[1], err)
		}
	}
	var root logbackend.Root
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for root.Size < 40 {
		if root, err = l.LatestRoot(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 40 leaves integrated", root.Size)
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
		if string(leaf.Value) != string(leaves[i]) {
			t.Fatalf("leaf %d is %q, want %q", i, leaf.Value, leaves[i])
		}
		if leaf.Queued.IsZero() || time.Since(leaf.Queued) > time.Minute {
			t.Fatalf("leaf %d queued at %v", i, leaf.Queued)
		}
	}
	if c2sp.RootFromLeafHashes(hs) != root.Hash || root.Size != 40 {
		t.Fatal("root does not match the leaves")
	}
	if none, err := l.Leaves(ctx, 40, 5); err != nil || len(none) != 0 {
		t.Fatalf("Leaves beyond the tree: %d %v", len(none), err)
	}
}

func TestMemoryConformance(t *testing.T) {
	m := logbackend.NewMemory()
	runConformance(t, m)
	// A different leaf at a stored index, or a stored identity at another
	// index, is a conflict the memory twin can see.
	if err := m.AddSequenced(context.Background(), 3, [][]byte{[]byte("other")}, ids([][]byte{[]byte("other")})); !errors.Is(err, logbackend.ErrConflict) {
		t.Fatalf("a different leaf at index 3: %v", err)
	}
	m.Failing = fmt.Errorf("%w: test", logbackend.ErrPushback)
	if err := m.AddSequenced(context.Background(), 40, [][]byte{[]byte("x")}, [][32]byte{{}}); !errors.Is(err, logbackend.ErrPushback) {
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
	if _, err := logbackend.NewLegacy(context.Background(), tr.Dial(t), id); err == nil {
		t.Fatal("NewLegacy accepted a PREORDERED_LOG tree")
	}
	legacy := tr.CreateLegacyTree(t)
	if _, err := logbackend.NewTrillian(context.Background(), tr.Dial(t), legacy); err == nil {
		t.Fatal("NewTrillian accepted a LOG tree")
	}
	if _, err := logbackend.NewLegacy(context.Background(), tr.Dial(t), legacy); err != nil {
		t.Fatalf("NewLegacy refused a LOG tree: %v", err)
	}
}
