package witness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/splitview"
)

// MySQLStore is the Store on MySQL/MariaDB (InnoDB: every Swap is a committed
// single-row conditional UPDATE or INSERT).
type MySQLStore struct {
	db *sql.DB
}

var mysqlSchema = []string{
	`CREATE TABLE IF NOT EXISTS witness_state (
		origin VARCHAR(255) NOT NULL PRIMARY KEY,
		size BIGINT UNSIGNED NOT NULL,
		root VARBINARY(32) NOT NULL,
		note MEDIUMBLOB NOT NULL,
		updated_at TIMESTAMP(6) NOT NULL
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS witness_evidence (
		id CHAR(64) NOT NULL PRIMARY KEY,
		origin VARCHAR(255) NOT NULL,
		source VARCHAR(255) NOT NULL,
		bundle MEDIUMBLOB NOT NULL,
		created_at TIMESTAMP(6) NOT NULL
	) ENGINE=InnoDB`,
}

// NewMySQLStore creates the witness's tables if needed and returns the store.
func NewMySQLStore(ctx context.Context, db *sql.DB) (*MySQLStore, error) {
	for _, stmt := range mysqlSchema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("couldn't create the witness tables: %w", err)
		}
	}
	return &MySQLStore{db: db}, nil
}

// Latest implements Store.
func (s *MySQLStore) Latest(ctx context.Context, origin string) (State, error) {
	var st State
	var root []byte
	err := s.db.QueryRowContext(ctx, "SELECT size, root, note, updated_at FROM witness_state WHERE origin = ?", origin).
		Scan(&st.Size, &root, &st.Note, &st.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return st, ErrNoState
	}
	if err != nil {
		return st, fmt.Errorf("couldn't read witness state for %q: %w", origin, err)
	}
	copy(st.Root[:], root)
	return st, nil
}

// Swap implements Store.
func (s *MySQLStore) Swap(ctx context.Context, origin string, oldSize uint64, oldRoot c2sp.Hash, next State) error {
	now := next.UpdatedAt
	if now.IsZero() {
		now = time.Now()
	}
	res, err := s.db.ExecContext(ctx,
		"UPDATE witness_state SET size = ?, root = ?, note = ?, updated_at = ? WHERE origin = ? AND size = ? AND root = ?",
		next.Size, next.Root[:], next.Note, now.UTC(), origin, oldSize, oldRoot[:])
	if err != nil {
		return fmt.Errorf("couldn't update witness state for %q: %w", origin, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if oldSize != 0 || oldRoot != c2sp.EmptyRoot() {
		return ErrConflict
	}
	res, err = s.db.ExecContext(ctx,
		"INSERT IGNORE INTO witness_state (origin, size, root, note, updated_at) VALUES (?, ?, ?, ?, ?)",
		origin, next.Size, next.Root[:], next.Note, now.UTC())
	if err != nil {
		return fmt.Errorf("couldn't insert witness state for %q: %w", origin, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	return ErrConflict
}

// AddEvidence implements Store.
func (s *MySQLStore) AddEvidence(ctx context.Context, origin, source string, e *splitview.Evidence) (string, error) {
	id := e.ID()
	_, err := s.db.ExecContext(ctx,
		"INSERT IGNORE INTO witness_evidence (id, origin, source, bundle, created_at) VALUES (?, ?, ?, ?, ?)",
		id, origin, truncateString(source, 255), e.Marshal(), time.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("couldn't store evidence: %w", err)
	}
	return id, nil
}

// Evidence implements Store.
func (s *MySQLStore) Evidence(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, "SELECT bundle FROM witness_evidence WHERE id = ?", id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoEvidence
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read evidence: %w", err)
	}
	return b, nil
}

// ListEvidence implements Store.
func (s *MySQLStore) ListEvidence(ctx context.Context) ([]EvidenceInfo, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, origin, source, created_at FROM witness_evidence ORDER BY created_at DESC LIMIT 1000")
	if err != nil {
		return nil, fmt.Errorf("couldn't list evidence: %w", err)
	}
	defer rows.Close()
	out := []EvidenceInfo{}
	for rows.Next() {
		var e EvidenceInfo
		if err := rows.Scan(&e.ID, &e.Origin, &e.Source, &e.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Origins implements Store.
func (s *MySQLStore) Origins(ctx context.Context) (map[string]State, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT origin, size, root, note, updated_at FROM witness_state")
	if err != nil {
		return nil, fmt.Errorf("couldn't list witness state: %w", err)
	}
	defer rows.Close()
	out := map[string]State{}
	for rows.Next() {
		var origin string
		var st State
		var root []byte
		if err := rows.Scan(&origin, &st.Size, &root, &st.Note, &st.UpdatedAt); err != nil {
			return nil, err
		}
		copy(st.Root[:], root)
		out[origin] = st
	}
	return out, rows.Err()
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
