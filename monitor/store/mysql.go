package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS monitor_state (
		id TINYINT PRIMARY KEY,
		tree_size BIGINT UNSIGNED NOT NULL,
		hashes BLOB NOT NULL,
		checkpoint BLOB NOT NULL,
		rules LONGBLOB NOT NULL,
		rules_size BIGINT UNSIGNED NULL,
		rules_hashes BLOB NULL
	)`,
	// The rules' state, one row per table and key (RulesRow), keyed by
	// the SHA-256 of the key so that any key fits the primary key.
	`CREATE TABLE IF NOT EXISTS monitor_rules (
		tbl VARBINARY(128) NOT NULL,
		h BINARY(32) NOT NULL,
		k BLOB NOT NULL,
		v MEDIUMBLOB NOT NULL,
		PRIMARY KEY (tbl, h)
	)`,

	`CREATE TABLE IF NOT EXISTS monitor_checkpoints (
		id CHAR(64) PRIMARY KEY,
		tree_size BIGINT UNSIGNED NOT NULL,
		root BINARY(32) NOT NULL,
		note BLOB NOT NULL,
		source VARCHAR(512) NOT NULL,
		cosigners TEXT NOT NULL,
		seen DATETIME(6) NOT NULL,
		checked BOOLEAN NOT NULL DEFAULT FALSE,
		KEY by_size (tree_size)
	)`,
	`CREATE TABLE IF NOT EXISTS monitor_findings (
		seq BIGINT AUTO_INCREMENT PRIMARY KEY,
		fkey CHAR(64) NOT NULL UNIQUE,
		rule VARCHAR(64) NOT NULL,
		submitter VARCHAR(128) NOT NULL,
		recorded DATETIME(6) NOT NULL,
		body TEXT NOT NULL,
		KEY by_rule (rule),
		KEY by_time (recorded)
	)`,
	`CREATE TABLE IF NOT EXISTS monitor_promises (
		leaf_hash BINARY(32) PRIMARY KEY,
		event_id VARCHAR(128) NOT NULL,
		note BLOB NOT NULL,
		promised DATETIME(6) NOT NULL,
		deadline DATETIME(6) NOT NULL,
		idx BIGINT NOT NULL,
		status VARCHAR(16) NOT NULL,
		detail TEXT NOT NULL,
		KEY by_status (status, deadline)
	)`,
	`CREATE TABLE IF NOT EXISTS monitor_evidence (
		seq BIGINT AUTO_INCREMENT PRIMARY KEY,
		id CHAR(64) NOT NULL UNIQUE,
		bundle BLOB NOT NULL
	)`,
}

// MySQL is the Store on MySQL or MariaDB.
type MySQL struct {
	db        *sql.DB
	maxPacket int64 // the server's max_allowed_packet
}

// NewMySQL applies the schema (idempotently) and returns the store.
func NewMySQL(ctx context.Context, db *sql.DB) (*MySQL, error) {
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("couldn't create the monitor's tables: %w", err)
		}
	}
	if err := addMissingColumns(ctx, db); err != nil {
		return nil, err
	}
	if err := upgradeCheckpoints(ctx, db); err != nil {
		return nil, err
	}
	var maxPacket int64
	if err := db.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		return nil, fmt.Errorf("couldn't read max_allowed_packet: %w", err)
	}
	return &MySQL{db: db, maxPacket: maxPacket}, nil
}

// addMissingColumns upgrades a monitor_state table made before the rules'
// state was saved apart from the position (MySQL has no ADD COLUMN IF NOT
// EXISTS, so the columns are looked up first).
func addMissingColumns(ctx context.Context, db *sql.DB) error {
	for _, c := range []struct{ name, def string }{
		{"rules_size", "BIGINT UNSIGNED NULL"}, {"rules_hashes", "BLOB NULL"},
	} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = DATABASE() AND table_name = 'monitor_state' AND column_name = ?`, c.name).Scan(&n); err != nil {
			return fmt.Errorf("couldn't read monitor_state's columns: %w", err)
		}
		if n == 0 {
			if _, err := db.ExecContext(ctx, "ALTER TABLE monitor_state ADD COLUMN "+c.name+" "+c.def); err != nil {
				return fmt.Errorf("couldn't add column %s to monitor_state: %w", c.name, err)
			}
		}
	}
	// An old row's rules were saved with its position: say so before a
	// commit of the position alone moves the position on.
	if _, err := db.ExecContext(ctx, `UPDATE monitor_state SET rules_size = tree_size, rules_hashes = hashes WHERE rules_size IS NULL`); err != nil {
		return fmt.Errorf("couldn't upgrade monitor_state: %w", err)
	}
	return nil
}

