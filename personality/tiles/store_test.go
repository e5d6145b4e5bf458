package tiles_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/tiles"
	"golang.org/x/mod/sumdb/tlog"
)

func openStore(t *testing.T) *tiles.Store {
	testonly.RequireIntegration(t)
	s, err := tiles.Open(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "tiles")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// envelope returns a signed event whose body carries tag.
func envelope(t *testing.T, k ed25519.PrivateKey, i int, tag string) []byte {
	id, _ := event.KeyID(k.Public())
	p := fmt.Sprintf(`{"kind":"access","version":1,"submitter":{"org":"npi:1234567893","key_id":%q},"occurred_at":"2026-11-23T10:00:%02dZ","body":{"n":%d,"patient":%q}}`, id, i%60, i, tag)
	env, err := event.Sign([]byte(p), k)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

// store is what both implementations, MariaDB's Store and the memory twin,
// offer; the conformance tests below run against each.
type store interface {
	Append(ctx context.Context, batch []tiles.Pending) ([]tiles.Appended, error)
	Sequenced(ctx context.Context) (uint64, error)
	Integrate(ctx context.Context, max int) (uint64, c2sp.Hash, error)
	Size(ctx context.Context) (uint64, c2sp.Hash, error)
	RootAt(ctx context.Context, size uint64) (c2sp.Hash, error)
	Tile(ctx context.Context, ref c2sp.TileRef) ([]byte, error)
	EntryBundle(ctx context.Context, index uint64, width int) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([]c2sp.Hash, error)
	InclusionProofs(ctx context.Context, indexes []uint64, size uint64) ([][]c2sp.Hash, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error)
	EventsInRange(ctx context.Context, from, to uint64) (map[[32]byte]uint64, error)
	EventIndex(ctx context.Context, id [32]byte) (uint64, error)
	Lookup(ctx context.Context, tag string, after int64, limit int) ([]uint64, error)
	Publish(ctx context.Context, size uint64, note []byte) error
	Latest(ctx context.Context) (tiles.Published, float64, error)
	Waiting(ctx context.Context) (tiles.Waiting, error)
}

func TestIntegrateMatchesReference(t *testing.T) { runIntegrate(t, openStore(t)) }

func TestMemoryIntegrateMatchesReference(t *testing.T) { runIntegrate(t, tiles.NewMemory()) }

func runIntegrate(t *testing.T, s store) {
	ctx := context.Background()
	ref := testonly.NewFakeLog(t, "example.com/log")
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	alice, bob := event.Tag([]byte("k"), "alice"), event.Tag([]byte("k"), "bob")
	var size uint64
	for _, batch := range []int{1, 2, 253, 256, 700, 1} {
		var leaves [][]byte
		for i := 0; i < batch; i++ {
			tag := bob
			if (int(size)+i)%3 == 0 {
				tag = alice
			}
			leaves = append(leaves, envelope(t, k, int(size)+i, tag))
		}
		ref.Append(leaves...)
		appendLeaves(t, s, leaves)
		// Appended but not integrated: not visible to readers.
		if n, _, _ := s.Size(ctx); n != size {
			t.Fatalf("size %d before integration, want %d", n, size)
		}
		if idxs, _ := s.Lookup(ctx, alice, int64(size)-1, 1000); len(idxs) != 0 && size > 0 {
			t.Fatalf("lookup finds appended, unintegrated entries %v", idxs)
		}
		// Integrated in steps of at most max.
		for size < ref.Size() {
			got, root, err := s.Integrate(ctx, 300)
			if err != nil {
				t.Fatal(err)
			}
			if got-size > 300 || got == size {
				t.Fatalf("Integrate(300) went from %d to %d", size, got)
			}
			size = got
			if root != ref.Root(size) {
				t.Fatalf("after integrating to %d: root %x, want %x", size, root, ref.Root(size))
			}
		}
		if again, root, err := s.Integrate(ctx, 300); err != nil || again != size || root != ref.Root(size) {
			t.Fatalf("Integrate with nothing waiting = %d, %v", again, err)
		}
	}
	if n, _ := s.Sequenced(ctx); n != size {
		t.Fatalf("sequenced %d, want %d", n, size)
	}
	for _, n := range []uint64{0, 1, 255, 257, size} {
		if r, err := s.RootAt(ctx, n); err != nil || r != ref.Root(n) {
			t.Fatalf("RootAt(%d): %v", n, err)
		}
	}
	// Every tile the reference computes is served identically.
	want, _ := c2sp.TileHashes(ref.LeafHashes(size))
	for path, data := range want {
		r, err := c2sp.ParseTilePath(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Tile(ctx, r)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("tile %s differs: %v", path, err)
		}
	}
	if _, err := s.Tile(ctx, c2sp.TileRef{Level: 0, Index: size / 256, Width: int(size%256) + 1}); !errors.Is(err, tiles.ErrBeyondTree) {
		t.Fatalf("tile beyond the tree: %v", err)
	}
	// Entry bundles round-trip.
	b, err := s.EntryBundle(ctx, 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := c2sp.ParseEntryBundle(b, 256)
	if err != nil || !bytes.Equal(entries[5], ref.Entries()[261]) {
		t.Fatalf("entry bundle: %v", err)
	}
	// Proofs verify against the reference roots.
	for _, tc := range [][2]uint64{{0, 1}, {5, 300}, {1000, size}, {size - 1, size}} {
		p, err := s.InclusionProof(ctx, tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(toTlog(p), int64(tc[1]), tlog.Hash(ref.Root(tc[1])), int64(tc[0]), tlog.RecordHash(ref.Entries()[tc[0]])); err != nil {
			t.Fatalf("inclusion %v: %v", tc, err)
		}
		if tc[0] == 0 {
			continue
		}
		cp, err := s.ConsistencyProof(ctx, tc[0], tc[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := c2sp.VerifyConsistency(tc[0], tc[1], ref.Root(tc[0]), ref.Root(tc[1]), cp); err != nil {
			t.Fatalf("consistency %v: %v", tc, err)
		}
	}
	// Batched proofs are the single proofs, and verify.
	batch := []uint64{0, 1, 2, 255, 256, 700, size - 2, size - 1}
	proofs, err := s.InclusionProofs(ctx, batch, size)
	if err != nil || len(proofs) != len(batch) {
		t.Fatalf("InclusionProofs = %d proofs, %v", len(proofs), err)
	}
	for k, i := range batch {
		if err := tlog.CheckRecord(toTlog(proofs[k]), int64(size), tlog.Hash(ref.Root(size)), int64(i), tlog.RecordHash(ref.Entries()[i])); err != nil {
			t.Fatalf("batched inclusion of %d: %v", i, err)
		}
	}
	if _, err := s.InclusionProofs(ctx, []uint64{1, size}, size); !errors.Is(err, tiles.ErrBeyondTree) {
		t.Fatalf("batched proof of an index beyond the tree: %v", err)
	}
	if _, err := s.InclusionProofs(ctx, []uint64{1}, size+1); !errors.Is(err, tiles.ErrBeyondTree) {
		t.Fatalf("batched proof in a tree beyond the integrated one: %v", err)
	}
	events, err := s.EventsInRange(ctx, 40, 45)
	if err != nil || len(events) != 5 {
		t.Fatalf("EventsInRange(40, 45) = %v, %v", events, err)
	}
	// Event and tag indexes.
	env, _ := event.ParseEnvelope(ref.Entries()[42])
	if idx, ok := events[env.IdentityHash()]; !ok || idx != 42 {
		t.Fatalf("EventsInRange gives index %d (%v) for entry 42", idx, ok)
	}
	if idx, err := s.EventIndex(ctx, env.IdentityHash()); err != nil || idx != 42 {
		t.Fatalf("EventIndex = %d, %v; want 42", idx, err)
	}
	idxs, err := s.Lookup(ctx, alice, -1, 5)
	if err != nil || len(idxs) != 5 || idxs[0] != 0 || idxs[1] != 3 {
		t.Fatalf("Lookup(alice) = %v, %v", idxs, err)
	}
	more, _ := s.Lookup(ctx, alice, int64(idxs[4]), 1000)
	if len(idxs)+len(more) != int((size+2)/3) {
		t.Fatalf("alice has %d events, want %d", len(idxs)+len(more), (size+2)/3)
	}
	if none, _ := s.Lookup(ctx, event.Tag([]byte("k"), "carol"), -1, 10); len(none) != 0 {
		t.Fatalf("carol found: %v", none)
	}
}

func appendLeaves(t *testing.T, s store, leaves [][]byte) {
	t.Helper()
	batch := make([]tiles.Pending, len(leaves))
	for i, l := range leaves {
		batch[i] = tiles.PendingOf(l)
	}
	if _, err := s.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// TestWaiting: what waits beyond the published checkpoint is read from
// the database, so every replica and a restarted one see the same.
func TestWaiting(t *testing.T) {
	testonly.RequireIntegration(t)
	dsn := testonly.NewDatabase(t, "tiles")
	s, err := tiles.Open(context.Background(), testonly.OpenDB(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	runWaiting(t, s, func() store {
		other, err := tiles.Open(context.Background(), testonly.OpenDB(t, dsn)) // another replica, or this one restarted
		if err != nil {
			t.Fatal(err)
		}
		return other
	})
}

func TestMemoryWaiting(t *testing.T) {
	m := tiles.NewMemory()
	runWaiting(t, m, func() store { return m })
}

// runWaiting checks Waiting on s, read back through reopen (another
// replica on the same database, where there is one).
func runWaiting(t *testing.T, s store, reopen func() store) {
	ctx := context.Background()
	if w, err := s.Waiting(ctx); err != nil || w.Count != 0 || w.AgeSeconds != 0 {
		t.Fatalf("empty log: %+v, %v", w, err)
	}
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	appendLeaves(t, s, [][]byte{envelope(t, k, 0, event.Tag([]byte("k"), "p")), envelope(t, k, 1, event.Tag([]byte("k"), "p"))})
	time.Sleep(200 * time.Millisecond)
	other := reopen()
	w, err := other.Waiting(ctx)
	if err != nil || w.Count != 2 || w.AgeSeconds < 0.2 || w.AgeSeconds > 60 {
		t.Fatalf("two waiting: %+v, %v", w, err)
	}
	if err := s.Publish(ctx, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if w, _ := other.Waiting(ctx); w.Count != 1 || w.AgeSeconds < 0.2 {
		t.Fatalf("one published: %+v", w)
	}
	if err := s.Publish(ctx, 2, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if w, _ := other.Waiting(ctx); w.Count != 0 {
		t.Fatalf("all published: %+v", w)
	}
}

func toTlog(p []c2sp.Hash) tlog.RecordProof {
	out := make(tlog.RecordProof, len(p))
	for i, h := range p {
		out[i] = tlog.Hash(h)
	}
	return out
}

func TestPublishLatest(t *testing.T)       { runPublishLatest(t, openStore(t)) }
func TestMemoryPublishLatest(t *testing.T) { runPublishLatest(t, tiles.NewMemory()) }

func runPublishLatest(t *testing.T, s store) {
	ctx := context.Background()
	if _, _, err := s.Latest(ctx); !errors.Is(err, tiles.ErrNoCheckpoint) {
		t.Fatalf("Latest on empty: %v", err)
	}
	s.Publish(ctx, 5, []byte("five"))
	s.Publish(ctx, 9, []byte("nine"))
	s.Publish(ctx, 9, []byte("nine again"))
	p, age, err := s.Latest(ctx)
	if err != nil || p.Size != 9 || string(p.Note) != "nine again" || age < 0 || age > 60 {
		t.Fatalf("Latest = %+v %v %v", p, age, err)
	}
}

// TestFullTilesServedWithoutTheDatabase: full tiles and entry bundles are
// immutable, so once cached they are served with the database gone;
// partial ones still need it (issue 14: the database off the hot read path).
func TestFullTilesServedWithoutTheDatabase(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "tiles"))
	s, err := tiles.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	var leaves [][]byte
	for i := range 300 {
		leaves = append(leaves, envelope(t, k, i, event.Tag([]byte("k"), "p")))
	}
	appendLeaves(t, s, leaves)
	if _, _, err := s.Integrate(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	full, partial := c2sp.TileRef{Level: 0, Index: 0, Width: 256}, c2sp.TileRef{Level: 0, Index: 1, Width: 44}
	tile, err := s.Tile(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := s.EntryBundle(ctx, 0, 256)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if again, err := s.Tile(ctx, full); err != nil || !bytes.Equal(again, tile) {
		t.Fatalf("cached full tile with the database closed: %v", err)
	}
	if again, err := s.EntryBundle(ctx, 0, 256); err != nil || !bytes.Equal(again, bundle) {
		t.Fatalf("cached full bundle with the database closed: %v", err)
	}
	if _, err := s.Tile(ctx, partial); err == nil {
		t.Fatal("a partial tile was served without the database")
	}
}

// TestTrialClaims is the submit.TrialClaims contract on MariaDB: the first
// claim wins on every replica, concurrent claims agree, a lookup without a
// sponsor claims nothing.
func TestTrialClaims(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	dsn := testonly.NewDatabase(t, "claims")
	a, err := tiles.Open(ctx, testonly.OpenDB(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tiles.Open(ctx, testonly.OpenDB(t, dsn)) // a second replica
	if err != nil {
		t.Fatal(err)
	}
	if owner, err := a.Claim(ctx, "NCT00000001", ""); err != nil || owner != "" {
		t.Fatalf("lookup of an unclaimed trial: %q %v", owner, err)
	}
	if owner, _ := b.Claim(ctx, "NCT00000001", "gln:0614141123452"); owner != "gln:0614141123452" {
		t.Fatalf("first claim: %q", owner)
	}
	for _, s := range []*tiles.Store{a, b} {
		if owner, _ := s.Claim(ctx, "NCT00000001", "npi:1234567893"); owner != "gln:0614141123452" {
			t.Fatalf("a later claim won: %q", owner)
		}
	}
	owners := make([]string, 16)
	var wg sync.WaitGroup
	for i := range owners {
		s := []*tiles.Store{a, b}[i%2]
		wg.Go(func() {
			owners[i], _ = s.Claim(ctx, "NCT00000002", fmt.Sprintf("npi:claimant-%d", i))
		})
	}
	wg.Wait()
	for _, o := range owners {
		if o != owners[0] || o == "" {
			t.Fatalf("concurrent claims disagree: %v", owners)
		}
	}
}
