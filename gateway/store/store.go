// Package store is htlog-gateway's durable state in MariaDB (a database of
// its own): the tag key of every patient and package, every accepted item
// (its signed envelope, fixed at acceptance, and where it is on its way to
// the log: pending, submitted with the log's promise, logged with its
// tlog-proof, or refused with the log's reason), the openings of the
// commitments it made, the checkpoints its receipts share (each stored once)
// and the outbox's cursor in the log.
//
// Durability: every method that changes state returns after its
// transaction committed (InnoDB, innodb_flush_log_at_trx_commit=1), so the
// server answers 201/202 only for what survives a crash, and the outbox
// resubmits the same envelope (the same event id) after one.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/sqlschema"
)

// States of an item.
const (
	Pending   = 0 // accepted, not yet acknowledged by the log
	Submitted = 1 // the log answered with a promise (or a receipt)
	Logged    = 2 // the tlog-proof is stored
	Refused   = 3 // the log refused it (4xx); Reason says why
)

// StateName returns the name of a state.
func StateName(s int) string {
	switch s {
	case Pending:
		return "pending"
	case Submitted:
		return "submitted"
	case Logged:
		return "logged"
	case Refused:
		return "refused"
	}
	return "unknown"
}

const schema = `
CREATE TABLE IF NOT EXISTS gw_patients (
  ref_hash BINARY(32) NOT NULL PRIMARY KEY,
  ref VARBINARY(512) NOT NULL,
  tag_key BINARY(32) NOT NULL,
  created_at DATETIME(3) NOT NULL
);
CREATE TABLE IF NOT EXISTS gw_packages (
  gtin CHAR(14) NOT NULL,
  serial VARBINARY(40) NOT NULL,
  tag_key BINARY(32) NOT NULL,
  lot VARCHAR(20) NULL,
  expiry CHAR(10) NULL,
  PRIMARY KEY (gtin, serial)
);
CREATE TABLE IF NOT EXISTS gw_items (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id CHAR(71) NOT NULL,
  input_hash BINARY(32) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  source VARBINARY(300) NOT NULL,
  subject MEDIUMBLOB NOT NULL,
  envelope MEDIUMBLOB NOT NULL,
  state TINYINT NOT NULL,
  promise BLOB NULL,
  proof MEDIUMBLOB NULL,
  checkpoint_id BIGINT NULL,
  leaf_index BIGINT NULL,
  reason VARCHAR(300) NULL,
  attempts INT NOT NULL DEFAULT 0,
  accepted_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY (event_id),
  UNIQUE KEY (input_hash),
  KEY (state, seq),
  KEY (source)
);
CREATE TABLE IF NOT EXISTS gw_checkpoints (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  digest BINARY(32) NOT NULL,
  text BLOB NOT NULL,
  UNIQUE KEY (digest)
);
CREATE TABLE IF NOT EXISTS gw_cursors (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  at BIGINT UNSIGNED NOT NULL
);
CREATE TABLE IF NOT EXISTS gw_openings (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_id CHAR(71) NOT NULL,
  patient_hash BINARY(32) NULL,
  commitment CHAR(74) NOT NULL,
  value BLOB NOT NULL,
  opening BINARY(32) NOT NULL,
  KEY (patient_hash),
  KEY (event_id)
);
`

// Store is the gateway's state. It is safe for concurrent use.
type Store struct {
	db       *sql.DB
	patients sync.Map // ref -> []byte
	packages sync.Map // gtin.serial -> []byte
	accepts  chan *acceptReq

	checkpointsMu sync.Mutex
	checkpoints   map[[32]byte]int64 // checkpoint digest -> gw_checkpoints.id
}

// Open creates the tables if they are missing and returns the Store.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := sqlschema.Apply(ctx, db, schema); err != nil {
		return nil, fmt.Errorf("couldn't create the gateway's tables: %w", err)
	}
	// Tables made before receipts shared their checkpoints lack the column.
	if err := addColumn(ctx, db, "gw_items", "checkpoint_id", "BIGINT NULL AFTER proof"); err != nil {
		return nil, err
	}
	s := &Store{db: db, accepts: make(chan *acceptReq, 1024), checkpoints: map[[32]byte]int64{}}
	go s.acceptLoop()
	return s, nil
}

// addColumn adds a column to a table of this database if it is missing (in
// SQL that MariaDB and MySQL both take).
func addColumn(ctx context.Context, db *sql.DB, table, column, def string) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
		table, column).Scan(&n); err != nil {
		return fmt.Errorf("couldn't read the columns of %s: %w", table, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+table+" ADD COLUMN "+column+" "+def); err != nil {
		return fmt.Errorf("couldn't add %s.%s: %w", table, column, err)
	}
	return nil
}

func refHash(ref string) []byte {
	h := sha256.Sum256([]byte(ref))
	return h[:]
}

