package c2sp

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// TileFetcher fetches one tlog-tiles resource by its path (as TilePath
// returns it). Implementations are called concurrently and return an error
// for anything but a complete body.
type TileFetcher func(ctx context.Context, path string) ([]byte, error)

// tileReader adapts a TileFetcher to the tile reader of sumdb/tlog, whose
// tiles of height 8 hold exactly the hashes tlog-tiles serves.
type tileReader struct {
	ctx   context.Context
	fetch TileFetcher
}

func (r tileReader) Height() int { return TileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.fetch(r.ctx, TilePath(uint8(t.L), uint64(t.N), t.W))
		if err != nil {
			return nil, fmt.Errorf("couldn't fetch tile %d/%d: %w", t.L, t.N, err)
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// hashReader returns a reader of tree hashes that checks every tile it reads
// against the tree (size, root), so a log serving a wrong tile is caught.
func hashReader(ctx context.Context, fetch TileFetcher, size uint64, root Hash) tlog.HashReader {
	return tlog.TileHashReader(tlog.Tree{N: int64(size), Hash: tlog.Hash(root)}, tileReader{ctx, fetch})
}

// InclusionProofFromTiles computes the inclusion proof of the leaf at index
// in the tree (size, root) from the log's hash tiles, verifying the tiles.
func InclusionProofFromTiles(ctx context.Context, fetch TileFetcher, index, size uint64, root Hash) ([]Hash, error) {
	if index >= size {
		return nil, fmt.Errorf("index %d is not below tree size %d", index, size)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), hashReader(ctx, fetch, size, root))
	if err != nil {
		return nil, fmt.Errorf("couldn't build inclusion proof from tiles: %w", err)
	}
	out := make([]Hash, len(p))
	for i := range p {
		out[i] = Hash(p[i])
	}
	return out, nil
}

// ConsistencyProofFromTiles computes the consistency proof from oldSize to the
// tree (size, root) from the log's hash tiles, verifying the tiles.
func ConsistencyProofFromTiles(ctx context.Context, fetch TileFetcher, oldSize, size uint64, root Hash) ([]Hash, error) {
	if oldSize == 0 || oldSize == size {
		return nil, nil
	}
	if oldSize > size {
		return nil, fmt.Errorf("old size %d is larger than size %d", oldSize, size)
	}
	p, err := tlog.ProveTree(int64(size), int64(oldSize), hashReader(ctx, fetch, size, root))
	if err != nil {
		return nil, fmt.Errorf("couldn't build consistency proof from tiles: %w", err)
	}
	out := make([]Hash, len(p))
	for i := range p {
		out[i] = Hash(p[i])
	}
	return out, nil
}

// TreeHashFromTiles returns the root of the first m leaves of the tree
// (size, root), read from the log's hash tiles and verified against root.
func TreeHashFromTiles(ctx context.Context, fetch TileFetcher, m, size uint64, root Hash) (Hash, error) {
	if m > size {
		return Hash{}, fmt.Errorf("size %d is larger than the tree's %d", m, size)
	}
	h, err := tlog.TreeHash(int64(m), hashReader(ctx, fetch, size, root))
	if err != nil {
		return Hash{}, fmt.Errorf("couldn't read the hash of the first %d leaves from tiles: %w", m, err)
	}
	return Hash(h), nil
}

// TileHashes computes the contents of every hash tile (at every level) of a
// tree from its leaf hashes: the map key is the tile's path. It is meant for
// tests and for small trees; a log builds tiles incrementally.
func TileHashes(leafHashes []Hash) (map[string][]byte, error) {
	storage := map[int64]tlog.Hash{}
	var n int64
	for _, lh := range leafHashes {
		hashes, err := tlog.StoredHashesForRecordHash(n, tlog.Hash(lh), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = storage[x]
			}
			return out, nil
		}))
		if err != nil {
			return nil, err
		}
		base := tlog.StoredHashIndex(0, n)
		for i, h := range hashes {
			storage[base+int64(i)] = h
		}
		n++
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = storage[x]
		}
		return out, nil
	})
	out := map[string][]byte{}
	for _, t := range tlog.NewTiles(TileHeight, 0, n) {
		data, err := tlog.ReadTileData(t, reader)
		if err != nil {
			return nil, err
		}
		out[TilePath(uint8(t.L), uint64(t.N), t.W)] = data
	}
	return out, nil
}
