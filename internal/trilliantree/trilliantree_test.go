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
			trees, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log1")
			if err != nil {
				t.Error(err)
			}
			ids[i] = trees.ID
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
	if err != nil || again.ID != ids[0] || again.Legacy != 0 {
		t.Fatalf("second provisioning = %d, %v; want %d", again, err, ids[0])
	}
	other, err := trilliantree.Provision(ctx, db, admin, logc, "example.com/log2")
	if err != nil || other.ID == ids[0] {
		t.Fatalf("other origin = %d, %v", other, err)
	}
	// A frozen tree is still usable for reading.
	if err := trilliantree.Freeze(ctx, admin, other.ID); err != nil {
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
	// A LOG tree (a log from before htlog sequenced events) is upgraded,
	// once, even by replicas starting together: a new PREORDERED_LOG tree,
	// the old one kept as the legacy tree.
	old, err := admin.CreateTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{TreeState: trillian.TreeState_ACTIVE, TreeType: trillian.TreeType_LOG, MaxRootDuration: durationpb.New(0)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO htlog_trees (origin, tree_id) VALUES (?, ?)", "example.com/old", old.TreeId); err != nil {
		t.Fatal(err)
	}
	upgraded := make([]trilliantree.Trees, 3)
	for i := range upgraded {
		wg.Go(func() {
			var err error
			if upgraded[i], err = trilliantree.Provision(ctx, db, admin, logc, "example.com/old"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, u := range upgraded {
		if u != upgraded[0] || u.Legacy != old.TreeId || u.ID == old.TreeId {
			t.Fatalf("upgrades = %+v, want one new tree with legacy %d", upgraded, old.TreeId)
		}
	}
	tree, err := admin.GetTree(ctx, &trillian.GetTreeRequest{TreeId: upgraded[0].ID})
	if err != nil || tree.TreeType != trillian.TreeType_PREORDERED_LOG {
		t.Fatalf("the upgraded origin's tree: %v, %v", tree, err)
	}
}
