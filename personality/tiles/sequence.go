package tiles

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"strings"

	"github.com/htlog/htlog/event"
)

// Pending is an admitted event to append to the sequence: its identity hash
// (the deduplication key), the leaf to log, and what the event and tag
// indexes record about it.
type Pending struct {
	ID         [32]byte
	Leaf       []byte
	Kind       string
	Org        string
	OccurredAt string
	Tags       []string
}

// PendingOf returns the Pending of a logged leaf: indexed as its event if it
// parses as one, else identified by the SHA-256 of its bytes and indexed
// under no kind.
func PendingOf(leaf []byte) Pending {
	if env, err := event.ParseEnvelope(leaf); err == nil {
		if ev, err := event.ParseEvent(env.Payload); err == nil {
			return NewPending(env, ev, leaf)
		}
	}
	return Pending{ID: sha256.Sum256(leaf), Leaf: leaf}
}

// NewPending returns the Pending of an admitted event.
func NewPending(env *event.Envelope, ev *event.Event, leaf []byte) Pending {
	return Pending{ID: env.IdentityHash(), Leaf: leaf, Kind: ev.Kind, Org: ev.Submitter.Org,
		OccurredAt: ev.OccurredAt, Tags: event.Tags(ev.Body)}
}

// Appended is where an appended event is in the sequence.
type Appended struct {
	Index uint64
	// Leaf is the logged leaf: the one appended, or, for a Duplicate, the
	// one appended first.
	Leaf      []byte
	Duplicate bool
}

