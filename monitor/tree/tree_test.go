package tree

import (
	"testing"

	"github.com/htlog/htlog/c2sp"
)

func TestTreeMatchesRootFromLeafHashes(t *testing.T) {
	var leaves []c2sp.Hash
	tr := New()
	if tr.Root() != c2sp.EmptyRoot() {
		t.Fatal("empty tree root")
	}
	for i := range 600 {
		h := c2sp.LeafHash([]byte{byte(i), byte(i >> 8)})
		leaves = append(leaves, h)
		tr.Append(h)
		if got, want := tr.Root(), c2sp.RootFromLeafHashes(leaves); got != want {
			t.Fatalf("size %d: root %v, want %v", i+1, got, want)
		}
		if i%97 == 0 {
			r, err := Restore(tr.Size(), tr.Hashes())
			if err != nil || r.Root() != tr.Root() {
				t.Fatalf("restore at %d: %v", i+1, err)
			}
			tr = r
		}
	}
	if _, err := Restore(5, nil); err == nil {
		t.Fatal("restore with missing hashes succeeded")
	}
}
