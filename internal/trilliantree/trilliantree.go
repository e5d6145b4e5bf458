// Package trilliantree provisions the one Trillian tree behind each htlog log
// origin, idempotently: the first start creates and initialises a tree and
// remembers its id in htlog's own table; every later start, on any replica,
// finds and checks that same tree. A second tree is never created for an
// origin by accident, and a tree that has gone missing is an error an
// operator must look at, never a reason to start an empty log.
package trilliantree

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// schema is htlog's table of provisioned trees. legacy_tree_id is the LOG
// tree of a log upgraded from per-event queueing (0 if none).
var schema = []string{`CREATE TABLE IF NOT EXISTS htlog_trees (
	origin VARCHAR(255) NOT NULL PRIMARY KEY,
	tree_id BIGINT NOT NULL,
	created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`, `ALTER TABLE htlog_trees ADD COLUMN IF NOT EXISTS legacy_tree_id BIGINT NOT NULL DEFAULT 0`}

// EnsureSchema creates htlog's tree table if it does not exist.
func EnsureSchema(ctx context.Context, db *sql.DB) error {
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("couldn't create table htlog_trees: %w", err)
		}
	}
	return nil
}

// Trees are the Trillian trees of one origin.
type Trees struct {
	// ID is the PREORDERED_LOG tree htlog feeds.
	ID int64
	// Legacy is the LOG tree of a log from before htlog sequenced events
	// itself, 0 if there is none: it was the log's tree up to the upgrade,
	// and htlog takes in whatever it still sequences.
	Legacy int64
}

// ErrTreeMissing is returned (wrapped) when htlog remembers a tree for the
// origin that Trillian no longer has.
var ErrTreeMissing = errors.New("the tree recorded for this origin is missing from Trillian")

// Provision returns the Trillian trees for origin, creating and initialising
// a PREORDERED_LOG tree if htlog has none recorded. It holds a MySQL named
// lock while it decides, so concurrent callers (replicas starting together)
// get the same tree and only one is ever created. A recorded tree must still
// exist in Trillian and be ACTIVE or FROZEN. A recorded LOG tree (a log from
// before htlog sequenced events itself) is upgraded: a PREORDERED_LOG tree
// is created for the origin and the LOG tree is kept as its Legacy tree;
// htlog-server then copies the log into the new tree and takes in what the
// old one still sequences, so the log's checkpoints stay consistent.
func Provision(ctx context.Context, db *sql.DB, admin trillian.TrillianAdminClient, log trillian.TrillianLogClient, origin string) (Trees, error) {
	if err := EnsureSchema(ctx, db); err != nil {
		return Trees{}, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Trees{}, fmt.Errorf("couldn't connect to htlog's database: %w", err)
	}
	defer conn.Close()
	lock := "htlog_tree:" + origin
	if len(lock) > 64 {
		lock = lock[:64]
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", lock).Scan(&got); err != nil || got.Int64 != 1 {
		return Trees{}, fmt.Errorf("couldn't take the provisioning lock for %q within 60s (err %v)", origin, err)
	}
	defer conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", lock)

	var trees Trees
	err = conn.QueryRowContext(ctx, "SELECT tree_id, legacy_tree_id FROM htlog_trees WHERE origin = ?", origin).Scan(&trees.ID, &trees.Legacy)
	switch {
	case err == nil:
		typ, err := checkTree(ctx, admin, trees.ID, origin)
		if err != nil {
			return Trees{}, err
		}
		if typ == trillian.TreeType_PREORDERED_LOG {
			if trees.Legacy != 0 {
				if _, err := checkTree(ctx, admin, trees.Legacy, origin); err != nil {
					return Trees{}, fmt.Errorf("the legacy tree: %w", err)
				}
			}
			return trees, nil
		}
		// An upgrade: the recorded LOG tree becomes the legacy tree.
		id, err := create(ctx, admin, log, origin)
		if err != nil {
			return Trees{}, err
		}
		if _, err := conn.ExecContext(ctx, "UPDATE htlog_trees SET tree_id = ?, legacy_tree_id = ? WHERE origin = ?", id, trees.ID, origin); err != nil {
			return Trees{}, fmt.Errorf("created Trillian tree %d to upgrade %q but couldn't record it (delete the tree and start again): %w", id, origin, err)
		}
		return Trees{ID: id, Legacy: trees.ID}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return Trees{}, fmt.Errorf("couldn't read htlog_trees: %w", err)
	}
	id, err := create(ctx, admin, log, origin)
	if err != nil {
		return Trees{}, err
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO htlog_trees (origin, tree_id) VALUES (?, ?)", origin, id); err != nil {
		return Trees{}, fmt.Errorf("created Trillian tree %d for %q but couldn't record it (delete the tree or insert it into htlog_trees by hand): %w", id, origin, err)
	}
	return Trees{ID: id}, nil
}

func create(ctx context.Context, admin trillian.TrillianAdminClient, log trillian.TrillianLogClient, origin string) (int64, error) {
	tree, err := client.CreateAndInitTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{
		TreeState:       trillian.TreeState_ACTIVE,
		TreeType:        trillian.TreeType_PREORDERED_LOG,
		DisplayName:     displayName(origin),
		Description:     "htlog log " + origin,
		MaxRootDuration: durationpb.New(time.Hour),
	}}, admin, log)
	if err != nil {
		return 0, fmt.Errorf("couldn't create a Trillian tree for %q: %w", origin, err)
	}
	return tree.TreeId, nil
}

func displayName(origin string) string {
	if len(origin) > 20 {
		return origin[len(origin)-20:]
	}
	return origin
}

func checkTree(ctx context.Context, admin trillian.TrillianAdminClient, id int64, origin string) (trillian.TreeType, error) {
	tree, err := admin.GetTree(ctx, &trillian.GetTreeRequest{TreeId: id})
	if status.Code(err) == codes.NotFound || (err == nil && tree.Deleted) {
		return 0, fmt.Errorf("%w: origin %q was provisioned as tree %d; restore Trillian's database, or start a new shard with a new origin and key", ErrTreeMissing, origin, id)
	}
	if err != nil {
		return 0, fmt.Errorf("couldn't get Trillian tree %d: %w", id, err)
	}
	if tree.TreeType != trillian.TreeType_LOG && tree.TreeType != trillian.TreeType_PREORDERED_LOG {
		return 0, fmt.Errorf("trillian tree %d for %q is a %s tree, want PREORDERED_LOG (or a LOG tree to upgrade)", id, origin, tree.TreeType)
	}
	if tree.TreeState != trillian.TreeState_ACTIVE && tree.TreeState != trillian.TreeState_FROZEN {
		return 0, fmt.Errorf("trillian tree %d for %q is %s, want ACTIVE or FROZEN", id, origin, tree.TreeState)
	}
	return tree.TreeType, nil
}

// Freeze makes the tree read-only in Trillian: it accepts no more leaves, and
// its proofs and leaves stay readable. Freezing is how a shard is retired.
func Freeze(ctx context.Context, admin trillian.TrillianAdminClient, id int64) error {
	_, err := admin.UpdateTree(ctx, &trillian.UpdateTreeRequest{
		Tree:       &trillian.Tree{TreeId: id, TreeState: trillian.TreeState_FROZEN},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tree_state"}},
	})
	if err != nil {
		return fmt.Errorf("couldn't freeze Trillian tree %d: %w", id, err)
	}
	return nil
}
