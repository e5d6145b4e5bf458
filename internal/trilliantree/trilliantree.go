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

// schema is htlog's table of provisioned trees.
const schema = `CREATE TABLE IF NOT EXISTS htlog_trees (
	origin VARCHAR(255) NOT NULL PRIMARY KEY,
	tree_id BIGINT NOT NULL,
	created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`

// EnsureSchema creates htlog's tree table if it does not exist.
func EnsureSchema(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("couldn't create table htlog_trees: %w", err)
	}
	return nil
}

// ErrTreeMissing is returned (wrapped) when htlog remembers a tree for the
// origin that Trillian no longer has.
var ErrTreeMissing = errors.New("the tree recorded for this origin is missing from Trillian")

// Provision returns the id of the Trillian tree for origin, creating and
// initialising one if htlog has none recorded. It holds a MySQL named lock
// while it decides, so concurrent callers (replicas starting together) get the
// same tree and only one is ever created. A recorded tree must still exist in
// Trillian, be a LOG tree and be ACTIVE or FROZEN.
func Provision(ctx context.Context, db *sql.DB, admin trillian.TrillianAdminClient, log trillian.TrillianLogClient, origin string) (int64, error) {
	if err := EnsureSchema(ctx, db); err != nil {
		return 0, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("couldn't connect to htlog's database: %w", err)
	}
	defer conn.Close()
	lock := "htlog_tree:" + origin
	if len(lock) > 64 {
		lock = lock[:64]
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", lock).Scan(&got); err != nil || got.Int64 != 1 {
		return 0, fmt.Errorf("couldn't take the provisioning lock for %q within 60s (err %v)", origin, err)
	}
	defer conn.ExecContext(context.Background(), "SELECT RELEASE_LOCK(?)", lock)

	var id int64
	err = conn.QueryRowContext(ctx, "SELECT tree_id FROM htlog_trees WHERE origin = ?", origin).Scan(&id)
	switch {
	case err == nil:
		return id, checkTree(ctx, admin, id, origin)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("couldn't read htlog_trees: %w", err)
	}
	tree, err := client.CreateAndInitTree(ctx, &trillian.CreateTreeRequest{Tree: &trillian.Tree{
		TreeState:       trillian.TreeState_ACTIVE,
		TreeType:        trillian.TreeType_LOG,
		DisplayName:     displayName(origin),
		Description:     "htlog log " + origin,
		MaxRootDuration: durationpb.New(time.Hour),
	}}, admin, log)
	if err != nil {
		return 0, fmt.Errorf("couldn't create a Trillian tree for %q: %w", origin, err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO htlog_trees (origin, tree_id) VALUES (?, ?)", origin, tree.TreeId); err != nil {
		return 0, fmt.Errorf("created Trillian tree %d for %q but couldn't record it (delete the tree or insert it into htlog_trees by hand): %w", tree.TreeId, origin, err)
	}
	return tree.TreeId, nil
}

func displayName(origin string) string {
	if len(origin) > 20 {
		return origin[len(origin)-20:]
	}
	return origin
}

func checkTree(ctx context.Context, admin trillian.TrillianAdminClient, id int64, origin string) error {
	tree, err := admin.GetTree(ctx, &trillian.GetTreeRequest{TreeId: id})
	if status.Code(err) == codes.NotFound || (err == nil && tree.Deleted) {
		return fmt.Errorf("%w: origin %q was provisioned as tree %d; restore Trillian's database, or start a new shard with a new origin and key", ErrTreeMissing, origin, id)
	}
	if err != nil {
		return fmt.Errorf("couldn't get Trillian tree %d: %w", id, err)
	}
	if tree.TreeType != trillian.TreeType_LOG {
		return fmt.Errorf("trillian tree %d for %q is a %s tree, want LOG", id, origin, tree.TreeType)
	}
	if tree.TreeState != trillian.TreeState_ACTIVE && tree.TreeState != trillian.TreeState_FROZEN {
		return fmt.Errorf("trillian tree %d for %q is %s, want ACTIVE or FROZEN", id, origin, tree.TreeState)
	}
	return nil
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
