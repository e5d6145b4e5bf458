package tiles

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

// reader is a tlog.HashReader over the stored hashes.
type reader struct {
	ctx context.Context
	db  *sql.DB
}

func (r reader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	got, err := readHashes(r.ctx, r.db, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		h, ok := got[ix]
		if !ok {
			return nil, fmt.Errorf("%w: stored hash %d", ErrBeyondTree, ix)
		}
		out[i] = h
	}
	return out, nil
}

// Tile returns the hash tile at level and index with width hashes, as C2SP
// tlog-tiles serves it; full tiles are immutable and cached.
func (s *Store) Tile(ctx context.Context, ref c2sp.TileRef) ([]byte, error) {
	key := ref.Path()
	if ref.Full() {
		// A full tile in the cache was within the tree when it was cached,
		// and the tree only grows: served without touching the database.
		if b, ok := s.cache.get(key); ok {
			return b, nil
		}
	}
	size, _, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	// The tile must lie within the integrated tree.
	if ref.Level > 7 || (ref.Index*c2sp.TileWidth+uint64(ref.Width))<<(8*ref.Level) > size {
		return nil, ErrBeyondTree
	}
	t := tlog.Tile{H: 8, L: int(ref.Level), N: int64(ref.Index), W: ref.Width}
	b, err := tlog.ReadTileData(t, reader{ctx, s.db})
	if err != nil {
		return nil, err
	}
	if ref.Full() {
		s.cache.put(key, b)
	}
	return b, nil
}

// EntryBundle returns the entry bundle at index with width entries.
func (s *Store) EntryBundle(ctx context.Context, index uint64, width int) ([]byte, error) {
	key := c2sp.EntriesPath(index, width)
	if width == c2sp.TileWidth {
		// Full bundles are immutable: a cached one needs no database.
		if b, ok := s.cache.get(key); ok {
			return b, nil
		}
	}
	size, _, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	first := index * c2sp.TileWidth
	if first+uint64(width) > size {
		return nil, ErrBeyondTree
	}
	entries, err := s.Entries(ctx, first, uint64(width))
	if err != nil {
		return nil, err
	}
	b, err := c2sp.MarshalEntryBundle(entries)
	if err != nil {
		return nil, err
	}
	if width == c2sp.TileWidth {
		s.cache.put(key, b)
	}
	return b, nil
}

// Entries returns count appended entries from start (fewer at the end of
// the sequence). Readers serve only the integrated tree: they bound start
// and count by Size.
func (s *Store) Entries(ctx context.Context, start, count uint64) ([][]byte, error) {
	return readEntries(ctx, s.db, start, count)
}

func readEntries(ctx context.Context, q querier, start, count uint64) ([][]byte, error) {
	rows, err := q.QueryContext(ctx, "SELECT idx, data FROM htlog_entries WHERE idx >= ? AND idx < ? ORDER BY idx", start, start+count)
	if err != nil {
		return nil, fmt.Errorf("couldn't read entries: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var idx uint64
		var data []byte
		if err := rows.Scan(&idx, &data); err != nil {
			return nil, err
		}
		if idx != start+uint64(len(out)) {
			return nil, fmt.Errorf("entry %d is missing", start+uint64(len(out)))
		}
		out = append(out, data)
	}
	return out, rows.Err()
}

// InclusionProof proves the leaf at index is in the tree of size.
func (s *Store) InclusionProof(ctx context.Context, index, size uint64) ([]c2sp.Hash, error) {
	if err := s.within(ctx, size); err != nil {
		return nil, err
	}
	if index >= size {
		return nil, fmt.Errorf("%w: index %d is not below size %d", ErrBeyondTree, index, size)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), reader{ctx, s.db})
	return toC2SP(p), err
}

// ConsistencyProof proves the tree of size to extends the tree of size from.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([]c2sp.Hash, error) {
	if err := s.within(ctx, to); err != nil {
		return nil, err
	}
	if from > to {
		return nil, fmt.Errorf("%w: old size %d is above new size %d", ErrBeyondTree, from, to)
	}
	if from == 0 || from == to {
		return nil, nil
	}
	p, err := tlog.ProveTree(int64(to), int64(from), reader{ctx, s.db})
	return toC2SP(p), err
}

// RootAt returns the root of the tree of the given size.
func (s *Store) RootAt(ctx context.Context, size uint64) (c2sp.Hash, error) {
	if err := s.within(ctx, size); err != nil {
		return c2sp.Hash{}, err
	}
	if size == 0 {
		return c2sp.EmptyRoot(), nil
	}
	h, err := tlog.TreeHash(int64(size), reader{ctx, s.db})
	return c2sp.Hash(h), err
}

func (s *Store) within(ctx context.Context, size uint64) error {
	cur, _, err := s.Size(ctx)
	if err != nil {
		return err
	}
	if size > cur {
		return fmt.Errorf("%w: size %d is above the integrated size %d", ErrBeyondTree, size, cur)
	}
	return nil
}

func toC2SP[T ~[32]byte](p []T) []c2sp.Hash {
	out := make([]c2sp.Hash, len(p))
	for i, h := range p {
		out[i] = c2sp.Hash(h)
	}
	return out
}

