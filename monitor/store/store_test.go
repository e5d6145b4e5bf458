package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

// testStore is the conformance test both stores run.
func testStore(t *testing.T, s store.Store) {
	ctx := context.Background()
	if st, err := s.LoadState(ctx); err != nil || st != nil {
		t.Fatalf("fresh store: %v %v", st, err)
	}
	f := finding.Finding{Rule: "r", Severity: finding.High, Index: 3, EventIDs: []string{"sha256:x"}, Submitter: "npi:1", Detail: "d", Time: time.Now().UTC().Truncate(time.Microsecond)}
	st := &store.State{Size: 3, Hashes: []c2sp.Hash{{1}, {2}}, Checkpoint: []byte("cp"), SaveRules: true}
	if err := s.Commit(ctx, st, []finding.Finding{f, f}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadState(ctx)
	if err != nil || got.Size != 3 || len(got.Hashes) != 2 || got.Hashes[1] != (c2sp.Hash{2}) || string(got.Checkpoint) != "cp" {
		t.Fatalf("LoadState: %+v %v", got, err)
	}
	if err := s.AddFindings(ctx, []finding.Finding{f, {Rule: "q", Index: -1, Detail: "e", Time: f.Time}}); err != nil {
		t.Fatal(err)
	}
	fs, _ := s.Findings(ctx, finding.Filter{})
	if len(fs) != 2 || fs[0].Rule != "q" {
		t.Fatalf("Findings: %+v", fs)
	}
	fs, _ = s.Findings(ctx, finding.Filter{Rule: "r"})
	if len(fs) != 1 || fs[0].Detail != "d" || fs[0].EventIDs[0] != "sha256:x" {
		t.Fatalf("Findings(rule): %+v", fs)
	}
	counts, _ := s.CountFindings(ctx)
	if len(counts) != 2 {
		t.Fatalf("CountFindings: %+v", counts)
	}
	body := "example.com/log\n5\n" + c2sp.Hash{9}.String() + "\n\n"
	cp := store.Checkpoint{Size: 5, Root: c2sp.Hash{9}, Note: []byte(body + "— example.com/log AQIDBAUG\n— w1 CgsMDQ4P\n"),
		Source: "log", Cosigners: []string{"w1"}, Seen: time.Now()}
	if added, err := s.AddCheckpoint(ctx, cp); !added || err != nil {
		t.Fatal(added, err)
	}
	if added, _ := s.AddCheckpoint(ctx, cp); added {
		t.Fatal("added twice")
	}
	// Another copy of the checkpoint (same size and root) adds no row: its
	// lines from keys the stored note lacks are merged in, the others not.
	other := cp
	other.Note = []byte(body + "— w2 BQYHCAkK\n— example.com/log AQIDBAkJ\n— w1 CgsMDQAA\n")
	other.Cosigners, other.Source = []string{"w2", "w1"}, "pollinate"
	if added, err := s.AddCheckpoint(ctx, other); added || err != nil {
		t.Fatal("a second copy added a checkpoint:", added, err)
	}
	if at, _ := s.CheckpointsAtSize(ctx, 5); len(at) != 1 || string(at[0].Note) != string(cp.Note)+"— w2 BQYHCAkK\n" ||
		strings.Join(at[0].Cosigners, ",") != "w1,w2" || at[0].Source != "log" || strings.Join(at[0].Sources, ",") != "log,pollinate" {
		t.Fatalf("merged copy: %+v", at)
	}
	if un, _ := s.Unchecked(ctx, 4); len(un) != 0 {
		t.Fatal("Unchecked ignores maxSize")
	}
	if un, _ := s.Unchecked(ctx, 5); len(un) != 1 || un[0].Root != cp.Root || un[0].Cosigners[0] != "w1" {
		t.Fatalf("Unchecked: %+v", un)
	}
	s.MarkChecked(ctx, cp.ID())
	if un, _ := s.Unchecked(ctx, 5); len(un) != 0 {
		t.Fatal("MarkChecked")
	}
	if at, _ := s.CheckpointsAtSize(ctx, 5); len(at) != 1 {
		t.Fatal("CheckpointsAtSize")
	}
	s.AddEvidence(ctx, "id1", []byte("b"))
	s.AddEvidence(ctx, "id1", []byte("b"))
	if ids, _ := s.EvidenceIDs(ctx); len(ids) != 1 {
		t.Fatal("EvidenceIDs")
	}
	if b, err := s.Evidence(ctx, "id1"); err != nil || string(b) != "b" {
		t.Fatal("Evidence")
	}
	if _, err := s.Evidence(ctx, "nope"); err != store.ErrNotFound {
		t.Fatal("Evidence of a missing id:", err)
	}
	testPromises(t, s)
	testRulesState(t, s)
}

// rulesRows reads every saved row of the rules' state, as table and key
// mapped to value.
func rulesRows(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.LoadRules(context.Background(), func(r store.RulesRow) error {
		out[r.Table+"|"+r.Key] = string(r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testRulesState: a commit with the rules' state applies its rows (a nil
// value deletes one), with the position, atomically; one without keeps the
// saved rows, with the size and compact range they were taken at.
func testRulesState(t *testing.T, s store.Store) {
	ctx := context.Background()
	long := strings.Repeat("k", 5000) // longer than any index allows
	at := &store.State{Size: 6, Hashes: []c2sp.Hash{{6}}, Checkpoint: []byte("cp6"), SaveRules: true,
		Rules: []store.RulesRow{{Table: "r/t", Key: "a", Value: []byte(`1`)}, {Table: "r/t", Key: "b", Value: []byte(`2`)},
			{Table: "r", Value: []byte(`{"clock":3}`)}, {Table: "r/t", Key: long, Value: []byte(`4`)},
			{Table: "r/u", Key: "a", Value: []byte(`5`)}, {Table: "r/t", Key: "never", Value: nil}},
		RulesSize: 6, RulesHashes: []c2sp.Hash{{6}}}
	if err := s.Commit(ctx, at, nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"r/t|a": "1", "r/t|b": "2", "r|": `{"clock":3}`, "r/t|" + long: "4", "r/u|a": "5"}
	if got := rulesRows(t, s); !maps.Equal(got, want) {
		t.Fatalf("rows after the first commit: %v", got)
	}
	if err := s.Commit(ctx, &store.State{Size: 9, Hashes: []c2sp.Hash{{8}, {1}}, Checkpoint: []byte("cp9"),
		Rules: []store.RulesRow{{Table: "r/t", Key: "a", Value: []byte(`99`)}}}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadState(ctx)
	if err != nil || got.Size != 9 || len(got.Hashes) != 2 || string(got.Checkpoint) != "cp9" || got.Rules != nil ||
		got.LegacyRules != nil || got.RulesSize != 6 || len(got.RulesHashes) != 1 || got.RulesHashes[0] != (c2sp.Hash{6}) {
		t.Fatalf("after a commit without the rules: %+v %v", got, err)
	}
	if got := rulesRows(t, s); !maps.Equal(got, want) {
		t.Fatalf("a commit without SaveRules changed the rows: %v", got)
	}
	// Changed, deleted and added rows.
	if err := s.Commit(ctx, &store.State{Size: 10, Hashes: []c2sp.Hash{{8}, {2}}, Checkpoint: []byte("cp10"), SaveRules: true,
		Rules: []store.RulesRow{{Table: "r/t", Key: "a", Value: []byte(`7`)}, {Table: "r/t", Key: "b"}, {Table: "r/t", Key: long},
			{Table: "r/t", Key: "c", Value: []byte(`8`)}, {Table: "r", Value: []byte(`{"clock":4}`)}},
		RulesSize: 10, RulesHashes: []c2sp.Hash{{8}, {2}}}, nil); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"r/t|a": "7", "r/t|c": "8", "r|": `{"clock":4}`, "r/u|a": "5"}
	if got := rulesRows(t, s); !maps.Equal(got, want) {
		t.Fatalf("rows after changes: %v", got)
	}
	if got, err := s.LoadState(ctx); err != nil || got.RulesSize != 10 || len(got.RulesHashes) != 2 {
		t.Fatalf("after a commit with the rules: %+v %v", got, err)
	}
	// A commit with the rules and no rows moves their size on.
	if err := s.Commit(ctx, &store.State{Size: 11, Hashes: []c2sp.Hash{{11}}, Checkpoint: []byte("cp11"), SaveRules: true,
		RulesSize: 11, RulesHashes: []c2sp.Hash{{11}}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadState(ctx); err != nil || got.RulesSize != 11 || !maps.Equal(rulesRows(t, s), want) {
		t.Fatalf("after a commit of no rows: %+v %v", got, err)
	}
	// LoadRules stops at the callback's error.
	stop := errors.New("stop")
	n := 0
	if err := s.LoadRules(ctx, func(store.RulesRow) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("LoadRules returned %v after %d rows", err, n)
	}
}

// TestMemFirstCommitWithoutRules: a first commit without the rules' state
// starts them empty at size 0, as on MySQL.
func TestMemFirstCommitWithoutRules(t *testing.T) { testFirstCommitWithoutRules(t, store.NewMem()) }

func testFirstCommitWithoutRules(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Commit(ctx, &store.State{Size: 4, Hashes: []c2sp.Hash{{4}}, Checkpoint: []byte("cp")}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadState(ctx)
	if err != nil || got.Size != 4 || len(rulesRows(t, s)) != 0 || got.LegacyRules != nil || got.RulesSize != 0 || len(got.RulesHashes) != 0 {
		t.Fatalf("%+v %v", got, err)
	}
}

func testPromises(t *testing.T, s store.Store) {
	ctx := context.Background()
	// SeenBy: the checkpoint of size 5 above was seen at cp.Seen.
	if n, any, err := s.SeenBy(ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 0 || any {
		t.Fatalf("SeenBy(yesterday) = %d, %v, %v", n, any, err)
	}
	if n, any, err := s.SeenBy(ctx, time.Now().Add(time.Hour)); err != nil || n != 5 || !any {
		t.Fatalf("SeenBy(in an hour) = %d, %v, %v", n, any, err)
	}
	ts := time.Now().UTC().Truncate(time.Second)
	p := store.Promise{LeafHash: c2sp.Hash{7}, EventID: "sha256:ab", Note: []byte("note"), Timestamp: ts, Deadline: ts.Add(time.Minute),
		Index: -1, Status: store.PromisePending}
	later := p
	later.LeafHash, later.Deadline = c2sp.Hash{8}, ts.Add(time.Hour)
	for _, q := range []store.Promise{later, p} {
		if added, err := s.AddPromise(ctx, q); err != nil || !added {
			t.Fatalf("AddPromise = %v, %v", added, err)
		}
	}
	if added, err := s.AddPromise(ctx, p); err != nil || added {
		t.Fatalf("AddPromise again = %v, %v", added, err)
	}
	pending, err := s.PendingPromises(ctx)
	if err != nil || len(pending) != 2 || pending[0].LeafHash != p.LeafHash || !pending[0].Deadline.Equal(p.Deadline) || pending[0].Index != -1 {
		t.Fatalf("PendingPromises = %+v, %v", pending, err)
	}
	p.Index, p.Status, p.Detail = 4, store.PromiseHonoured, "ok"
	f := finding.Finding{Rule: "promise_broken", Severity: finding.Critical, Index: 4, Detail: "late", Time: ts}
	if err := s.ResolvePromise(ctx, p, []finding.Finding{f}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Promise(ctx, p.LeafHash)
	if err != nil || got.Status != store.PromiseHonoured || got.Index != 4 || got.Detail != "ok" || string(got.Note) != "note" || got.EventID != "sha256:ab" {
		t.Fatalf("Promise = %+v, %v", got, err)
	}
	if pending, _ := s.PendingPromises(ctx); len(pending) != 1 || pending[0].LeafHash != later.LeafHash {
		t.Fatalf("PendingPromises after resolving = %+v", pending)
	}
	if fs, _ := s.Findings(ctx, finding.Filter{Rule: "promise_broken"}); len(fs) != 1 {
		t.Fatalf("ResolvePromise recorded %d findings", len(fs))
	}
	if _, err := s.Promise(ctx, c2sp.Hash{9}); err != store.ErrNotFound {
		t.Fatalf("Promise of an unknown leaf: %v", err)
	}
}

func TestMem(t *testing.T) { testStore(t, store.NewMem()) }

func TestMySQL(t *testing.T) {
	testonly.RequireIntegration(t)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "monstore"))
	s, err := store.NewMySQL(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}

func TestMySQLFirstCommitWithoutRules(t *testing.T) {
	testonly.RequireIntegration(t)
	s, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "monstore")))
	if err != nil {
		t.Fatal(err)
	}
	testFirstCommitWithoutRules(t, s)
}

// TestMySQLUpgradesOldState: a monitor_state table made before the rules'
// state had its own size gets the columns, and its saved rules are read as
// taken at the saved position.
func TestMySQLUpgradesOldState(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "monstore"))
	if _, err := db.Exec(`CREATE TABLE monitor_state (id TINYINT PRIMARY KEY, tree_size BIGINT UNSIGNED NOT NULL,
		hashes BLOB NOT NULL, checkpoint BLOB NOT NULL, rules LONGBLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	h := c2sp.Hash{7}
	if _, err := db.Exec(`INSERT INTO monitor_state VALUES (1, 7, ?, 'cp', '{"old":true}')`, h[:]); err != nil {
		t.Fatal(err)
	}
	s, err := store.NewMySQL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadState(ctx)
	if err != nil || got.Size != 7 || string(got.LegacyRules) != `{"old":true}` || got.RulesSize != 7 ||
		len(got.RulesHashes) != 1 || got.RulesHashes[0] != h {
		t.Fatalf("%+v %v", got, err)
	}
	// The position moves on without the rules: they stay at 7.
	if err := s.Commit(ctx, &store.State{Size: 9, Hashes: []c2sp.Hash{{9}}, Checkpoint: []byte("cp9")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewMySQL(ctx, db); err != nil { // idempotent
		t.Fatal(err)
	}
	got, err = s.LoadState(ctx)
	if err != nil || got.Size != 9 || string(got.LegacyRules) != `{"old":true}` || got.RulesSize != 7 ||
		len(got.RulesHashes) != 1 || got.RulesHashes[0] != h {
		t.Fatalf("after a commit of the position: %+v %v", got, err)
	}
	// The first save of the rules as rows drops the snapshot.
	if err := s.Commit(ctx, &store.State{Size: 9, Hashes: []c2sp.Hash{{9}}, Checkpoint: []byte("cp9"), SaveRules: true,
		Rules: []store.RulesRow{{Table: "r", Value: []byte(`{}`)}}, RulesSize: 9, RulesHashes: []c2sp.Hash{{9}}}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err = s.LoadState(ctx); err != nil || got.LegacyRules != nil || got.RulesSize != 9 || len(rulesRows(t, s)) != 1 {
		t.Fatalf("after the first save as rows: %+v %v", got, err)
	}
}

// TestMemLegacyRules: the twin holds a snapshot like an old MySQL row does,
// until the first save of the rules as rows.
func TestMemLegacyRules(t *testing.T) {
	ctx := context.Background()
	s := store.NewMem()
	if err := s.Commit(ctx, &store.State{Size: 2, Hashes: []c2sp.Hash{{2}}, Checkpoint: []byte("cp")}, nil); err != nil {
		t.Fatal(err)
	}
	s.SetLegacyRules([]byte(`{"old":true}`))
	if err := s.Commit(ctx, &store.State{Size: 3, Hashes: []c2sp.Hash{{3}}, Checkpoint: []byte("cp")}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadState(ctx); err != nil || string(got.LegacyRules) != `{"old":true}` {
		t.Fatalf("%+v %v", got, err)
	}
	if err := s.Commit(ctx, &store.State{Size: 3, Hashes: []c2sp.Hash{{3}}, Checkpoint: []byte("cp"), SaveRules: true, RulesSize: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadState(ctx); err != nil || got.LegacyRules != nil || got.RulesSize != 3 {
		t.Fatalf("%+v %v", got, err)
	}
}

// TestMySQLUpgradesCheckpoints: a monitor_checkpoints table from when each
// byte-distinct note made a row (keyed by its hash) keeps one row per size
// and root, the first seen, with the cosigners of all and checked if any
// was; later copies merge into it.
func TestMySQLUpgradesCheckpoints(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "monstore"))
	if _, err := db.Exec(`CREATE TABLE monitor_checkpoints (id CHAR(64) PRIMARY KEY, tree_size BIGINT UNSIGNED NOT NULL,
		root BINARY(32) NOT NULL, note BLOB NOT NULL, source VARCHAR(512) NOT NULL, cosigners TEXT NOT NULL,
		seen DATETIME(6) NOT NULL, checked BOOLEAN NOT NULL DEFAULT FALSE, KEY by_size (tree_size))`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	insert := func(size uint64, root c2sp.Hash, note, cosigners string, seen time.Time, checked bool) {
		t.Helper()
		sum := sha256.Sum256([]byte(note))
		if _, err := db.Exec(`INSERT INTO monitor_checkpoints VALUES (?, ?, ?, ?, 'pollinate', ?, ?, ?)`,
			hex.EncodeToString(sum[:]), size, root[:], note, cosigners, seen, checked); err != nil {
			t.Fatal(err)
		}
	}
	body := "example.com/log\n5\n" + c2sp.Hash{5}.String() + "\n\n— example.com/log AQIDBAUG\n"
	insert(5, c2sp.Hash{5}, body+"— junk AAAAAAAA\n", "w2", t0.Add(time.Second), true)
	insert(5, c2sp.Hash{5}, body, "w1", t0, false)
	for i := range 50 {
		insert(5, c2sp.Hash{5}, body+fmt.Sprintf("— junk%d AAAAAAAA\n", i), "", t0.Add(time.Minute), false)
	}
	insert(5, c2sp.Hash{6}, "fork", "", t0, false)
	insert(7, c2sp.Hash{7}, "seven", "w1", t0, true)
	s, err := store.NewMySQL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.CheckpointsAtSize(ctx, 5)
	if err != nil || len(at) != 2 {
		t.Fatalf("size 5 after the upgrade: %+v %v", at, err)
	}
	for _, cp := range at {
		if cp.Root == (c2sp.Hash{5}) && (string(cp.Note) != body || strings.Join(cp.Cosigners, ",") != "w1,w2" || !cp.Checked) {
			t.Errorf("kept row: %+v", cp)
		}
	}
	if un, _ := s.Unchecked(ctx, 10); len(un) != 1 || un[0].Root != (c2sp.Hash{6}) {
		t.Errorf("unchecked after the upgrade: %+v", un)
	}
	if added, err := s.AddCheckpoint(ctx, store.Checkpoint{Size: 5, Root: c2sp.Hash{5}, Note: []byte(body + "— w3 BQYHCAkK\n"), Seen: t0}); added || err != nil {
		t.Fatalf("a copy after the upgrade: %v %v", added, err)
	}
	if _, err := store.NewMySQL(ctx, db); err != nil { // idempotent
		t.Fatal(err)
	}
	if cps, _ := s.RecentCheckpoints(ctx, 100); len(cps) != 3 {
		t.Fatalf("%d rows, want 3", len(cps))
	}
}

// TestMySQLStateOverMaxPacket: a row of the rules' state the server would
// refuse in one statement gets an error that says what to raise, and the
// saved state is unchanged; many rows that together are far over the limit
// are written in several statements.
func TestMySQLStateOverMaxPacket(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "monstore"))
	s, err := store.NewMySQL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &store.State{Size: 1, Hashes: []c2sp.Hash{{1}}, Checkpoint: []byte("cp"), SaveRules: true}, nil); err != nil {
		t.Fatal(err)
	}
	var maxPacket int
	if err := db.QueryRow("SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		t.Fatal(err)
	}
	// A server configured with a large limit (make up used to set 1G) is
	// tested against a smaller one: the store refuses an oversized row
	// before sending it, and splits statements by the limit it knows.
	if maxPacket > 16<<20 {
		maxPacket = 16 << 20
		store.SetMaxPacket(s, int64(maxPacket))
	}
	big := &store.State{Size: 2, Hashes: []c2sp.Hash{{2}}, Checkpoint: []byte("cp2"), SaveRules: true, RulesSize: 2,
		Rules: []store.RulesRow{{Table: "r/t", Key: "small", Value: []byte("1")}, {Table: "r/t", Key: "big", Value: make([]byte, maxPacket)}}}
	if err := s.Commit(ctx, big, nil); err == nil || !strings.Contains(err.Error(), "max_allowed_packet") {
		t.Fatalf("Commit of a row over max_allowed_packet: %v", err)
	}
	if st, err := s.LoadState(ctx); err != nil || st.Size != 1 || len(rulesRows(t, s)) != 0 {
		t.Fatalf("state after the refused commit: %+v, %v", st, err)
	}
	var rows []store.RulesRow
	for i := range min(3*maxPacket, 64<<20) / 4000 {
		rows = append(rows, store.RulesRow{Table: "r/t", Key: fmt.Sprint(i), Value: make([]byte, 4000)})
	}
	if err := s.Commit(ctx, &store.State{Size: 3, Hashes: []c2sp.Hash{{3}}, Checkpoint: []byte("cp3"), SaveRules: true, RulesSize: 3, Rules: rows}, nil); err != nil {
		t.Fatal(err)
	}
	if got := rulesRows(t, s); len(got) != len(rows) {
		t.Fatalf("%d rows saved, want %d", len(got), len(rows))
	}
}
