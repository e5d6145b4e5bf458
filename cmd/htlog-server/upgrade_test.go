package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/internal/trilliantree"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/server"
	"github.com/htlog/htlog/personality/tiles"
	"golang.org/x/mod/sumdb/note"
)

// TestUpgradeFromPerEventQueueing starts htlog-server on the state the
// previous version left: a Trillian LOG tree that sequenced every event
// (the last few after htlog last integrated, acknowledged but not yet
// published), htlog's tables without the sequence, and a checkpoint
// published at the integrated size. The upgraded server moves the log to a
// PREORDERED_LOG tree, takes in the legacy tree's remaining leaves, and
// keeps growing: its new checkpoint is consistent with the old one, every
// old and new event has a receipt that verifies against the witness
// policy, and Trillian's new tree catches up.
func TestUpgradeFromPerEventQueueing(t *testing.T) {
	ctx := context.Background()
	s := testonly.PrepareStack(t)
	const integrated, queuedAfter = 5, 3

	// The legacy tree, as the old write path filled it (QueueLeaf).
	legacyID := s.Trillian.CreateLegacyTree(t)
	conn := s.Trillian.Dial(t)
	logc := trillian.NewTrillianLogClient(conn)
	body := testonly.Example(t, "access", "valid-routine-read.json")
	var envs [][]byte
	for i := range integrated + queuedAfter {
		env := s.Envelope(t, "access", testonly.FreshTags(body), testonly.Minute(-time.Duration(i)*time.Minute))
		e, err := event.ParseEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		id := e.IdentityHash()
		if _, err := logc.QueueLeaf(ctx, &trillian.QueueLeafRequest{LogId: legacyID, Leaf: &trillian.LogLeaf{LeafValue: env, LeafIdentityHash: id[:]}}); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	legacy, err := logbackend.NewLegacy(ctx, conn, legacyID)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err := legacy.LatestRoot(ctx); err == nil && r.Size == integrated+queuedAfter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the legacy tree did not sequence its leaves")
		}
	}
	leaves, err := legacy.Leaves(ctx, 0, integrated)
	if err != nil || len(leaves) != integrated {
		t.Fatalf("legacy leaves: %d, %v", len(leaves), err)
	}

	// htlog's tables as the old version left them: the first leaves
	// integrated and published, no sequence, no append times, the LOG tree
	// recorded for the origin.
	db := testonly.OpenDB(t, s.DSN)
	store, err := tiles.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]tiles.Pending, len(leaves))
	for i, l := range leaves {
		batch[i] = tiles.PendingOf(l.Value)
	}
	if _, err := store.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	size, root, err := store.Integrate(ctx, tiles.MaxIntegrate)
	if err != nil || size != integrated {
		t.Fatalf("integrated %d, %v", size, err)
	}
	signer, err := note.NewSigner(s.LogSKey)
	if err != nil {
		t.Fatal(err)
	}
	old, err := note.Sign(&note.Note{Text: string(c2sp.Checkpoint{Origin: s.Origin, Size: size, Hash: root}.Marshal())}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(ctx, size, old); err != nil {
		t.Fatal(err)
	}
	if err := trilliantree.EnsureSchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"ALTER TABLE htlog_entries DROP COLUMN queued_at",
		"DROP TABLE htlog_sequence",
		"ALTER TABLE htlog_trees DROP COLUMN legacy_tree_id",
		fmt.Sprintf("INSERT INTO htlog_trees (origin, tree_id) VALUES ('%s', %d)", s.Origin, legacyID),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// The upgrade. (The old checkpoint above carries no cosignatures, so
	// receipts verify against the policy once the upgraded server has
	// published a cosigned one.)
	s.Start(t)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sc, _, err := s.Policy.VerifyCheckpoint(b); err == nil && sc.Size >= integrated+queuedAfter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cosigned checkpoint of the whole old log within 90s: %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, env := range envs {
		if err := awaitReceipt(s, env, deadline); err != nil {
			t.Fatalf("an event of the old log: %v", err)
		}
	}
	fresh := s.Envelope(t, "access", testonly.FreshTags(body), testonly.Minute(0))
	if code, msg, _ := post(t, s, "/add-event?async=1", fresh); code != http.StatusAccepted {
		t.Fatalf("a new event after the upgrade: %d %q", code, msg)
	}
	if err := awaitReceipt(s, fresh, deadline); err != nil {
		t.Fatalf("a new event after the upgrade: %v", err)
	}
	// The receipt's checkpoint may be newer than the one /checkpoint
	// serves for a moment (the server polls the database for it every 50 ms).
	n := checkpointSize(t, s)
	for n < integrated+queuedAfter+1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n = checkpointSize(t, s)
	}
	if n != integrated+queuedAfter+1 {
		t.Fatalf("published size %d, want %d (each event once)", n, integrated+queuedAfter+1)
	}
	// The new checkpoint is consistent with the old one.
	resp, err := http.Get(fmt.Sprintf("%s/proof/consistency?old_size=%d&tree_size=%d", s.URL, size, n))
	if err != nil {
		t.Fatal(err)
	}
	var pr server.ProofResponse
	err = json.NewDecoder(resp.Body).Decode(&pr)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cp := latestCheckpoint(t, s)
	if err := c2sp.VerifyConsistency(size, n, root, cp.Hash, pr.Proof); err != nil {
		t.Fatalf("the upgraded log's checkpoint is not consistent with the old one: %v", err)
	}
	// Trillian's new tree holds the whole log.
	trees, err := trilliantree.Provision(ctx, db, trillian.NewTrillianAdminClient(conn), logc, s.Origin)
	if err != nil || trees.Legacy != legacyID || trees.ID == legacyID {
		t.Fatalf("trees after the upgrade: %+v, %v", trees, err)
	}
	awaitTrillian(t, conn, trees.ID, n, deadline)
}

func latestCheckpoint(t *testing.T, s *testonly.Stack) *c2sp.SignedCheckpoint {
	t.Helper()
	resp, err := http.Get(s.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	sc, _, err := s.Policy.VerifyCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
