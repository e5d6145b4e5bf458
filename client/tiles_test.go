package client_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
)

// countingTransport counts the requests for each path.
type countingTransport struct {
	mu    sync.Mutex
	paths map[string]int
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ct.mu.Lock()
	ct.paths[r.URL.Path]++
	ct.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (ct *countingTransport) tiles() (n int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for p, c := range ct.paths {
		if strings.Contains(p, "/tile/") {
			n += c
		}
	}
	return n
}

// TestInclusionProofsReadEachTileOnce: the proofs of every leaf of a tree
// verify, reading each tile once for all of them; with a TileCache a later,
// larger tree reads none of the full tiles again; leaf hashes are the
// entries'; a checkpoint the tiles contradict gives no proof.
func TestInclusionProofsReadEachTileOnce(t *testing.T) {
	l := newTestLog(t, "any")
	l.AppendN("e", 1000)
	l.publish(t, 2)
	ct := &countingTransport{paths: map[string]int{}}
	c := &client.Client{URL: l.URL(t), Policy: l.policy, HTTP: &http.Client{Transport: ct}, Tiles: client.NewTileCache(16)}
	cp, err := c.Checkpoint(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	indexes := make([]uint64, 1000)
	for i := range indexes {
		indexes[i] = uint64(i)
	}
	proofs, err := c.InclusionProofs(ctx(t), indexes, cp)
	if err != nil {
		t.Fatal(err)
	}
	all := l.Entries()
	for i, p := range proofs {
		if err := c2sp.VerifyInclusion(uint64(i), cp.Size, c2sp.LeafHash(all[i]), cp.Hash, p); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	// Four level-0 tiles (three full, one partial) and one level-1 tile.
	if n := ct.tiles(); n != 5 {
		t.Fatalf("%d tile requests for 1,000 proofs, want 5: %v", n, ct.paths)
	}

	l.AppendN("f", 300)
	l.publish(t, 2)
	cp2, err := c.Checkpoint(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	before := ct.tiles()
	leaves, err := c.LeafHashes(ctx(t), 0, cp2.Size, cp2)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range leaves {
		if h != c2sp.LeafHash(l.Entries()[i]) {
			t.Fatalf("leaf hash %d differs", i)
		}
	}
	// Tiles 0-2 are cached; 3 and 4 are full now, 5 partial, and level 1
	// partial.
	if n := ct.tiles() - before; n != 4 {
		t.Fatalf("%d tile requests for a tree of 1,300 after one of 1,000, want 4: %v", n, ct.paths)
	}

	fork := l.Fork(1000)
	fork.AppendN("x", 300)
	lie := fork.Checkpoint(t, 1300, l.witnesses[2])
	bad, err := client.VerifyCheckpoint(l.policy, "", lie)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InclusionProofs(ctx(t), []uint64{1100}, bad); err == nil {
		t.Fatal("a proof against a checkpoint the log's tiles contradict")
	}
	if _, err := c.InclusionProofs(ctx(t), []uint64{1300}, cp2); !errors.Is(err, client.ErrNotVerified) {
		t.Fatalf("an index beyond the tree: %v", err)
	}
}