// PatientKey returns the patient's tag key, creating it durably on first use.
func (s *Store) PatientKey(ctx context.Context, ref string) ([]byte, error) {
	if k, ok := s.patients.Load(ref); ok {
		return k.([]byte), nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO gw_patients (ref_hash, ref, tag_key, created_at) VALUES (?, ?, ?, ?)",
		refHash(ref), ref, key, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("couldn't store a patient key: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT tag_key FROM gw_patients WHERE ref_hash = ?", refHash(ref)).Scan(&key); err != nil {
		return nil, fmt.Errorf("couldn't read a patient key: %w", err)
	}
	s.patients.Store(ref, key)
	return key, nil
}

// ExistingPatientKey returns the patient's key, ok false if it has none.
func (s *Store) ExistingPatientKey(ctx context.Context, ref string) (key []byte, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT tag_key FROM gw_patients WHERE ref_hash = ?", refHash(ref)).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("couldn't read a patient key: %w", err)
	}
	return key, true, nil
}

// PackageKey returns the package's tag key, creating it durably on first use.
func (s *Store) PackageKey(ctx context.Context, gtin, serial string) ([]byte, error) {
	id := gtin + "." + serial
	if k, ok := s.packages.Load(id); ok {
		return k.([]byte), nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO gw_packages (gtin, serial, tag_key) VALUES (?, ?, ?)", gtin, serial, key); err != nil {
		return nil, fmt.Errorf("couldn't store a package key: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT tag_key FROM gw_packages WHERE gtin = ? AND serial = ?", gtin, serial).Scan(&key); err != nil {
		return nil, fmt.Errorf("couldn't read a package key: %w", err)
	}
	s.packages.Store(id, key)
	return key, nil
}

// Package returns a package's lot and expiry.
func (s *Store) Package(ctx context.Context, gtin, serial string) (lot, expiry string, ok bool, err error) {
	var l, e sql.NullString
	err = s.db.QueryRowContext(ctx, "SELECT lot, expiry FROM gw_packages WHERE gtin = ? AND serial = ?", gtin, serial).Scan(&l, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("couldn't read a package: %w", err)
	}
	return l.String, e.String, l.Valid && e.Valid, nil
}

// SetPackage records a package's lot and expiry, creating its key if needed.
func (s *Store) SetPackage(ctx context.Context, gtin, serial, lot, expiry string) error {
	if _, err := s.PackageKey(ctx, gtin, serial); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE gw_packages SET lot = ?, expiry = ? WHERE gtin = ? AND serial = ?", lot, expiry, gtin, serial); err != nil {
		return fmt.Errorf("couldn't record a package's lot: %w", err)
	}
	return nil
}

// ImportPackage stores a package key a trading partner handed over (with
// its lot and expiry); it fails if the package has another key already.
func (s *Store) ImportPackage(ctx context.Context, gtin, serial string, key []byte, lot, expiry string) error {
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO gw_packages (gtin, serial, tag_key, lot, expiry) VALUES (?, ?, ?, ?, ?)", gtin, serial, key, lot, expiry); err != nil {
		return fmt.Errorf("couldn't store a package key: %w", err)
	}
	var have []byte
	if err := s.db.QueryRowContext(ctx, "SELECT tag_key FROM gw_packages WHERE gtin = ? AND serial = ?", gtin, serial).Scan(&have); err != nil {
		return fmt.Errorf("couldn't read a package key: %w", err)
	}
	if string(have) != string(key) {
		return ErrKeyConflict
	}
	return s.SetPackage(ctx, gtin, serial, lot, expiry)
}

// ErrKeyConflict is returned by ImportPackage for a package that already
// has another key.
var ErrKeyConflict = errors.New("the package already has another key")

// EventOf returns the event id of the last item accepted from source.
func (s *Store) EventOf(ctx context.Context, source string) (string, bool, error) {
	var id string
	err := s.db.QueryRowContext(ctx, "SELECT event_id FROM gw_items WHERE source = ? AND state <> ? ORDER BY seq DESC LIMIT 1", source, Refused).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("couldn't look up an item: %w", err)
	}
	return id, true, nil
}

// Accepted is one signed item to store.
type Accepted struct {
	// InputHash identifies the input the item came from (SHA-256 of the
	// resource or EPCIS event): the same input accepted again is the same
	// item.
	InputHash []byte
	EventID   string
	Kind      string
	Source    string
	Subject   string
	Envelope  []byte
	Openings  []mapping.Opening
	// Lots are recorded with the item (a commissioning event's ILMD).
	Lots []mapping.PackageLot
}

// Status is where an item is.
type Status struct {
	Seq      int64
	EventID  string
	Kind     string
	Source   string
	State    int
	Promise  []byte
	Proof    []byte
	Index    *int64
	Reason   string
	Envelope []byte
	Accepted time.Time
	Updated  time.Time
}

// Work is an item for the outbox.
type Work struct {
	Seq      int64
	EventID  string
	Subject  string
	Envelope []byte
	Attempts int
}

