package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTileIndex(t *testing.T) {
	for n, want := range map[uint64]string{0: "000", 7: "007", 999: "999", 1000: "x001/000", 1234067: "x001/x234/067"} {
		if got := tileIndex(n); got != want {
			t.Errorf("tileIndex(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeTessera is Tessera's conformance API: POST /add answers the new
// entry's index; GET /checkpoint shows size, which publish sets.
type fakeTessera struct {
	mu        sync.Mutex
	next      uint64
	published uint64
	paths     []string
}

func (f *fakeTessera) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/add":
		b, _ := io.ReadAll(r.Body)
		if len(b) != 2200 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", f.next)
		f.next++
	case r.URL.Path == "/checkpoint":
		fmt.Fprintf(w, "tessera.test/log\n%d\nAAAA\n\n— sig\n", f.published)
	case strings.HasPrefix(r.URL.Path, "/tile/"):
		w.Write(make([]byte, 256*32))
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeTessera) publish() {
	f.mu.Lock()
	f.published = f.next
	f.mu.Unlock()
}

// TestTesseraTarget: adds are counted, sampled adds are timed from their
// acknowledgement to the checkpoint that includes them by the index the
// add answered, and the published rate is the checkpoint's growth.
func TestTesseraTarget(t *testing.T) {
	fake := &fakeTessera{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tt := newTesseraTarget(srv.URL, 2200)
	tt.merge = &mergeWatch{url: tt.url, client: tt.client, every: 5, poll: 5 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tt.merge.observe(ctx)
	go tt.merge.run(ctx)
	rep := hammerN(ctx, tt.send, 4, 0, time.Minute, 100)
	if rep.Sent != 100 || rep.Accepted != 100 {
		t.Fatalf("report %+v, want 100 sent and accepted", rep)
	}
	time.Sleep(20 * time.Millisecond)
	fake.publish()
	time.Sleep(20 * time.Millisecond)
	tt.merge.observe(ctx)
	from, to, perSecond := tt.merge.published(rep.start, rep.end.Add(time.Second))
	if from != 0 || to != 100 || perSecond <= 0 {
		t.Fatalf("published %d -> %d at %.1f/s, want 0 -> 100", from, to, perSecond)
	}
	if _, to, _ := tt.merge.published(rep.start, rep.end); to != 0 {
		t.Fatalf("published size %d at the end of the load, before publish", to)
	}
	waitCtx, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	lat, missed := tt.merge.latencies(waitCtx)
	if len(lat) != 20 || missed != 0 {
		t.Fatalf("%d timed, %d unplaced; want 20 and 0", len(lat), missed)
	}
	for _, d := range lat {
		if d < 20*time.Millisecond {
			t.Fatalf("an add was timed to its checkpoint in %v, before it was published", d)
		}
	}
}

// TestReadTarget: tiles are asked for below the checkpoint's size.
func TestReadTarget(t *testing.T) {
	fake := &fakeTessera{published: 256*1000 + 5}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	if _, err := newReadTarget(ctx, srv.URL, "blocks"); err == nil {
		t.Fatal("an unknown read kind was accepted")
	}
	r, err := newReadTarget(ctx, srv.URL, "tile")
	if err != nil {
		t.Fatal(err)
	}
	rep := hammerN(ctx, r.send, 2, 0, time.Minute, 50)
	if rep.Accepted != 50 {
		t.Fatalf("report %+v", rep)
	}
	for _, p := range fake.paths[1:] {
		if !strings.HasPrefix(p, "/tile/0/") || p > "/tile/0/x001/000" {
			t.Fatalf("read %s, not a full tile of a 256,005-entry tree", p)
		}
	}
	fake.published = 100
	if _, err := newReadTarget(ctx, srv.URL, "entries"); err == nil {
		t.Fatal("a read of full tiles of a 100-entry tree was accepted")
	}
}