// LoadState implements Store.
func (s *MySQL) LoadState(ctx context.Context) (*State, error) {
	var st State
	var hashes, rulesHashes []byte
	var rulesSize sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT tree_size, hashes, checkpoint, rules, rules_size, rules_hashes FROM monitor_state WHERE id = 1`).
		Scan(&st.Size, &hashes, &st.Checkpoint, &st.LegacyRules, &rulesSize, &rulesHashes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the monitor's state: %w", err)
	}
	if len(st.LegacyRules) == 0 {
		st.LegacyRules = nil
	}
	if st.Hashes, err = splitHashes(hashes); err != nil {
		return nil, err
	}
	if !rulesSize.Valid { // saved with the position, before rules_size existed
		st.RulesSize, st.RulesHashes = st.Size, st.Hashes
		return &st, nil
	}
	st.RulesSize = uint64(rulesSize.Int64)
	if st.RulesHashes, err = splitHashes(rulesHashes); err != nil {
		return nil, err
	}
	return &st, nil
}

// splitHashes decodes a stored compact range.
func splitHashes(b []byte) ([]c2sp.Hash, error) {
	if len(b)%c2sp.HashSize != 0 {
		return nil, errors.New("the stored compact range is corrupt")
	}
	var out []c2sp.Hash
	for i := 0; i < len(b); i += c2sp.HashSize {
		out = append(out, c2sp.Hash(b[i:i+c2sp.HashSize]))
	}
	return out, nil
}

func joinHashes(hs []c2sp.Hash) []byte {
	out := []byte{}
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

// Commit implements Store.
func (s *MySQL) Commit(ctx context.Context, st *State, fs []finding.Finding) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't begin the commit: %w", err)
	}
	defer tx.Rollback()
	hashes := joinHashes(st.Hashes)
	checkpoint := append([]byte{}, st.Checkpoint...) // no checkpoint yet: empty, not NULL
	var err2 error
	if !st.SaveRules { // the position only; a first row starts the rules empty at size 0
		_, err2 = tx.ExecContext(ctx, `INSERT INTO monitor_state (id, tree_size, hashes, checkpoint, rules, rules_size, rules_hashes)
			VALUES (1, ?, ?, ?, '', 0, '')
			ON DUPLICATE KEY UPDATE tree_size = VALUES(tree_size), hashes = VALUES(hashes), checkpoint = VALUES(checkpoint)`,
			st.Size, hashes, checkpoint)
	} else { // the rows replace a snapshot saved before them (rules = '')
		_, err2 = tx.ExecContext(ctx, `INSERT INTO monitor_state (id, tree_size, hashes, checkpoint, rules, rules_size, rules_hashes)
			VALUES (1, ?, ?, ?, '', ?, ?)
			ON DUPLICATE KEY UPDATE tree_size = VALUES(tree_size), hashes = VALUES(hashes), checkpoint = VALUES(checkpoint),
				rules = '', rules_size = VALUES(rules_size), rules_hashes = VALUES(rules_hashes)`,
			st.Size, hashes, checkpoint, st.RulesSize, joinHashes(st.RulesHashes))
		if err2 == nil {
			err2 = s.writeRules(ctx, tx, st.Rules)
		}
	}
	if err2 != nil {
		return fmt.Errorf("couldn't save the monitor's state: %w", err2)
	}
	if err := insertFindings(ctx, tx, fs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit the monitor's state: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertFindings inserts in batches of 500, ignoring recorded keys.
func insertFindings(ctx context.Context, db execer, fs []finding.Finding) error {
	for len(fs) > 0 {
		n := min(len(fs), 500)
		var q strings.Builder
		q.WriteString(`INSERT IGNORE INTO monitor_findings (fkey, rule, submitter, recorded, body) VALUES `)
		args := make([]any, 0, 5*n)
		for i, f := range fs[:n] {
			if i > 0 {
				q.WriteString(",")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			body, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("couldn't encode a finding: %w", err)
			}
			args = append(args, f.Key(), f.Rule, f.Submitter, f.Time.UTC(), body)
		}
		if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("couldn't record findings: %w", err)
		}
		fs = fs[n:]
	}
	return nil
}

// AddFindings implements Store.
func (s *MySQL) AddFindings(ctx context.Context, fs []finding.Finding) error {
	return insertFindings(ctx, s.db, fs)
}

// Findings implements Store.
func (s *MySQL) Findings(ctx context.Context, q finding.Filter) ([]finding.Finding, error) {
	query := `SELECT body FROM monitor_findings WHERE 1=1`
	var args []any
	if q.Rule != "" {
		query += ` AND rule = ?`
		args = append(args, q.Rule)
	}
	if q.Submitter != "" {
		query += ` AND submitter = ?`
		args = append(args, q.Submitter)
	}
	if !q.Since.IsZero() {
		query += ` AND recorded >= ?`
		args = append(args, q.Since.UTC())
	}
	if !q.Until.IsZero() {
		query += ` AND recorded < ?`
		args = append(args, q.Until.UTC())
	}
	query += ` ORDER BY seq DESC`
	if q.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't list findings: %w", err)
	}
	defer rows.Close()
	var out []finding.Finding
	for rows.Next() {
		var body []byte
		var f finding.Finding
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("couldn't list findings: %w", err)
		}
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, fmt.Errorf("couldn't decode a stored finding: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// CountFindings implements Store.
func (s *MySQL) CountFindings(ctx context.Context) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule, submitter, COUNT(*) FROM monitor_findings GROUP BY rule, submitter ORDER BY rule, submitter`)
	if err != nil {
		return nil, fmt.Errorf("couldn't count findings: %w", err)
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Rule, &c.Submitter, &c.N); err != nil {
			return nil, fmt.Errorf("couldn't count findings: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// AddCheckpoint implements Store. A row, once inserted, is never deleted
// (but by the upgrade in NewMySQL), so when the insert finds one the merge
// updates it under a row lock.
func (s *MySQL) AddCheckpoint(ctx context.Context, cp Checkpoint) (bool, error) {
	id := cp.ID()
	res, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO monitor_checkpoints (id, tree_size, root, note, source, cosigners, seen, checked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, cp.Size, cp.Root[:], cp.Note, cp.Source,
		strings.Join(cp.Cosigners, ","), cp.Seen.UTC(), cp.Checked)
	if err != nil {
		return false, fmt.Errorf("couldn't record a checkpoint: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	defer tx.Rollback()
	var note []byte
	var cosigners string
	if err := tx.QueryRowContext(ctx, `SELECT note, cosigners FROM monitor_checkpoints WHERE id = ? FOR UPDATE`, id).Scan(&note, &cosigners); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	merged, added := MergeNotes(note, cp.Note)
	cs := strings.Join(mergeCosigners(splitNames(cosigners), cp.Cosigners), ",")
	if !added && cs == cosigners {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE monitor_checkpoints SET note = ?, cosigners = ? WHERE id = ?`, merged, cs, id); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	return false, nil
}

func splitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// checkpointIDSQL computes Checkpoint.ID in SQL.
const checkpointIDSQL = `SHA2(CONCAT(tree_size, ' ', LOWER(HEX(root))), 256)`

// upgradeCheckpoints turns a monitor_checkpoints table made when a row was
// kept per byte-distinct note (keyed by the note's hash, so junk signature
// lines made new rows) into one row per size and root keyed by
// Checkpoint.ID: of each size and root it keeps the row first seen, with the
// union of the rows' cosigners and checked if any was, and deletes the
// others. It is one transaction, and does nothing on an upgraded table.
func upgradeCheckpoints(ctx context.Context, db *sql.DB) error {
	var old int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM monitor_checkpoints WHERE id <> `+checkpointIDSQL).Scan(&old); err != nil {
		return fmt.Errorf("couldn't read monitor_checkpoints: %w", err)
	}
	if old == 0 {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, `+checkpointIDSQL+`, cosigners, checked FROM monitor_checkpoints
		ORDER BY tree_size, root, seen, id FOR UPDATE`)
	if err != nil {
		return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
	}
	type row struct {
		id, newID string
		cosigners []string
		checked   bool
	}
	var keep []*row
	var drop []string
	for rows.Next() {
		var r row
		var cosigners string
		if err := rows.Scan(&r.id, &r.newID, &cosigners, &r.checked); err != nil {
			rows.Close()
			return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
		}
		r.cosigners = splitNames(cosigners)
		if n := len(keep); n > 0 && keep[n-1].newID == r.newID {
			k := keep[n-1]
			k.cosigners, k.checked = mergeCosigners(k.cosigners, r.cosigners), k.checked || r.checked
			drop = append(drop, r.id)
			continue
		}
		keep = append(keep, &r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
	}
	for len(drop) > 0 {
		n := min(len(drop), 500)
		args := make([]any, n)
		for i := range n {
			args[i] = drop[i]
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM monitor_checkpoints WHERE id IN (?`+strings.Repeat(", ?", n-1)+`)`, args...); err != nil {
			return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
		}
		drop = drop[n:]
	}
	for _, k := range keep {
		if _, err := tx.ExecContext(ctx, `UPDATE monitor_checkpoints SET id = ?, cosigners = ?, checked = ? WHERE id = ?`,
			k.newID, strings.Join(k.cosigners, ","), k.checked, k.id); err != nil {
			return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't upgrade monitor_checkpoints: %w", err)
	}
	return nil
}

func (s *MySQL) queryCheckpoints(ctx context.Context, where string, args ...any) ([]Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tree_size, root, note, source, cosigners, seen, checked FROM monitor_checkpoints `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var cp Checkpoint
		var root []byte
		var cosigners string
		var seen time.Time
		if err := rows.Scan(&cp.Size, &root, &cp.Note, &cp.Source, &cosigners, &seen, &cp.Checked); err != nil {
			return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
		}
		copy(cp.Root[:], root)
		cp.Seen = seen
		if cosigners != "" {
			cp.Cosigners = strings.Split(cosigners, ",")
		}
		out = append(out, cp)
	}
	return out, rows.Err()
}

// CheckpointsAtSize implements Store.
func (s *MySQL) CheckpointsAtSize(ctx context.Context, size uint64) ([]Checkpoint, error) {
	return s.queryCheckpoints(ctx, `WHERE tree_size = ?`, size)
}

// Unchecked implements Store.
func (s *MySQL) Unchecked(ctx context.Context, maxSize uint64) ([]Checkpoint, error) {
	return s.queryCheckpoints(ctx, `WHERE NOT checked AND tree_size <= ? ORDER BY tree_size`, maxSize)
}

// MarkChecked implements Store.
func (s *MySQL) MarkChecked(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE monitor_checkpoints SET checked = TRUE WHERE id = ?`, id); err != nil {
		return fmt.Errorf("couldn't mark a checkpoint checked: %w", err)
	}
	return nil
}

// RecentCheckpoints implements Store.
func (s *MySQL) RecentCheckpoints(ctx context.Context, limit int) ([]Checkpoint, error) {
	return s.queryCheckpoints(ctx, fmt.Sprintf(`ORDER BY tree_size DESC, seen DESC LIMIT %d`, limit))
}

// AddEvidence implements Store.
func (s *MySQL) AddEvidence(ctx context.Context, id string, bundle []byte) error {
	if _, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO monitor_evidence (id, bundle) VALUES (?, ?)`, id, bundle); err != nil {
		return fmt.Errorf("couldn't record evidence: %w", err)
	}
	return nil
}

// Evidence implements Store.
func (s *MySQL) Evidence(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT bundle FROM monitor_evidence WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read evidence: %w", err)
	}
	return b, nil
}

// EvidenceIDs implements Store.
func (s *MySQL) EvidenceIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM monitor_evidence ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("couldn't list evidence: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// SeenBy implements Store.
func (s *MySQL) SeenBy(ctx context.Context, t time.Time) (uint64, bool, error) {
	var size sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT MAX(tree_size) FROM monitor_checkpoints WHERE seen <= ?", t.UTC()).Scan(&size); err != nil {
		return 0, false, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	return uint64(size.Int64), size.Valid, nil
}

// AddPromise implements Store.
func (s *MySQL) AddPromise(ctx context.Context, p Promise) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO monitor_promises (leaf_hash, event_id, note, promised, deadline, idx, status, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.LeafHash[:], p.EventID, p.Note, p.Timestamp.UTC(), p.Deadline.UTC(), p.Index, p.Status, p.Detail)
	if err != nil {
		return false, fmt.Errorf("couldn't record a promise: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const promiseColumns = "leaf_hash, event_id, note, promised, deadline, idx, status, detail"

func scanPromise(row interface{ Scan(...any) error }) (Promise, error) {
	var p Promise
	var leaf []byte
	if err := row.Scan(&leaf, &p.EventID, &p.Note, &p.Timestamp, &p.Deadline, &p.Index, &p.Status, &p.Detail); err != nil {
		return p, err
	}
	copy(p.LeafHash[:], leaf)
	p.Timestamp, p.Deadline = p.Timestamp.UTC(), p.Deadline.UTC()
	return p, nil
}

// Promise implements Store.
func (s *MySQL) Promise(ctx context.Context, leaf c2sp.Hash) (Promise, error) {
	p, err := scanPromise(s.db.QueryRowContext(ctx, "SELECT "+promiseColumns+" FROM monitor_promises WHERE leaf_hash = ?", leaf[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("couldn't read a promise: %w", err)
	}
	return p, nil
}

// PendingPromises implements Store.
func (s *MySQL) PendingPromises(ctx context.Context) ([]Promise, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+promiseColumns+" FROM monitor_promises WHERE status = ? ORDER BY deadline", PromisePending)
	if err != nil {
		return nil, fmt.Errorf("couldn't read promises: %w", err)
	}
	defer rows.Close()
	var out []Promise
	for rows.Next() {
		p, err := scanPromise(rows)
		if err != nil {
			return nil, fmt.Errorf("couldn't read promises: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ResolvePromise implements Store.
func (s *MySQL) ResolvePromise(ctx context.Context, p Promise, fs []finding.Finding) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE monitor_promises SET idx = ?, status = ?, detail = ? WHERE leaf_hash = ?", p.Index, p.Status, p.Detail, p.LeafHash[:]); err != nil {
		return fmt.Errorf("couldn't update a promise: %w", err)
	}
	if err := insertFindings(ctx, tx, fs); err != nil {
		return err
	}
	return tx.Commit()
}

// rulesBatch bounds the bytes of one statement writing rules' rows.
const rulesBatch = 4 << 20

// writeRules applies rows in tx: upserts in multi-row statements of at most
// rulesBatch bytes (and half the server's max_allowed_packet), deletes by
// table.
func (s *MySQL) writeRules(ctx context.Context, tx *sql.Tx, rows []RulesRow) error {
	limit := min(int64(rulesBatch), s.maxPacket/2)
	var q strings.Builder
	var args []any
	size := int64(0)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, q.String()+` ON DUPLICATE KEY UPDATE k = VALUES(k), v = VALUES(v)`, args...)
		q.Reset()
		args, size = args[:0], 0
		if err != nil {
			return fmt.Errorf("couldn't write the rules' state: %w", err)
		}
		return nil
	}
	deletes := map[string][]any{}
	for _, r := range rows {
		h := sha256.Sum256([]byte(r.Key))
		if r.Value == nil {
			deletes[r.Table] = append(deletes[r.Table], h[:])
			continue
		}
		n := int64(len(r.Table) + len(r.Key) + len(r.Value) + 64)
		if n+1024 > s.maxPacket {
			return fmt.Errorf("a row of the monitor's rules' state is %d bytes, over the database's max_allowed_packet of %d: raise it on the server (max_allowed_packet = 64M in its configuration, or SET GLOBAL max_allowed_packet = 67108864)", n, s.maxPacket)
		}
		if size+n > limit || len(args) >= 4*1000 {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(args) == 0 {
			q.WriteString(`INSERT INTO monitor_rules (tbl, h, k, v) VALUES (?, ?, ?, ?)`)
		} else {
			q.WriteString(`, (?, ?, ?, ?)`)
		}
		args = append(args, r.Table, h[:], []byte(r.Key), r.Value)
		size += n
	}
	if err := flush(); err != nil {
		return err
	}
	for _, table := range slices.Sorted(maps.Keys(deletes)) {
		hs := deletes[table]
		for len(hs) > 0 {
			n := min(len(hs), 1000)
			_, err := tx.ExecContext(ctx, `DELETE FROM monitor_rules WHERE tbl = ? AND h IN (?`+strings.Repeat(", ?", n-1)+`)`,
				append([]any{table}, hs[:n]...)...)
			if err != nil {
				return fmt.Errorf("couldn't delete from the rules' state: %w", err)
			}
			hs = hs[n:]
		}
	}
	return nil
}

// LoadRules implements Store. The rows are streamed, not read at once.
func (s *MySQL) LoadRules(ctx context.Context, f func(RulesRow) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT tbl, k, v FROM monitor_rules`)
	if err != nil {
		return fmt.Errorf("couldn't read the rules' state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, key []byte
		var r RulesRow
		if err := rows.Scan(&table, &key, &r.Value); err != nil {
			return fmt.Errorf("couldn't read the rules' state: %w", err)
		}
		r.Table, r.Key = string(table), string(key)
		if err := f(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couldn't read the rules' state: %w", err)
	}
	return nil
}
