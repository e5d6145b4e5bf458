// Package tree replays a log's Merkle tree: leaf hashes go in, in order, and
// the RFC 6962 root of every prefix can be read out. It keeps only a compact
// range (at most 64 hashes), so the monitor's memory and durable state stay
// small however large the log grows.
package tree

import (
	"fmt"

	"github.com/htlog/htlog/c2sp"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

var factory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Tree is the compact range [0, Size) of a log. It is not safe for
// concurrent use.
type Tree struct {
	r *compact.Range
}

// New returns an empty tree.
func New() *Tree { return &Tree{r: factory.NewEmptyRange(0)} }

// Restore rebuilds a tree of size entries from the hashes Hashes returned.
func Restore(size uint64, hashes []c2sp.Hash) (*Tree, error) {
	r, err := factory.NewRange(0, size, c2sp.HashesToBytes(hashes))
	if err != nil {
		return nil, fmt.Errorf("couldn't restore the compact range of size %d: %w", size, err)
	}
	return &Tree{r: r}, nil
}

// Size returns the number of leaves appended.
func (t *Tree) Size() uint64 { return t.r.End() }

// Append adds the next leaf hash.
func (t *Tree) Append(leaf c2sp.Hash) {
	// Append only fails for a hash of the wrong length, which c2sp.Hash rules out.
	if err := t.r.Append(leaf[:], nil); err != nil {
		panic(err)
	}
}

// Root returns the root of the tree of Size leaves.
func (t *Tree) Root() c2sp.Hash {
	if t.r.End() == 0 {
		return c2sp.EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil {
		panic(err) // only fails for a range not starting at 0
	}
	return c2sp.Hash(root)
}

// Hashes returns the compact range's hashes, for durable storage.
func (t *Tree) Hashes() []c2sp.Hash {
	hs, _ := c2sp.BytesToHashes(t.r.Hashes())
	return hs
}

// Clone returns an independent copy.
func (t *Tree) Clone() *Tree {
	c, _ := Restore(t.Size(), t.Hashes())
	return c
}
