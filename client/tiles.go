package client

import (
	"context"
	"fmt"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyInclusion proves that entry is the leaf at index of the verified
// checkpoint cp, computing the inclusion proof from the log's hash tiles
// (each tile checked against cp's root as it is read). A failure wraps
// ErrNotVerified unless the tiles could not be fetched.
func (c *Client) VerifyInclusion(ctx context.Context, entry []byte, index uint64, cp *Checkpoint) error {
	if index >= cp.Size {
		return notVerified("index %d is not in the checkpoint of size %d", index, cp.Size)
	}
	p, err := c2sp.InclusionProofFromTiles(ctx, c.tileFetcher(), index, cp.Size, cp.Hash)
	if err != nil {
		return fmt.Errorf("couldn't build the inclusion proof of entry %d: %w", index, err)
	}
	if err := c2sp.VerifyInclusion(index, cp.Size, c2sp.LeafHash(entry), cp.Hash, p); err != nil {
		return notVerified("entry %d is not the leaf at that index of the checkpoint of size %d: %v", index, cp.Size, err)
	}
	return nil
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
	idx := make([]int64, 0, end-start)
	for i := start; i < end; i++ {
		idx = append(idx, tlog.StoredHashIndex(0, int64(i)))
	}
	hr := tlog.TileHashReader(tlog.Tree{N: int64(cp.Size), Hash: tlog.Hash(cp.Hash)}, &tileReader{ctx: ctx, c: c})
	leaves, err := hr.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("couldn't read verified leaf hashes [%d, %d): %w", start, end, err)
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
			if c2sp.LeafHash(e) != c2sp.Hash(leaves[x-start]) {
				return nil, notVerified("entry %d does not match the leaf hash the checkpoint commits to", x)
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// tileReader fetches hash tiles for tlog.TileHashReader, which verifies
// them against the checkpoint. It keeps nothing: one Entries call asks for
// each tile once (ReadHashes takes every index at once).
type tileReader struct {
	ctx context.Context
	c   *Client
}

func (r *tileReader) Height() int { return c2sp.TileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		d, err := r.c.get(r.ctx, c2sp.TilePath(uint8(t.L), uint64(t.N), t.W))
		if err != nil {
			return nil, fmt.Errorf("couldn't fetch tile %d/%d: %w", t.L, t.N, err)
		}
		out[i] = d
	}
	return out, nil
}

// SaveTiles is called with the tiles that verified; there is no cache to
// keep them in.
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// Entry returns the entry at index of the verified checkpoint cp, checked
// against cp as Entries checks.
func (c *Client) Entry(ctx context.Context, index uint64, cp *Checkpoint) ([]byte, error) {
	es, err := c.Entries(ctx, index, index+1, cp)
	if err != nil {
		return nil, err
	}
	return es[0], nil
}
