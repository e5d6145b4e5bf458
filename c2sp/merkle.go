package c2sp

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// EmptyRoot returns the RFC 6962 root of the empty tree: SHA-256 of nothing.
func EmptyRoot() Hash {
	var h Hash
	copy(h[:], rfc6962.DefaultHasher.EmptyRoot())
	return h
}

// LeafHash returns the RFC 6962 leaf hash of an entry: SHA-256(0x00 || entry).
func LeafHash(entry []byte) Hash {
	var h Hash
	copy(h[:], rfc6962.DefaultHasher.HashLeaf(entry))
	return h
}

// RootFromLeafHashes computes the RFC 6962 root of a tree from its leaf
// hashes, in one pass with a compact range.
func RootFromLeafHashes(hs []Hash) Hash {
	if len(hs) == 0 {
		return EmptyRoot()
	}
	r := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for i := range hs {
		// Appending to a range that starts at 0 cannot fail.
		_ = r.Append(hs[i][:], nil)
	}
	root, _ := r.GetRootHash(nil)
	var h Hash
	copy(h[:], root)
	return h
}

// ErrInconsistent is returned (wrapped) when two tree heads cannot both be
// true: the proof does not verify, or equal sizes carry different roots.
var ErrInconsistent = errors.New("tree heads are inconsistent")

// VerifyConsistency checks that the tree (newSize, newRoot) extends the tree
// (oldSize, oldRoot). Unlike proof.VerifyConsistency it handles oldSize == 0
// (any tree extends the empty tree; the proof must be empty) and equal sizes
// (the roots must match; the proof must be empty).
func VerifyConsistency(oldSize, newSize uint64, oldRoot, newRoot Hash, p []Hash) error {
	switch {
	case oldSize > newSize:
		return fmt.Errorf("old size %d is larger than new size %d", oldSize, newSize)
	case oldSize == 0:
		if len(p) != 0 {
			return fmt.Errorf("%w: consistency proof from the empty tree must be empty", ErrInconsistent)
		}
		if oldRoot != EmptyRoot() {
			return fmt.Errorf("%w: size 0 with a non-empty root", ErrInconsistent)
		}
		return nil
	case oldSize == newSize:
		if len(p) != 0 {
			return fmt.Errorf("%w: consistency proof between equal sizes must be empty", ErrInconsistent)
		}
		if oldRoot != newRoot {
			return fmt.Errorf("%w: same size %d with different roots", ErrInconsistent, oldSize)
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, oldSize, newSize, HashesToBytes(p), oldRoot[:], newRoot[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrInconsistent, err)
	}
	return nil
}

// VerifyInclusion checks that leafHash is the leaf at index in the tree of
// the given size and root.
func VerifyInclusion(index, size uint64, leafHash, root Hash, p []Hash) error {
	if index >= size {
		return fmt.Errorf("index %d is not below tree size %d", index, size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, leafHash[:], HashesToBytes(p), root[:]); err != nil {
		return fmt.Errorf("couldn't verify inclusion of leaf %d in tree of size %d: %w", index, size, err)
	}
	return nil
}

// ConsistencyRoots runs the RFC 9162 consistency walk over a path from size m
// to size n (0 < m < n) and returns the two roots it determines. When m is a
// power of two the path must begin with the root of the tree of size m (which
// a plain consistency proof leaves out, since the verifier already has it).
func ConsistencyRoots(m, n uint64, path []Hash) (oldRoot, newRoot Hash, err error) {
	if m == 0 || m >= n {
		return oldRoot, newRoot, fmt.Errorf("consistency walk needs 0 < m < n, got %d and %d", m, n)
	}
	if len(path) == 0 {
		return oldRoot, newRoot, errors.New("consistency path is empty")
	}
	fn, sn := m-1, n-1
	if m&(m-1) == 0 {
		// The first element is the old root itself; skip the levels it covers.
		shift := bits.TrailingZeros64(m)
		fn >>= shift
		sn >>= shift
	} else {
		for fn&1 == 1 {
			fn >>= 1
			sn >>= 1
		}
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return oldRoot, newRoot, errors.New("consistency path is too long")
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return oldRoot, newRoot, errors.New("consistency path is too short")
	}
	return fr, sr, nil
}

// nodeHash is the RFC 6962 hash of an interior node, by merkle's hasher.
func nodeHash(l, r Hash) Hash {
	return Hash(rfc6962.DefaultHasher.HashChildren(l[:], r[:]))
}
