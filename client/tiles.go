package client

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyInclusion proves that entry is the leaf at index of the verified
// checkpoint cp, computing the inclusion proof from the log's hash tiles
// (each tile checked against cp's root as it is read). A failure wraps
// ErrNotVerified unless the tiles could not be fetched.
func (c *Client) VerifyInclusion(ctx context.Context, entry []byte, index uint64, cp *Checkpoint) error {
	p, err := c.InclusionProof(ctx, index, cp)
	if err != nil {
		return err
	}
	if err := c2sp.VerifyInclusion(index, cp.Size, c2sp.LeafHash(entry), cp.Hash, p); err != nil {
		return notVerified("entry %d is not the leaf at that index of the checkpoint of size %d: %v", index, cp.Size, err)
	}
	return nil
}

// InclusionProof returns the inclusion proof of the leaf at index in the
// tree of the verified checkpoint cp, computed from the log's hash tiles,
// each checked against cp's root as it is read (with Tiles set, the full
// tiles of earlier calls are read from memory). The caller checks the
// proof against the leaf it expects.
func (c *Client) InclusionProof(ctx context.Context, index uint64, cp *Checkpoint) ([]c2sp.Hash, error) {
	ps, err := c.InclusionProofs(ctx, []uint64{index}, cp)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// InclusionProofs is InclusionProof for many leaves of one tree: each tile
// is read and checked against cp's root once for all of them.
func (c *Client) InclusionProofs(ctx context.Context, indexes []uint64, cp *Checkpoint) ([][]c2sp.Hash, error) {
	r := &treeHashes{size: cp.Size, under: c.hashReader(ctx, cp), memo: map[int64]tlog.Hash{}}
	out := make([][]c2sp.Hash, len(indexes))
	for i, index := range indexes {
		if index >= cp.Size {
			return nil, notVerified("index %d is not in the checkpoint of size %d", index, cp.Size)
		}
		p, err := tlog.ProveRecord(int64(cp.Size), int64(index), r)
		if err != nil {
			return nil, fmt.Errorf("couldn't build the inclusion proof of entry %d: %w", index, err)
		}
		out[i] = make([]c2sp.Hash, len(p))
		for j := range p {
			out[i][j] = c2sp.Hash(p[j])
		}
	}
	return out, nil
}

// treeHashes reads the hashes of one tree through a verifying reader,
// asking it for whole tile rows and keeping what it answered, so that the
// proofs of neighbouring leaves verify each tile once rather than once a
// proof.
type treeHashes struct {
	size  uint64
	under tlog.HashReader
	memo  map[int64]tlog.Hash
}

func (r *treeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	want := map[int64]bool{}
	for _, x := range indexes {
		if _, ok := r.memo[x]; ok || want[x] {
			continue
		}
		want[x] = true
		// Every hash x's tile holds, as far as the tree reaches: its
		// bottom row and the complete subtrees above it.
		t := tlog.TileForIndex(c2sp.TileHeight, x)
		bottom := t.L * c2sp.TileHeight
		first := t.N * c2sp.TileWidth
		for k := range c2sp.TileHeight {
			end := min((first+c2sp.TileWidth)>>k, int64(r.size>>uint(bottom+k)))
			for n := first >> k; n < end; n++ {
				want[tlog.StoredHashIndex(bottom+k, n)] = true
			}
		}
	}
	if len(want) > 0 {
		idx := make([]int64, 0, len(want))
		for x := range want {
			idx = append(idx, x)
		}
		slices.Sort(idx)
		hs, err := r.under.ReadHashes(idx)
		if err != nil {
			return nil, err
		}
		for i, x := range idx {
			r.memo[x] = hs[i]
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = r.memo[x]
	}
	return out, nil
}

// LeafHashes returns the leaf hashes [start, end) of the tree of the
// verified checkpoint cp, read from the log's hash tiles (each checked
// against cp's root). end must not exceed cp.Size. A follower of the log
// finds its own entries among them without asking the log for each.
func (c *Client) LeafHashes(ctx context.Context, start, end uint64, cp *Checkpoint) ([]c2sp.Hash, error) {
	if start > end || end > cp.Size {
		return nil, fmt.Errorf("leaves [%d, %d) are not in the checkpoint of size %d", start, end, cp.Size)
	}
	if start == end {
		return nil, nil
	}
	idx := make([]int64, 0, end-start)
	for i := start; i < end; i++ {
		idx = append(idx, tlog.StoredHashIndex(0, int64(i)))
	}
	hs, err := c.hashReader(ctx, cp).ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("couldn't read verified leaf hashes [%d, %d): %w", start, end, err)
	}
	out := make([]c2sp.Hash, len(hs))
	for i := range hs {
		out[i] = c2sp.Hash(hs[i])
	}
	return out, nil
}

// hashReader reads the tree hashes of cp from the log's tiles, checking
// every tile against cp's root.
func (c *Client) hashReader(ctx context.Context, cp *Checkpoint) tlog.HashReader {
	return tlog.TileHashReader(tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Hash)}, &tileReader{ctx: ctx, c: c})
}

