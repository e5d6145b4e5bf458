// Package tiles is the personality's copy of the log in MariaDB: the
// sequence (Append: entries, an event-id index and a pseudonymous-tag index,
// written once, deduplicated, at gapless indexes), the tree (Integrate:
// stored hashes in the golang.org/x/mod/sumdb/tlog layout, the root
// computed from the entries' own bytes, so a checkpoint is only signed over
// a root htlog has computed itself), the published checkpoints, and the
// reads built from them: C2SP tlog-tiles resources (hash tiles, entry
// bundles), inclusion and consistency proofs and lookups, so the read path
// never touches Trillian.
//
// One database holds one log (one origin). Any replica appends; Integrate
// is called by one process at a time (the checkpoint publisher holds a
// lease); reads are safe from any number of replicas.
package tiles

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/tlog"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS htlog_state (
		id TINYINT PRIMARY KEY, size BIGINT NOT NULL, root BINARY(32) NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS htlog_hashes (id BIGINT PRIMARY KEY, hash BINARY(32) NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS htlog_entries (idx BIGINT PRIMARY KEY, data MEDIUMBLOB NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS htlog_events (
		event_id BINARY(32) PRIMARY KEY, idx BIGINT NOT NULL, kind VARCHAR(16) NOT NULL,
		org VARCHAR(96) NOT NULL, occurred_at VARCHAR(40) NOT NULL, UNIQUE KEY (idx))`,
	`CREATE TABLE IF NOT EXISTS htlog_tags (tag BINARY(32) NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (tag, idx))`,
	`CREATE TABLE IF NOT EXISTS htlog_trials (
		registry_id VARCHAR(64) PRIMARY KEY, sponsor VARCHAR(128) NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS htlog_sequence (
		id TINYINT PRIMARY KEY, next BIGINT NOT NULL, legacy_next BIGINT NOT NULL)`,
	// Logs from before the batched write path lack the append time.
	`ALTER TABLE htlog_entries ADD COLUMN IF NOT EXISTS queued_at TIMESTAMP(6) NULL DEFAULT NULL`,
	`CREATE TABLE IF NOT EXISTS htlog_checkpoints (
		size BIGINT PRIMARY KEY, note BLOB NOT NULL, published_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))`,
}

// Store is the MariaDB-backed tree copy.
type Store struct {
	db    *sql.DB
	cache *tileCache
	// trialOwners caches the claims of Claim (registry id -> sponsor).
	trialOwners sync.Map
}

// CacheBytes bounds the memory each Store spends on cached full tiles and
// entry bundles (immutable, so served without the database once cached).
const CacheBytes = 256 << 20

// ErrBeyondTree is returned for a tile, entry or proof beyond the integrated tree.
var ErrBeyondTree = errors.New("beyond the integrated tree")

// Open applies the schema (idempotently) and returns the store.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("couldn't create htlog's tables: %w", err)
		}
	}
	empty := c2sp.EmptyRoot()
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO htlog_state (id, size, root) VALUES (1, 0, ?)", empty[:]); err != nil {
		return nil, fmt.Errorf("couldn't initialise htlog_state: %w", err)
	}
	// The sequence starts where the integrated tree ends: an empty log at 0,
	// a log upgraded from per-event queueing after everything it integrated
	// (and the legacy tree's leaves below that are held).
	if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO htlog_sequence (id, next, legacy_next) SELECT 1, size, size FROM htlog_state WHERE id = 1"); err != nil {
		return nil, fmt.Errorf("couldn't initialise htlog_sequence: %w", err)
	}
	return &Store{db: db, cache: newTileCache(CacheBytes)}, nil
}

// Size returns the integrated tree's size and root.
func (s *Store) Size(ctx context.Context) (uint64, c2sp.Hash, error) {
	var size uint64
	var root []byte
	if err := s.db.QueryRowContext(ctx, "SELECT size, root FROM htlog_state WHERE id = 1").Scan(&size, &root); err != nil {
		return 0, c2sp.Hash{}, fmt.Errorf("couldn't read the integrated size: %w", err)
	}
	var h c2sp.Hash
	copy(h[:], root)
	return size, h, nil
}

// MaxIntegrate bounds the leaves one Integrate call takes in.
const MaxIntegrate = 4096

// Integrate takes up to max appended entries beyond the integrated tree into
// it, in one transaction: their stored hashes and the new size and root,
// which it computes from the entries' own bytes. It returns the integrated
// size and root (unchanged when nothing was waiting). Only the publisher,
// which holds the lease, calls it; if another integrated meanwhile, the
// transaction sees it and goes on from there.
func (s *Store) Integrate(ctx context.Context, max int) (uint64, c2sp.Hash, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, c2sp.Hash{}, err
	}
	defer tx.Rollback()
	var size uint64
	var cur []byte
	if err := tx.QueryRowContext(ctx, "SELECT size, root FROM htlog_state WHERE id = 1 FOR UPDATE").Scan(&size, &cur); err != nil {
		return 0, c2sp.Hash{}, fmt.Errorf("couldn't lock htlog_state: %w", err)
	}
	leaves, err := readEntries(ctx, tx, size, uint64(min(max, MaxIntegrate)))
	if err != nil {
		return 0, c2sp.Hash{}, err
	}
	if len(leaves) == 0 {
		return size, c2sp.Hash(cur), nil
	}
	r := &batchReader{q: tx, ctx: ctx, pending: map[int64]tlog.Hash{}}
	var hashRows []any
	for i, leaf := range leaves {
		n := int64(size) + int64(i)
		hs, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(leaf), r)
		if err != nil {
			return 0, c2sp.Hash{}, fmt.Errorf("couldn't hash leaf %d: %w", n, err)
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hs {
			r.pending[base+int64(j)] = h
			hashRows = append(hashRows, base+int64(j), h[:])
		}
	}
	newSize := size + uint64(len(leaves))
	root, err := tlog.TreeHash(int64(newSize), r)
	if err != nil {
		return 0, c2sp.Hash{}, fmt.Errorf("couldn't compute the root: %w", err)
	}
	if err := insertRows(ctx, tx, "INSERT INTO htlog_hashes (id, hash) VALUES ", "(?,?)", 2, hashRows); err != nil {
		return 0, c2sp.Hash{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE htlog_state SET size = ?, root = ? WHERE id = 1", newSize, root[:]); err != nil {
		return 0, c2sp.Hash{}, err
	}
	if err := tx.Commit(); err != nil {
		return 0, c2sp.Hash{}, fmt.Errorf("couldn't commit the integration: %w", err)
	}
	return newSize, c2sp.Hash(root), nil
}

// insertRows runs a multi-row INSERT in chunks.
func insertRows(ctx context.Context, tx *sql.Tx, query, place string, cols int, args []any) error {
	const maxRows = 500
	for len(args) > 0 {
		n := min(len(args)/cols, maxRows)
		q := query + strings.TrimSuffix(strings.Repeat(place+",", n), ",")
		if _, err := tx.ExecContext(ctx, q, args[:n*cols]...); err != nil {
			return fmt.Errorf("couldn't store integrated data: %w", err)
		}
		args = args[n*cols:]
	}
	return nil
}

func tagKey(tag string) []byte {
	h, _ := hex.DecodeString(strings.TrimPrefix(tag, "tag:v1:"))
	return h
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// batchReader is a tlog.HashReader over the database plus hashes computed
// in this batch and not yet written.
type batchReader struct {
	q       querier
	ctx     context.Context
	pending map[int64]tlog.Hash
}

func (r *batchReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for _, ix := range indexes {
		if _, ok := r.pending[ix]; !ok {
			missing = append(missing, ix)
		}
	}
	if len(missing) > 0 {
		got, err := readHashes(r.ctx, r.q, missing)
		if err != nil {
			return nil, err
		}
		for k, v := range got {
			r.pending[k] = v // cache for the rest of the batch
		}
	}
	for i, ix := range indexes {
		h, ok := r.pending[ix]
		if !ok {
			return nil, fmt.Errorf("stored hash %d is missing", ix)
		}
		out[i] = h
	}
	return out, nil
}

func readHashes(ctx context.Context, q querier, ids []int64) (map[int64]tlog.Hash, error) {
	out := make(map[int64]tlog.Hash, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, "SELECT id, hash FROM htlog_hashes WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("couldn't read stored hashes: %w", err)
		}
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return nil, err
			}
			var h tlog.Hash
			copy(h[:], b)
			out[id] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
