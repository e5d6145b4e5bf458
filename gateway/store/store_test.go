package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/testonly"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	testonly.RequireIntegration(t)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "gwstore"))
	s, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func item(input string, n int) Accepted {
	h := sha256.Sum256([]byte(input))
	id := fmt.Sprintf("sha256:%064x", sha256.Sum256([]byte(fmt.Sprintf("%s#%d", input, n))))
	c, op := event.Commit([]byte("value of " + input))
	return Accepted{InputHash: h[:], EventID: id, Kind: "access", Source: "AuditEvent/" + input, Subject: "patient:Patient/1",
		Envelope: []byte("{}"), Openings: []mapping.Opening{{Patient: "Patient/1", Commitment: c, Value: "value of " + input, Opening: op}}}
}

// TestAcceptGroupCommit: concurrent Accepts, some of the same inputs, are
// committed together; an input accepted twice is one item (the first), its
// openings stored once; the outbox sees every item once, oldest first.
func TestAcceptGroupCommit(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([][]string, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Requests i and i+20 send the same two inputs.
			a, b := item(fmt.Sprintf("in-%d", i%20), i), item(fmt.Sprintf("other-%d", i%20), i)
			got, err := s.Accept(ctx, []Accepted{a, b})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = got
		}()
	}
	wg.Wait()
	for i := range 20 {
		if len(ids[i]) != 2 || ids[i][0] != ids[i+20][0] || ids[i][1] != ids[i+20][1] || ids[i][0] == ids[i][1] {
			t.Fatalf("requests %d and %d: %v %v", i, i+20, ids[i], ids[i+20])
		}
	}
	work, err := s.Next(ctx, Pending, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(work) != 40 {
		t.Fatalf("%d pending items, want 40", len(work))
	}
	for i := 1; i < len(work); i++ {
		if work[i].Seq <= work[i-1].Seq {
			t.Fatal("Next is not oldest first")
		}
	}
	ops, err := s.PatientOpenings(ctx, "Patient/1")
	if err != nil || len(ops) != 40 {
		t.Fatalf("%d openings (%v), want 40", len(ops), err)
	}
	// The outbox's batch updates move exactly the items named.
	if err := s.MarkSubmittedBatch(ctx, []Submission{{EventID: work[0].EventID, Promise: []byte("p0")}, {EventID: work[1].EventID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkLoggedBatch(ctx, []Receipt{{EventID: work[0].EventID, Index: 7, Proof: []byte("proof")}}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.StatusOf(ctx, work[0].EventID)
	if st.State != Logged || *st.Index != 7 || string(st.Proof) != "proof" || string(st.Promise) != "p0" {
		t.Errorf("item 0: %+v", st)
	}
	if st, _ := s.StatusOf(ctx, work[1].EventID); st.State != Submitted {
		t.Errorf("item 1 state %d", st.State)
	}
	if c, _ := s.Counts(ctx); c["pending"] != 38 {
		t.Errorf("counts %v", c)
	}
}

// TestAcceptRecordsLots: an accepted item's lots are recorded with it; the
// same input accepted again records nothing new.
func TestAcceptRecordsLots(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if _, err := s.PackageKey(ctx, "10614141073464", "7"); err != nil { // the mapper makes the key for the tag
		t.Fatal(err)
	}
	a := item("commissioning", 1)
	a.Lots = []mapping.PackageLot{{GTIN: "10614141073464", Serial: "7", Lot: "L7", Expiry: "2028-01-31"}}
	if _, err := s.Accept(ctx, []Accepted{a}); err != nil {
		t.Fatal(err)
	}
	if lot, exp, ok, _ := s.Package(ctx, "10614141073464", "7"); !ok || lot != "L7" || exp != "2028-01-31" {
		t.Fatalf("lot %s %s %v", lot, exp, ok)
	}
	again := item("commissioning", 2) // the same input, another lot: the first item stands
	again.Lots = []mapping.PackageLot{{GTIN: "10614141073464", Serial: "7", Lot: "OTHER", Expiry: "2029-01-31"}}
	if _, err := s.Accept(ctx, []Accepted{again}); err != nil {
		t.Fatal(err)
	}
	if lot, _, _, _ := s.Package(ctx, "10614141073464", "7"); lot != "L7" {
		t.Errorf("a duplicate input changed the lot to %s", lot)
	}
}

// TestKeys: a patient's and a package's key are made once and kept.
func TestKeys(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	k1, _ := s.PatientKey(ctx, "Patient/9")
	s2, _ := Open(ctx, s.db) // a restarted gateway reads the same key
	k2, _ := s2.PatientKey(ctx, "Patient/9")
	if len(k1) != 32 || string(k1) != string(k2) {
		t.Fatal("the patient key changed")
	}
	if _, _, ok, _ := s.Package(ctx, "10614141073464", "1"); ok {
		t.Fatal("an unknown package has a lot")
	}
	if err := s.SetPackage(ctx, "10614141073464", "1", "L1", "2027-01-31"); err != nil {
		t.Fatal(err)
	}
	if lot, exp, ok, _ := s2.Package(ctx, "10614141073464", "1"); !ok || lot != "L1" || exp != "2027-01-31" {
		t.Fatalf("package %s %s %v", lot, exp, ok)
	}
	pk, _ := s.PackageKey(ctx, "10614141073464", "1")
	if err := s.ImportPackage(ctx, "10614141073464", "1", make([]byte, 32), "L1", "2027-01-31"); err != ErrKeyConflict || pk == nil {
		t.Fatalf("importing another key: %v", err)
	}
}

// TestCursor: a cursor is absent until set, then holds the last value set,
// also in a store opened again on the same database.
func TestCursor(t *testing.T) {
	testonly.RequireIntegration(t)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "gwcursor"))
	ctx := context.Background()
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Cursor(ctx, "receipts"); ok || err != nil {
		t.Fatalf("a new store has a cursor (ok %v, err %v)", ok, err)
	}
	for _, at := range []uint64{256, 1 << 40} {
		if err := s.SetCursor(ctx, "receipts", at); err != nil {
			t.Fatal(err)
		}
	}
	again, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok, err := again.Cursor(ctx, "receipts"); !ok || err != nil || at != 1<<40 {
		t.Fatalf("cursor %d (ok %v, err %v), want %d", at, ok, err, uint64(1)<<40)
	}
	if _, ok, _ := again.Cursor(ctx, "other"); ok {
		t.Fatal("an unset cursor name has a value")
	}
}

// TestReceiptsShareCheckpoints: receipts that end with the same checkpoint
// store it once and read back byte for byte; a receipt given without its
// checkpoint is stored whole; a table made before the checkpoint column
// existed gets it, and its receipts still read back.
func TestReceiptsShareCheckpoints(t *testing.T) {
	testonly.RequireIntegration(t)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "gwreceipts"))
	ctx := context.Background()
	// The table as the first gateway release made it, with a logged item.
	if _, err := db.ExecContext(ctx, `CREATE TABLE gw_items (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, event_id CHAR(71) NOT NULL, input_hash BINARY(32) NOT NULL,
  kind VARCHAR(16) NOT NULL, source VARBINARY(300) NOT NULL, subject MEDIUMBLOB NOT NULL, envelope MEDIUMBLOB NOT NULL,
  state TINYINT NOT NULL, promise BLOB NULL, proof MEDIUMBLOB NULL, leaf_index BIGINT NULL, reason VARCHAR(300) NULL,
  attempts INT NOT NULL DEFAULT 0, accepted_at DATETIME(3) NOT NULL, updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY (event_id), UNIQUE KEY (input_hash), KEY (state, seq), KEY (source))`); err != nil {
		t.Fatal(err)
	}
	old := item("old", 0)
	if _, err := db.ExecContext(ctx, "INSERT INTO gw_items (event_id, input_hash, kind, source, subject, envelope, state, proof, leaf_index, accepted_at, updated_at) VALUES (?, ?, 'access', 'x', 's', '{}', ?, 'whole old proof', 7, NOW(), NOW())",
		old.EventID, old.InputHash, Logged); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.StatusOf(ctx, old.EventID); err != nil || string(st.Proof) != "whole old proof" {
		t.Fatalf("the old receipt: %v %v", st, err)
	}
	var items []Accepted
	for i := range 3 {
		items = append(items, item(fmt.Sprintf("new-%d", i), i))
	}
	ids, err := s.Accept(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	cp := []byte("htlog.test/log\n42\nroot\n\n— log sig\n— witness sig\n")
	proof := func(i int) []byte {
		return append([]byte(fmt.Sprintf("c2sp.org/tlog-proof@v1\nindex %d\nhash\n\n", i)), cp...)
	}
	rs := []Receipt{
		{EventID: ids[0], Index: 0, Proof: proof(0), Checkpoint: cp},
		{EventID: ids[1], Index: 1, Proof: proof(1), Checkpoint: cp},
		{EventID: ids[2], Index: 2, Proof: proof(2)},
	}
	if err := s.MarkLoggedBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		st, err := s.StatusOf(ctx, r.EventID)
		if err != nil || st.State != Logged || string(st.Proof) != string(proof(i)) {
			t.Fatalf("receipt %d read back as %q (%v)", i, st.Proof, err)
		}
	}
	var n int
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gw_checkpoints").Scan(&n)
	var whole int
	db.QueryRowContext(ctx, "SELECT COUNT(*) FROM gw_items WHERE state = ? AND checkpoint_id IS NULL", Logged).Scan(&whole)
	if n != 1 || whole != 2 { // the old one and the one without its checkpoint
		t.Fatalf("%d checkpoints stored, %d receipts stored whole; want 1 and 2", n, whole)
	}
}