// Entries returns the entries [start, end) of the tree of the verified
// checkpoint cp, read from the log's entry bundles and checked one by one
// against the leaf hashes in the hash tiles of cp (which are checked against
// its root). end must not exceed cp.Size.
func (c *Client) Entries(ctx context.Context, start, end uint64, cp *Checkpoint) ([][]byte, error) {
	if start > end || end > cp.Size {
		return nil, fmt.Errorf("entries [%d, %d) are not in the checkpoint of size %d", start, end, cp.Size)
	}
	if start == end {
		return nil, nil
	}
	leaves, err := c.LeafHashes(ctx, start, end, cp)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, end-start)
	for n := start / c2sp.TileWidth; n*c2sp.TileWidth < end; n++ {
		width := min(cp.Size-n*c2sp.TileWidth, c2sp.TileWidth)
		data, err := c.get(ctx, c2sp.EntriesPath(n, int(width)))
		if err != nil {
			return nil, fmt.Errorf("couldn't fetch entry bundle %d: %w", n, err)
		}
		bundle, err := c2sp.ParseEntryBundle(data, int(width))
		if err != nil {
			return nil, notVerified("entry bundle %d: %v", n, err)
		}
		for i, e := range bundle {
			x := n*c2sp.TileWidth + uint64(i)
			if x < start || x >= end {
				continue
			}
			if c2sp.LeafHash(e) != leaves[x-start] {
				return nil, notVerified("entry %d does not match the leaf hash the checkpoint commits to", x)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// tileReader fetches hash tiles for tlog.TileHashReader, which verifies
// them against the checkpoint and then hands them to SaveTiles: the full
// ones go to the client's TileCache, if it has one. A tile read from the
// cache is verified again like a fetched one.
type tileReader struct {
	ctx context.Context
	c   *Client
	// read keeps every tile this reader fetched (it reads one tree, so a
	// partial tile does not change either).
	read map[string][]byte
}

func (r *tileReader) Height() int { return c2sp.TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := c2sp.TilePath(uint8(t.L), uint64(t.N), t.W)
		if d, ok := r.read[path]; ok {
			out[i] = d
			continue
		}
		if d, ok := r.c.Tiles.get(path); ok {
			out[i] = d
			continue
		}
		d, err := r.c.get(r.ctx, path)
		if err != nil {
			return nil, fmt.Errorf("couldn't fetch tile %d/%d: %w", t.L, t.N, err)
		}
		if r.read == nil {
			r.read = map[string][]byte{}
		}
		r.read[path], out[i] = d, d
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		if t.W == c2sp.TileWidth {
			r.c.Tiles.put(c2sp.TilePath(uint8(t.L), uint64(t.N), t.W), data[i])
		}
	}
}

// TileCache keeps full hash tiles that verified, for the proofs and leaf
// reads of later calls: a full tile never changes, so a follower of the log
// fetches each once. It holds at most its size in tiles (8 KiB each),
// emptied when full. Safe for concurrent use; share one between the
// clients of one log only.
type TileCache struct {
	mu    sync.Mutex
	max   int
	tiles map[string][]byte
}

// NewTileCache returns a cache of at most max tiles.
func NewTileCache(max int) *TileCache {
	return &TileCache{max: max, tiles: map[string][]byte{}}
}

func (tc *TileCache) get(path string) ([]byte, bool) {
	if tc == nil {
		return nil, false
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	d, ok := tc.tiles[path]
	return d, ok
}

func (tc *TileCache) put(path string, data []byte) {
	if tc == nil || tc.max <= 0 {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.tiles) >= tc.max {
		clear(tc.tiles)
	}
	tc.tiles[path] = data
}

// Entry returns the entry at index of the verified checkpoint cp, checked
// against cp as Entries checks.
func (c *Client) Entry(ctx context.Context, index uint64, cp *Checkpoint) ([]byte, error) {
	es, err := c.Entries(ctx, index, index+1, cp)
	if err != nil {
		return nil, err
	}
	return es[0], nil
}
