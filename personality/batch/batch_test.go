package batch_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/batch"
	"github.com/htlog/htlog/personality/tiles"
)

func pending(s string) tiles.Pending {
	return tiles.Pending{ID: sha256.Sum256([]byte(s)), Leaf: []byte(s), Kind: "access", Org: "npi:1234567893", OccurredAt: "2026-12-02T10:00:00Z"}
}

// runConformance checks the Appender contract the write path relies on,
// for the memory twin and for MariaDB alike.
func runConformance(t *testing.T, a batch.Appender) {
	ctx := context.Background()
	out, err := a.Append(ctx, []tiles.Pending{pending("a"), pending("b"), pending("a"), pending("c")})
	if err != nil {
		t.Fatal(err)
	}
	want := []tiles.Appended{{Index: 0, Leaf: []byte("a")}, {Index: 1, Leaf: []byte("b")}, {Index: 0, Leaf: []byte("a"), Duplicate: true}, {Index: 2, Leaf: []byte("c")}}
	for i := range want {
		if out[i].Index != want[i].Index || string(out[i].Leaf) != string(want[i].Leaf) || out[i].Duplicate != want[i].Duplicate {
			t.Fatalf("first batch [%d] = %+v, want %+v", i, out[i], want[i])
		}
	}
	// A later duplicate gets the first copy's index and leaf, even with
	// other bytes (another signature over the same payload).
	dup := pending("b")
	dup.Leaf = []byte("b, signed again")
	out, err = a.Append(ctx, []tiles.Pending{pending("d"), dup})
	if err != nil || out[0].Index != 3 || out[0].Duplicate || !out[1].Duplicate || out[1].Index != 1 || string(out[1].Leaf) != "b" {
		t.Fatalf("second batch = %+v, %v", out, err)
	}
	// A batch of duplicates only appends nothing.
	if out, err = a.Append(ctx, []tiles.Pending{pending("c")}); err != nil || out[0].Index != 2 || !out[0].Duplicate {
		t.Fatalf("duplicate-only batch = %+v, %v", out, err)
	}
	if out, err = a.Append(ctx, []tiles.Pending{pending("e")}); err != nil || out[0].Index != 4 {
		t.Fatalf("after a duplicate-only batch: %+v, %v", out, err)
	}
}

func TestMemoryConformance(t *testing.T) { runConformance(t, tiles.NewMemory()) }

func TestMariaDBConformance(t *testing.T) {
	testonly.RequireIntegration(t)
	s, err := tiles.Open(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "batch")))
	if err != nil {
		t.Fatal(err)
	}
	runConformance(t, s)
}

// TestConcurrentReplicasOnMariaDB: two replicas (two stores on one
// database) append concurrently through their own batchers, each event
// submitted twice; every event gets exactly one index, the indexes are
// gapless, and both submissions of an event get the same one.
func TestConcurrentReplicasOnMariaDB(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := testonly.NewDatabase(t, "batch")
	var batchers []*batch.Batcher
	var stores []*tiles.Store
	for range 2 {
		s, err := tiles.Open(ctx, testonly.OpenDB(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		b := batch.New(s, 64)
		go b.Run(ctx)
		stores, batchers = append(stores, s), append(batchers, b)
	}
	const events = 600
	got := make([][2]uint64, events)
	var wg sync.WaitGroup
	errs := make(chan error, 2*events)
	for i := range events {
		for r := range 2 {
			wg.Go(func() {
				a, err := batchers[(i+r)%2].Add(ctx, pending(fmt.Sprint("event ", i)))
				if err != nil {
					errs <- err
					return
				}
				got[i][r] = a.Index
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make([]bool, events)
	for i, g := range got {
		if g[0] != g[1] {
			t.Fatalf("event %d got two indexes: %v", i, g)
		}
		if g[0] >= events || seen[g[0]] {
			t.Fatalf("index %d given twice or beyond %d", g[0], events)
		}
		seen[g[0]] = true
	}
	if n, err := stores[0].Sequenced(ctx); err != nil || n != events {
		t.Fatalf("sequenced %d, %v; want %d", n, err, events)
	}
	entries, err := stores[1].Entries(ctx, 0, events)
	if err != nil || len(entries) != events {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	for i, g := range got {
		if string(entries[g[0]]) != fmt.Sprint("event ", i) {
			t.Fatalf("entry %d is %q, want event %d", g[0], entries[g[0]], i)
		}
	}
}

// slowAppender makes every batch take a while, so concurrent adds gather,
// and records each batch's size.
type slowAppender struct {
	*tiles.Memory
	mu    sync.Mutex
	sizes []int
}

func (s *slowAppender) Append(ctx context.Context, b []tiles.Pending) ([]tiles.Appended, error) {
	time.Sleep(5 * time.Millisecond)
	s.mu.Lock()
	s.sizes = append(s.sizes, len(b))
	s.mu.Unlock()
	return s.Memory.Append(ctx, b)
}

func TestBatcherGathersConcurrentAdds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &slowAppender{Memory: tiles.NewMemory()}
	b := batch.New(m, 32)
	go b.Run(ctx)
	var wg sync.WaitGroup
	idx := make([]uint64, 400)
	for i := range idx {
		wg.Go(func() {
			a, err := b.Add(ctx, pending(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
			}
			idx[i] = a.Index
		})
	}
	wg.Wait()
	slices.Sort(idx)
	for i, x := range idx {
		if x != uint64(i) {
			t.Fatalf("indexes are not 0..399: %v", idx)
		}
	}
	m.mu.Lock()
	sizes := m.sizes
	m.mu.Unlock()
	if len(sizes) >= 400 || slices.Max(sizes) > 32 {
		t.Fatalf("batch sizes %v: want fewer batches than events, none above 32", sizes)
	}
}

func TestBatcherFailureAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m := tiles.NewMemory()
	m.Failing = errors.New("database down")
	b := batch.New(m, 8)
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	if _, err := b.Add(context.Background(), pending("x")); err == nil || err.Error() != "database down" {
		t.Fatalf("Add with a failing appender: %v", err)
	}
	if n, _ := m.Sequenced(context.Background()); n != 0 {
		t.Fatal("a failed batch appended something")
	}
	cancel()
	<-done
	short, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	if _, err := b.Add(short, pending("y")); err == nil {
		t.Fatal("Add after Run returned succeeded")
	}
}