// ErrNoSuchEvent is returned by EventIndex for an event not integrated.
var ErrNoSuchEvent = errors.New("no such event in the log (yet)")

// EventIndex returns the index of the event with the given identity hash.
func (s *Store) EventIndex(ctx context.Context, id [32]byte) (uint64, error) {
	var idx uint64
	err := s.db.QueryRowContext(ctx, "SELECT idx FROM htlog_events WHERE event_id = ?", id[:]).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNoSuchEvent
	}
	return idx, err
}

// EventsInRange returns the identity hashes of the events integrated at
// indexes [from, to), with their indexes.
func (s *Store) EventsInRange(ctx context.Context, from, to uint64) (map[[32]byte]uint64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT event_id, idx FROM htlog_events WHERE idx >= ? AND idx < ?", from, to)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the events in [%d, %d): %w", from, to, err)
	}
	defer rows.Close()
	out := map[[32]byte]uint64{}
	for rows.Next() {
		var b []byte
		var idx uint64
		if err := rows.Scan(&b, &idx); err != nil {
			return nil, err
		}
		var id [32]byte
		copy(id[:], b)
		out[id] = idx
	}
	return out, rows.Err()
}

// InclusionProofs proves each of indexes in the tree of size, like
// InclusionProof, but reads every stored hash the proofs need in one batch:
// proofs of neighbouring leaves share most of their hashes, so a published
// checkpoint's receipts cost a query or two instead of one each.
func (s *Store) InclusionProofs(ctx context.Context, indexes []uint64, size uint64) ([][]c2sp.Hash, error) {
	if err := s.within(ctx, size); err != nil {
		return nil, err
	}
	need := recordingReader{}
	for _, i := range indexes {
		if i >= size {
			return nil, fmt.Errorf("%w: index %d is not below size %d", ErrBeyondTree, i, size)
		}
		if _, err := tlog.ProveRecord(int64(size), int64(i), need); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, 0, len(need))
	for id := range need {
		ids = append(ids, id)
	}
	got, err := readHashes(ctx, s.db, ids)
	if err != nil {
		return nil, err
	}
	out := make([][]c2sp.Hash, len(indexes))
	for k, i := range indexes {
		p, err := tlog.ProveRecord(int64(size), int64(i), mapReader(got))
		if err != nil {
			return nil, err
		}
		out[k] = toC2SP(p)
	}
	return out, nil
}

// recordingReader notes the stored hashes asked for and answers zeros.
type recordingReader map[int64]bool

func (r recordingReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	for _, i := range indexes {
		r[i] = true
	}
	return make([]tlog.Hash, len(indexes)), nil
}

// mapReader answers from hashes already read.
type mapReader map[int64]tlog.Hash

func (m mapReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		h, ok := m[i]
		if !ok {
			return nil, fmt.Errorf("%w: stored hash %d", ErrBeyondTree, i)
		}
		out[k] = h
	}
	return out, nil
}

// Lookup returns up to limit indexes of integrated entries that carry tag,
// above after (use -1 for the first page), ascending.
func (s *Store) Lookup(ctx context.Context, tag string, after int64, limit int) ([]uint64, error) {
	size, _, err := s.Size(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT idx FROM htlog_tags WHERE tag = ? AND idx > ? AND idx < ? ORDER BY idx LIMIT ?", tagKey(tag), after, size, limit)
	if err != nil {
		return nil, fmt.Errorf("couldn't look up the tag: %w", err)
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var idx uint64
		if err := rows.Scan(&idx); err != nil {
			return nil, err
		}
		out = append(out, idx)
	}
	return out, rows.Err()
}

// ErrNoCheckpoint is returned before the first checkpoint is published.
var ErrNoCheckpoint = errors.New("no checkpoint published yet")

// Published is a published checkpoint.
type Published struct {
	Size uint64
	Note []byte // log signature and cosignatures
}

// Publish records a cosigned checkpoint as the one to serve. A checkpoint of
// the same size replaces the older one (fresh cosignatures).
func (s *Store) Publish(ctx context.Context, size uint64, note []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO htlog_checkpoints (size, note) VALUES (?, ?)
		ON DUPLICATE KEY UPDATE note = VALUES(note), published_at = CURRENT_TIMESTAMP(6)`, size, note)
	if err != nil {
		return fmt.Errorf("couldn't publish the checkpoint: %w", err)
	}
	return nil
}

// Latest returns the newest published checkpoint and its age in seconds.
func (s *Store) Latest(ctx context.Context) (Published, float64, error) {
	var p Published
	var age float64
	err := s.db.QueryRowContext(ctx, `SELECT size, note, TIMESTAMPDIFF(MICROSECOND, published_at, CURRENT_TIMESTAMP(6)) / 1e6
		FROM htlog_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&p.Size, &p.Note, &age)
	if errors.Is(err, sql.ErrNoRows) {
		return p, 0, ErrNoCheckpoint
	}
	if err != nil {
		return p, 0, fmt.Errorf("couldn't read the latest checkpoint: %w", err)
	}
	return p, age, nil
}