// Append assigns the next indexes of the sequence to the events of batch,
// in order, and stores them (entries, event and tag indexes) in one
// transaction: when it returns nil error every event is durable at its
// index, which is what the log acknowledges. An event whose identity hash
// was appended before (in an earlier batch or earlier in this one) gets
// the earlier index and leaf, Duplicate set, and is not stored again.
//
// Any number of replicas may append at once: the sequence row is locked
// for the transaction, so indexes are gapless and never given twice.
func (s *Store) Append(ctx context.Context, batch []Pending) ([]Appended, error) {
	out := make([]Appended, len(batch))
	if len(batch) == 0 {
		return out, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var next uint64
	if err := tx.QueryRowContext(ctx, "SELECT next FROM htlog_sequence WHERE id = 1 FOR UPDATE").Scan(&next); err != nil {
		return nil, fmt.Errorf("couldn't lock the sequence: %w", err)
	}
	// Under the lock, the events table is complete: what it lacks is new.
	known, err := s.knownEvents(ctx, tx, batch)
	if err != nil {
		return nil, err
	}
	first := map[[32]byte]int{} // first position in batch of each new id
	var entryRows, eventRows, tagRows []any
	for i, p := range batch {
		if a, ok := known[p.ID]; ok {
			out[i] = a
			continue
		}
		if j, ok := first[p.ID]; ok {
			out[i] = Appended{Index: out[j].Index, Leaf: out[j].Leaf, Duplicate: true}
			continue
		}
		first[p.ID] = i
		out[i] = Appended{Index: next, Leaf: p.Leaf}
		entryRows = append(entryRows, next, p.Leaf)
		eventRows = append(eventRows, p.ID[:], next, p.Kind, p.Org, p.OccurredAt)
		for _, tag := range p.Tags {
			tagRows = append(tagRows, tagKey(tag), next)
		}
		next++
	}
	if len(entryRows) == 0 {
		return out, nil // all duplicates: nothing to write
	}
	for _, ins := range []struct {
		query, place string
		cols         int
		rows         []any
	}{
		{"INSERT INTO htlog_entries (idx, data, queued_at) VALUES ", "(?,?,NOW(6))", 2, entryRows},
		{"INSERT INTO htlog_events (event_id, idx, kind, org, occurred_at) VALUES ", "(?,?,?,?,?)", 5, eventRows},
		{"INSERT IGNORE INTO htlog_tags (tag, idx) VALUES ", "(?,?)", 2, tagRows},
	} {
		if err := insertRows(ctx, tx, ins.query, ins.place, ins.cols, ins.rows); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE htlog_sequence SET next = ? WHERE id = 1", next); err != nil {
		return nil, fmt.Errorf("couldn't advance the sequence: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("couldn't commit the appended events: %w", err)
	}
	return out, nil
}

// knownEvents returns, for the events of batch appended before, their index
// and logged leaf.
func (s *Store) knownEvents(ctx context.Context, tx *sql.Tx, batch []Pending) (map[[32]byte]Appended, error) {
	args := make([]any, len(batch))
	for i, p := range batch {
		args[i] = p.ID[:]
	}
	rows, err := tx.QueryContext(ctx, "SELECT v.event_id, v.idx, e.data FROM htlog_events v JOIN htlog_entries e ON e.idx = v.idx WHERE v.event_id IN (?"+
		strings.Repeat(",?", len(args)-1)+")", args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't look for earlier copies: %w", err)
	}
	defer rows.Close()
	out := map[[32]byte]Appended{}
	for rows.Next() {
		var id []byte
		var a Appended
		if err := rows.Scan(&id, &a.Index, &a.Leaf); err != nil {
			return nil, err
		}
		a.Duplicate = true
		out[[32]byte(id)] = a
	}
	return out, rows.Err()
}

// Sequenced returns the number of events appended (the next index).
func (s *Store) Sequenced(ctx context.Context) (uint64, error) {
	var next uint64
	if err := s.db.QueryRowContext(ctx, "SELECT next FROM htlog_sequence WHERE id = 1").Scan(&next); err != nil {
		return 0, fmt.Errorf("couldn't read the sequence: %w", err)
	}
	return next, nil
}

// Waiting describes the oldest appended event not yet in a published
// checkpoint.
type Waiting struct {
	// Count is how many appended events are not in the published checkpoint.
	Count uint64
	// Age is how long ago the oldest of them was appended (by the
	// database's clock, shared by every replica); zero when Count is.
	AgeSeconds float64
}

// Waiting returns what waits beyond the newest published checkpoint. It is
// one query on the sequence, the checkpoints' primary key and one entry, so
// the merge guard can ask it often; being in the database, the answer
// survives restarts and is the same on every replica.
func (s *Store) Waiting(ctx context.Context) (Waiting, error) {
	var w Waiting
	var next, published uint64
	var age sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT q.next, p.size, TIMESTAMPDIFF(MICROSECOND, e.queued_at, NOW(6)) / 1e6
		FROM htlog_sequence q
		CROSS JOIN (SELECT COALESCE(MAX(size), 0) AS size FROM htlog_checkpoints) p
		LEFT JOIN htlog_entries e ON e.idx = p.size
		WHERE q.id = 1`).Scan(&next, &published, &age)
	if err != nil {
		return w, fmt.Errorf("couldn't read what waits for publication: %w", err)
	}
	if next <= published {
		return w, nil
	}
	w.Count = next - published
	// An entry logged before htlog kept append times has none: it has
	// waited since the upgrade at most, and counts as fresh.
	w.AgeSeconds = max(age.Float64, 0)
	return w, nil
}

// LegacyNext is how many leaves of the legacy Trillian tree (the LOG tree
// of a log upgraded from per-event queueing) htlog holds.
func (s *Store) LegacyNext(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.db.QueryRowContext(ctx, "SELECT legacy_next FROM htlog_sequence WHERE id = 1").Scan(&n); err != nil {
		return 0, fmt.Errorf("couldn't read the legacy position: %w", err)
	}
	return n, nil
}

// SetLegacyNext records that the legacy tree's leaves below n are held (it
// never moves back).
func (s *Store) SetLegacyNext(ctx context.Context, n uint64) error {
	if _, err := s.db.ExecContext(ctx, "UPDATE htlog_sequence SET legacy_next = GREATEST(legacy_next, ?) WHERE id = 1", n); err != nil {
		return fmt.Errorf("couldn't record the legacy position: %w", err)
	}
	return nil
}

// EntriesWithIDs returns count appended entries from start (fewer at the
// end of the sequence) with their identity hashes, as Trillian is fed
// them. An entry without an event row (a leaf that never parsed as an
// event) is identified by the SHA-256 of its bytes.
func (s *Store) EntriesWithIDs(ctx context.Context, start, count uint64) ([][]byte, [][32]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.idx, e.data, v.event_id FROM htlog_entries e
		LEFT JOIN htlog_events v ON v.idx = e.idx WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx`, start, start+count)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't read entries: %w", err)
	}
	defer rows.Close()
	var leaves [][]byte
	var ids [][32]byte
	for rows.Next() {
		var idx uint64
		var data, id []byte
		if err := rows.Scan(&idx, &data, &id); err != nil {
			return nil, nil, err
		}
		if idx != start+uint64(len(leaves)) {
			return nil, nil, fmt.Errorf("entry %d is missing", start+uint64(len(leaves)))
		}
		if len(id) == 32 {
			ids = append(ids, [32]byte(id))
		} else {
			ids = append(ids, sha256.Sum256(data))
		}
		leaves = append(leaves, data)
	}
	return leaves, ids, rows.Err()
}
