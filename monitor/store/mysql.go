package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
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
	// The triage history of findings: one row per change of state.
	`CREATE TABLE IF NOT EXISTS monitor_finding_history (
		seq BIGINT AUTO_INCREMENT PRIMARY KEY,
		fkey CHAR(64) NOT NULL,
		at DATETIME(6) NOT NULL,
		who VARCHAR(128) NOT NULL,
		from_state VARCHAR(16) NOT NULL,
		to_state VARCHAR(16) NOT NULL,
		note TEXT NOT NULL,
		KEY by_finding (fkey, seq)
	)`,
	// The rules' verdicts (finding.Verdict), one row per entry that has
	// one: the event id's SHA-256 digest, the kind, the consent's index
	// and time.
	`CREATE TABLE IF NOT EXISTS monitor_verdicts (
		idx BIGINT UNSIGNED PRIMARY KEY,
		eid BINARY(32) NOT NULL,
		kind TINYINT UNSIGNED NOT NULL,
		consent_idx BIGINT NOT NULL,
		consent_at DATETIME(6) NULL
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

// addMissingColumns upgrades tables made by earlier versions (MySQL has no
// ADD COLUMN IF NOT EXISTS, so the columns are looked up first): a
// monitor_state table made before the rules' state was saved apart from the
// position, a monitor_findings table made before findings had an index,
// severity, event time and triage state as columns (filled in from each
// row's JSON), a monitor_checkpoints table made before it kept every source.
func addMissingColumns(ctx context.Context, db *sql.DB) error {
	for _, c := range []struct{ table, name, def, fill string }{
		{"monitor_state", "rules_size", "BIGINT UNSIGNED NULL", ""},
		{"monitor_state", "rules_hashes", "BLOB NULL", ""},
		{"monitor_findings", "idx", "BIGINT NOT NULL DEFAULT -1, ADD KEY by_idx (idx)",
			`UPDATE monitor_findings SET idx = CAST(JSON_VALUE(body, '$.index') AS SIGNED)`},
		{"monitor_findings", "severity", "VARCHAR(16) NOT NULL DEFAULT ''",
			`UPDATE monitor_findings SET severity = COALESCE(JSON_VALUE(body, '$.severity'), '')`},
		{"monitor_findings", "event_time", "DATETIME(6) NULL, ADD KEY by_event (event_time)", ""},
		{"monitor_findings", "state", "VARCHAR(16) NOT NULL DEFAULT 'open'", ""},
		{"monitor_checkpoints", "sources", "TEXT NULL", `UPDATE monitor_checkpoints SET sources = source`},
	} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?`, c.table, c.name).Scan(&n); err != nil {
			return fmt.Errorf("couldn't read %s's columns: %w", c.table, err)
		}
		if n == 0 {
			if _, err := db.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.name+" "+c.def); err != nil {
				return fmt.Errorf("couldn't add column %s to %s: %w", c.name, c.table, err)
			}
			if c.fill != "" {
				if _, err := db.ExecContext(ctx, c.fill); err != nil {
					return fmt.Errorf("couldn't fill in column %s of %s: %w", c.name, c.table, err)
				}
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
	if err := writeVerdicts(ctx, tx, st.Verdicts); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit the monitor's state: %w", err)
	}
	return nil
}

