package trilliantree_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/trillian"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/internal/trilliantree"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestProvision(t *testing.T) {
	testonly.RequireIntegration(t)
	tr := testonly.StartTrillian(t)
	conn := tr.Dial(t)
	admin, logc := trillian.NewTrillianAdminClient(conn), trillian.NewTrillianLogClient(conn)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "trilliantree"))
	ctx := context.Background()

	// Concurrent first starts agree on one tree.
	ids := make([]int64, 4)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log1")
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent provisioning returned different trees: %v", ids)
		}
	}
	trees, err := admin.ListTrees(ctx, &trillian.ListTreesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trees.Tree) != 1 {
		t.Fatalf("Trillian has %d trees, want 1", len(trees.Tree))
	}
	// A restart reuses it; another origin gets another tree.
	again, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log1")
	if err != nil || again != ids[0] {
		t.Fatalf("second provisioning = %d, %v; want %d", again, err, ids[0])
	}
	other, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log2")
	if err != nil || other == ids[0] {
		t.Fatalf("other origin = %d, %v", other, err)
	}
	// A frozen tree is still usable for reading.
	if err := trilliantree.Freeze(ctx, admin, other); err != nil {
		t.Fatal(err)
	}
	if _, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log2"); err != nil {
		t.Fatalf("frozen tree refused: %v", err)
	}
	// A tree that disappeared is reported, not silently replaced.
	if _, err := admin.DeleteTree(ctx, &trillian.DeleteTreeRequest{TreeId: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log1"); !errors.Is(err, trilliantree.ErrTreeMissing) {
		t.Fatalf("deleted tree: err = %v, want ErrTreeMissing", err)
	}
	// A tree of the wrong type is refused.
	pre, err := admin.CreateTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{TreeState: trillian.TreeState_ACTIVE, TreeType: trillian.TreeType_PREORDERED_LOG, MaxRootDuration: durationpb.New(0)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO htlog_trees (origin, tree_id) VALUES (?, ?)", "example.com/pre", pre.TreeId); err != nil {
		t.Fatal(err)
	}
	if _, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/pre"); err == nil {
		t.Fatal("a PREORDERED_LOG tree was accepted")
	}
}