// Next returns up to limit items in state accepted after the item afterSeq
// (0: from the first), oldest first.
func (s *Store) Next(ctx context.Context, state int, afterSeq int64, limit int) ([]Work, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT seq, event_id, subject, envelope, attempts FROM gw_items WHERE state = ? AND seq > ? ORDER BY seq LIMIT ?", state, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the outbox: %w", err)
	}
	defer rows.Close()
	var out []Work
	for rows.Next() {
		var w Work
		if err := rows.Scan(&w.Seq, &w.EventID, &w.Subject, &w.Envelope, &w.Attempts); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// MarkRefused records that the log refused an item, and why.
func (s *Store) MarkRefused(ctx context.Context, eventID, reason string) error {
	if len(reason) > 300 {
		reason = reason[:300]
	}
	return s.exec(ctx, "UPDATE gw_items SET state = ?, reason = ?, updated_at = ? WHERE event_id = ? AND state IN (?, ?)",
		Refused, reason, time.Now().UTC(), eventID, Pending, Submitted)
}

// CountAttempt counts one failed attempt at an item.
func (s *Store) CountAttempt(ctx context.Context, eventID string) error {
	return s.exec(ctx, "UPDATE gw_items SET attempts = attempts + 1 WHERE event_id = ?", eventID)
}

// exec runs one statement, again if InnoDB chose it as a deadlock's
// victim or it waited too long for a lock (the outbox's two loops update
// overlapping items: a receipt can be found before the promise is stored).
func (s *Store) exec(ctx context.Context, q string, args ...any) error {
	var err error
	for attempt := range 5 {
		if _, err = s.db.ExecContext(ctx, q, args...); err == nil || !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("couldn't update an item: %w", err)
	}
	return nil
}

// retryable reports a deadlock (1213) or a lock wait timeout (1205), after
// which InnoDB has rolled the statement back.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// statusCols are an item's columns; its receipt is its proof and the
// checkpoint stored once for all the receipts that share it.
const statusCols = "i.seq, i.event_id, i.kind, i.source, i.state, i.promise, CONCAT(i.proof, COALESCE(c.text, '')), i.leaf_index, i.reason, i.envelope, i.accepted_at, i.updated_at"

const statusFrom = " FROM gw_items i LEFT JOIN gw_checkpoints c ON c.id = i.checkpoint_id"

func scanStatus(sc interface{ Scan(...any) error }) (*Status, error) {
	var st Status
	var reason sql.NullString
	var idx sql.NullInt64
	if err := sc.Scan(&st.Seq, &st.EventID, &st.Kind, &st.Source, &st.State, &st.Promise, &st.Proof, &idx, &reason, &st.Envelope, &st.Accepted, &st.Updated); err != nil {
		return nil, err
	}
	st.Reason = reason.String
	if idx.Valid {
		st.Index = &idx.Int64
	}
	return &st, nil
}

// StatusOf returns an item by event id, nil if there is none.
func (s *Store) StatusOf(ctx context.Context, eventID string) (*Status, error) {
	st, err := scanStatus(s.db.QueryRowContext(ctx, "SELECT "+statusCols+statusFrom+" WHERE i.event_id = ?", eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read an item: %w", err)
	}
	return st, nil
}

// StatusBySource returns the items accepted from source, oldest first.
func (s *Store) StatusBySource(ctx context.Context, source string) ([]*Status, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+statusCols+statusFrom+" WHERE i.source = ? ORDER BY i.seq LIMIT 100", source)
	if err != nil {
		return nil, fmt.Errorf("couldn't read items: %w", err)
	}
	defer rows.Close()
	var out []*Status
	for rows.Next() {
		st, err := scanStatus(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// PatientOpenings returns the openings of the commitments made for a
// patient, oldest first.
func (s *Store) PatientOpenings(ctx context.Context, ref string) ([]mapping.Opening, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT commitment, value, opening FROM gw_openings WHERE patient_hash = ? ORDER BY id", refHash(ref))
	if err != nil {
		return nil, fmt.Errorf("couldn't read openings: %w", err)
	}
	defer rows.Close()
	var out []mapping.Opening
	for rows.Next() {
		o := mapping.Opening{Patient: ref}
		if err := rows.Scan(&o.Commitment, &o.Value, &o.Opening); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Cursor returns the position stored under name; ok is false if none is.
func (s *Store) Cursor(ctx context.Context, name string) (at uint64, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT at FROM gw_cursors WHERE name = ?", name).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("couldn't read cursor %s: %w", name, err)
	}
	return at, true, nil
}

// SetCursor stores a position under name.
func (s *Store) SetCursor(ctx context.Context, name string, at uint64) error {
	if _, err := s.db.ExecContext(ctx, "INSERT INTO gw_cursors (name, at) VALUES (?, ?) ON DUPLICATE KEY UPDATE at = VALUES(at)", name, at); err != nil {
		return fmt.Errorf("couldn't store cursor %s: %w", name, err)
	}
	return nil
}

// Counts returns the number of items in each state.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT state, COUNT(*) FROM gw_items GROUP BY state")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st int
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[StateName(st)] = n
	}
	return out, rows.Err()
}

// IsPatientRef reports whether s is a patient reference as the mappers
// write them.
func IsPatientRef(s string) bool {
	return strings.HasPrefix(s, "Patient/") || strings.HasPrefix(s, "Patient?identifier=")
}