// writeVerdicts upserts verdicts in batches of 1000, in order.
func writeVerdicts(ctx context.Context, db execer, vs []finding.Verdict) error {
	for len(vs) > 0 {
		n := min(len(vs), 1000)
		args := make([]any, 0, 5*n)
		for _, v := range vs[:n] {
			eid, err := hex.DecodeString(strings.TrimPrefix(v.EventID, "sha256:"))
			if err != nil || len(eid) != sha256.Size {
				return fmt.Errorf("couldn't record the verdict of entry %d: event id %q is not sha256:<64 hex digits>", v.Index, v.EventID)
			}
			var at any
			if !v.ConsentAt.IsZero() {
				at = v.ConsentAt.UTC()
			}
			args = append(args, v.Index, eid, uint8(v.Kind), v.ConsentIndex, at)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO monitor_verdicts (idx, eid, kind, consent_idx, consent_at) VALUES (?, ?, ?, ?, ?)`+
			strings.Repeat(", (?, ?, ?, ?, ?)", n-1)+
			` ON DUPLICATE KEY UPDATE eid = VALUES(eid), kind = VALUES(kind), consent_idx = VALUES(consent_idx), consent_at = VALUES(consent_at)`, args...)
		if err != nil {
			return fmt.Errorf("couldn't record verdicts: %w", err)
		}
		vs = vs[n:]
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
		q.WriteString(`INSERT IGNORE INTO monitor_findings (fkey, rule, submitter, recorded, body, idx, severity, event_time) VALUES `)
		args := make([]any, 0, 8*n)
		for i, f := range fs[:n] {
			if i > 0 {
				q.WriteString(",")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			f.ID, f.State = "", ""
			body, err := json.Marshal(f)
			if err != nil {
				return fmt.Errorf("couldn't encode a finding: %w", err)
			}
			var at any
			if !f.EventTime.IsZero() {
				at = f.EventTime.UTC()
			}
			args = append(args, f.Key(), f.Rule, f.Submitter, f.Time.UTC(), body, f.Index, string(f.Severity), at)
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
	query := `SELECT body, state FROM monitor_findings WHERE 1=1`
	var args []any
	if q.Severity != "" {
		query += ` AND severity = ?`
		args = append(args, string(q.Severity))
	}
	if q.State != "" {
		query += ` AND state = ?`
		args = append(args, string(q.State))
	}
	if !q.EventSince.IsZero() || !q.EventUntil.IsZero() {
		query += ` AND event_time IS NOT NULL`
	}
	if !q.EventSince.IsZero() {
		query += ` AND event_time >= ?`
		args = append(args, q.EventSince.UTC())
	}
	if !q.EventUntil.IsZero() {
		query += ` AND event_time < ?`
		args = append(args, q.EventUntil.UTC())
	}
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
	} else if q.Offset > 0 {
		query += ` LIMIT 18446744073709551615`
	}
	if q.Offset > 0 {
		query += fmt.Sprintf(` OFFSET %d`, q.Offset)
	}
	return s.queryFindings(ctx, query, args...)
}

// queryFindings runs a query selecting body and state.
func (s *MySQL) queryFindings(ctx context.Context, query string, args ...any) ([]finding.Finding, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't list findings: %w", err)
	}
	defer rows.Close()
	var out []finding.Finding
	for rows.Next() {
		var body []byte
		var state string
		var f finding.Finding
		if err := rows.Scan(&body, &state); err != nil {
			return nil, fmt.Errorf("couldn't list findings: %w", err)
		}
		if err := json.Unmarshal(body, &f); err != nil {
			return nil, fmt.Errorf("couldn't decode a stored finding: %w", err)
		}
		out = append(out, withState(f, finding.State(state)))
	}
	return out, rows.Err()
}

// Finding implements Store.
func (s *MySQL) Finding(ctx context.Context, id string) (finding.Finding, error) {
	fs, err := s.queryFindings(ctx, `SELECT body, state FROM monitor_findings WHERE fkey = ?`, id)
	if err != nil {
		return finding.Finding{}, err
	}
	if len(fs) == 0 {
		return finding.Finding{}, ErrNotFound
	}
	return fs[0], nil
}

// FindingsAt implements Store.
func (s *MySQL) FindingsAt(ctx context.Context, indexes []uint64) ([]finding.Finding, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	return s.queryFindings(ctx, `SELECT body, state FROM monitor_findings WHERE idx IN (?`+
		strings.Repeat(", ?", len(indexes)-1)+`) ORDER BY seq`, args...)
}

// Verdicts implements Store.
func (s *MySQL) Verdicts(ctx context.Context, indexes []uint64) (map[uint64]finding.Verdict, error) {
	out := map[uint64]finding.Verdict{}
	if len(indexes) == 0 {
		return out, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	rows, err := s.db.QueryContext(ctx, `SELECT idx, eid, kind, consent_idx, consent_at FROM monitor_verdicts WHERE idx IN (?`+
		strings.Repeat(", ?", len(indexes)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't read verdicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v finding.Verdict
		var eid []byte
		var at sql.NullTime
		if err := rows.Scan(&v.Index, &eid, &v.Kind, &v.ConsentIndex, &at); err != nil {
			return nil, fmt.Errorf("couldn't read verdicts: %w", err)
		}
		v.EventID = "sha256:" + hex.EncodeToString(eid)
		if at.Valid {
			v.ConsentAt = at.Time.UTC()
		}
		out[v.Index] = v
	}
	return out, rows.Err()
}

// Triage implements Store: a compare-and-swap of the state and an insert
// into the history, in one transaction.
func (s *MySQL) Triage(ctx context.Context, t finding.Transition) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't begin a triage: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE monitor_findings SET state = ? WHERE fkey = ? AND state = ?`, string(t.To), t.ID, string(t.From))
	if err != nil {
		return fmt.Errorf("couldn't change a finding's state: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("couldn't change a finding's state: %w", err)
	} else if n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM monitor_findings WHERE fkey = ?`, t.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("couldn't read a finding: %w", err)
		}
		return ErrConflict
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO monitor_finding_history (fkey, at, who, from_state, to_state, note) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, t.At.UTC(), t.Who, string(t.From), string(t.To), t.Note); err != nil {
		return fmt.Errorf("couldn't record a finding's history: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit a triage: %w", err)
	}
	return nil
}

// History implements Store.
func (s *MySQL) History(ctx context.Context, id string) ([]finding.Transition, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, who, from_state, to_state, note FROM monitor_finding_history WHERE fkey = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("couldn't read a finding's history: %w", err)
	}
	defer rows.Close()
	var out []finding.Transition
	for rows.Next() {
		t := finding.Transition{ID: id}
		var from, to string
		if err := rows.Scan(&t.At, &t.Who, &from, &to, &t.Note); err != nil {
			return nil, fmt.Errorf("couldn't read a finding's history: %w", err)
		}
		t.At, t.From, t.To = t.At.UTC(), finding.State(from), finding.State(to)
		out = append(out, t)
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
	res, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO monitor_checkpoints (id, tree_size, root, note, source, sources, cosigners, seen, checked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, cp.Size, cp.Root[:], cp.Note, cp.Source, cp.Source,
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
	var sources sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT note, cosigners, sources FROM monitor_checkpoints WHERE id = ? FOR UPDATE`, id).Scan(&note, &cosigners, &sources); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	merged, added := MergeNotes(note, cp.Note)
	cs := strings.Join(mergeCosigners(splitNames(cosigners), cp.Cosigners), ",")
	src := strings.Join(mergeCosigners(splitSources(sources.String), []string{cp.Source}), "\n")
	if !added && cs == cosigners && src == sources.String {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE monitor_checkpoints SET note = ?, cosigners = ?, sources = ? WHERE id = ?`, merged, cs, src, id); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("couldn't merge a checkpoint: %w", err)
	}
	return false, nil
}

// splitSources splits the sources column (one a line).
func splitSources(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
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
	rows, err := s.db.QueryContext(ctx, `SELECT tree_size, root, note, source, sources, cosigners, seen, checked FROM monitor_checkpoints `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var cp Checkpoint
		var root []byte
		var cosigners string
		var sources sql.NullString
		var seen time.Time
		if err := rows.Scan(&cp.Size, &root, &cp.Note, &cp.Source, &sources, &cosigners, &seen, &cp.Checked); err != nil {
			return nil, fmt.Errorf("couldn't read checkpoints: %w", err)
		}
		copy(cp.Root[:], root)
		cp.Seen = seen
		cp.Sources = splitSources(sources.String)
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
