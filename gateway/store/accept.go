package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxBatchItems bounds the items of one accept transaction.
const maxBatchItems = 512

// acceptReq is one Accept call waiting for its batch to commit.
type acceptReq struct {
	ctx   context.Context
	items []Accepted
	ids   []string
	err   error
	done  chan struct{}
}

// Accept stores items in one transaction and returns, for each, the event
// id stored for its input: its own, or that of the item an identical input
// made before (then nothing of the new one is kept). It returns after the
// commit. Concurrent calls are committed together (group commit: one
// transaction, one flush, for every call that arrived while the previous
// batch committed); a call's items are all stored or none.
func (s *Store) Accept(ctx context.Context, items []Accepted) ([]string, error) {
	r := &acceptReq{ctx: ctx, items: items, done: make(chan struct{})}
	select {
	case s.accepts <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-r.done
	return r.ids, r.err
}

// acceptLoop commits batches of waiting Accept calls, one at a time.
func (s *Store) acceptLoop() {
	for first := range s.accepts {
		batch := []*acceptReq{first}
		n := len(first.items)
	gather:
		for n < maxBatchItems {
			select {
			case r := <-s.accepts:
				batch = append(batch, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		err := s.commitBatch(batch)
		if err != nil && len(batch) > 1 {
			// One call's bad input must not fail the others: retry alone.
			for _, r := range batch {
				if r.err == nil {
					r.err = s.commitBatch([]*acceptReq{r})
				}
			}
		}
		for _, r := range batch {
			if r.err == nil && r.ids == nil {
				r.err = err
			}
			if r.err == nil && r.ids == nil {
				r.err = fmt.Errorf("couldn't store items: not committed")
			}
			close(r.done)
		}
	}
}

// commitBatch stores the items of every request of batch in one
// transaction with three statements: the items (INSERT IGNORE: an input
// seen before keeps its first item), the stored ids by input, and the
// openings of the items that are new; and the lots new items tell.
func (s *Store) commitBatch(batch []*acceptReq) error {
	var live []*acceptReq
	for _, r := range batch {
		if r.ctx.Err() == nil {
			live = append(live, r)
		} else {
			r.err = r.ctx.Err()
		}
	}
	if len(live) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("couldn't begin: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	var q strings.Builder
	var args []any
	q.WriteString("INSERT IGNORE INTO gw_items (event_id, input_hash, kind, source, subject, envelope, state, accepted_at, updated_at) VALUES ")
	first := true
	for _, r := range live {
		for _, it := range r.items {
			if !first {
				q.WriteString(",")
			}
			first = false
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, it.EventID, it.InputHash, it.Kind, it.Source, it.Subject, it.Envelope, Pending, now, now)
		}
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("couldn't store items: %w", err)
	}
	stored, err := storedIDs(ctx, tx, live)
	if err != nil {
		return err
	}
	q.Reset()
	args = args[:0]
	q.WriteString("INSERT INTO gw_openings (event_id, patient_hash, commitment, value, opening) VALUES ")
	nOpen := 0
	for _, r := range live {
		for _, it := range r.items {
			if stored[string(it.InputHash)] != it.EventID {
				continue // accepted before: its openings are those of the first
			}
			for _, o := range it.Openings {
				var ph []byte
				if o.Patient != "" {
					ph = refHash(o.Patient)
				}
				if nOpen > 0 {
					q.WriteString(",")
				}
				nOpen++
				q.WriteString("(?, ?, ?, ?, ?)")
				args = append(args, it.EventID, ph, o.Commitment, o.Value, o.Opening)
			}
		}
	}
	if nOpen > 0 {
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("couldn't store openings: %w", err)
		}
	}
	for _, r := range live {
		for _, it := range r.items {
			if stored[string(it.InputHash)] != it.EventID {
				continue
			}
			for _, l := range it.Lots {
				// The package's key exists: the mapper made it for the tag.
				if _, err := tx.ExecContext(ctx, "UPDATE gw_packages SET lot = ?, expiry = ? WHERE gtin = ? AND serial = ?", l.Lot, l.Expiry, l.GTIN, l.Serial); err != nil {
					return fmt.Errorf("couldn't record a package's lot: %w", err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("couldn't commit: %w", err)
	}
	for _, r := range live {
		r.ids = make([]string, len(r.items))
		for i, it := range r.items {
			r.ids[i] = stored[string(it.InputHash)]
		}
	}
	return nil
}

// storedIDs returns the event id stored for each input hash of the batch.
func storedIDs(ctx context.Context, tx *sql.Tx, live []*acceptReq) (map[string]string, error) {
	var q strings.Builder
	var args []any
	q.WriteString("SELECT input_hash, event_id FROM gw_items WHERE input_hash IN (")
	for _, r := range live {
		for _, it := range r.items {
			if len(args) > 0 {
				q.WriteString(",")
			}
			q.WriteString("?")
			args = append(args, it.InputHash)
		}
	}
	q.WriteString(")")
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't read stored items: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var h []byte
		var id string
		if err := rows.Scan(&h, &id); err != nil {
			return nil, err
		}
		out[string(h)] = id
	}
	return out, rows.Err()
}

// Submission is the log's answer to one submitted item.
type Submission struct {
	EventID string
	Promise []byte
}

// MarkSubmittedBatch records the log's answers (promises) for pending items,
// in one statement.
func (s *Store) MarkSubmittedBatch(ctx context.Context, subs []Submission) error {
	if len(subs) == 0 {
		return nil
	}
	// Rows are locked in event id order by every batch update, so that two
	// of them wait for each other rather than deadlock.
	subs = slices.SortedFunc(slices.Values(subs), func(a, b Submission) int { return strings.Compare(a.EventID, b.EventID) })
	var q strings.Builder
	args := []any{Submitted, time.Now().UTC()}
	q.WriteString("UPDATE gw_items SET state = ?, updated_at = ?, promise = ")
	args = appendCase(&q, args, len(subs), func(i int) (string, any) { return subs[i].EventID, subs[i].Promise })
	q.WriteString(" WHERE state = ? AND event_id")
	args = appendIn(&q, append(args, Pending), len(subs), func(i int) string { return subs[i].EventID })
	return s.exec(ctx, q.String(), args...)
}

// Receipt is one item's verified tlog-proof and index.
type Receipt struct {
	EventID string
	Index   uint64
	Proof   []byte
	// Checkpoint, if set, is the checkpoint the proof ends with: it is
	// stored once for every receipt that shares it, and each receipt keeps
	// only what comes before it.
	Checkpoint []byte
}

// MarkLoggedBatch records verified receipts, in one statement (after the
// checkpoints they share are stored).
func (s *Store) MarkLoggedBatch(ctx context.Context, rs []Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.SortedFunc(slices.Values(rs), func(a, b Receipt) int { return strings.Compare(a.EventID, b.EventID) })
	proofs, cps := make([][]byte, len(rs)), make([]any, len(rs))
	for i, r := range rs {
		proofs[i] = r.Proof
		if len(r.Checkpoint) == 0 || !bytes.HasSuffix(r.Proof, r.Checkpoint) {
			continue
		}
		id, err := s.checkpointID(ctx, r.Checkpoint)
		if err != nil {
			return err
		}
		proofs[i], cps[i] = r.Proof[:len(r.Proof)-len(r.Checkpoint)], id
	}
	var q strings.Builder
	args := []any{Logged, time.Now().UTC()}
	q.WriteString("UPDATE gw_items SET state = ?, updated_at = ?, proof = ")
	args = appendCase(&q, args, len(rs), func(i int) (string, any) { return rs[i].EventID, proofs[i] })
	q.WriteString(", checkpoint_id = ")
	args = appendCase(&q, args, len(rs), func(i int) (string, any) { return rs[i].EventID, cps[i] })
	q.WriteString(", leaf_index = ")
	args = appendCase(&q, args, len(rs), func(i int) (string, any) { return rs[i].EventID, int64(rs[i].Index) })
	q.WriteString(" WHERE state IN (?, ?) AND event_id")
	args = appendIn(&q, append(args, Pending, Submitted), len(rs), func(i int) string { return rs[i].EventID })
	return s.exec(ctx, q.String(), args...)
}

// checkpointID stores a checkpoint once and returns its id.
func (s *Store) checkpointID(ctx context.Context, text []byte) (int64, error) {
	digest := sha256.Sum256(text)
	s.checkpointsMu.Lock()
	id, ok := s.checkpoints[digest]
	s.checkpointsMu.Unlock()
	if ok {
		return id, nil
	}
	if _, err := s.db.ExecContext(ctx, "INSERT IGNORE INTO gw_checkpoints (digest, text) VALUES (?, ?)", digest[:], text); err != nil {
		return 0, fmt.Errorf("couldn't store a checkpoint: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT id FROM gw_checkpoints WHERE digest = ?", digest[:]).Scan(&id); err != nil {
		return 0, fmt.Errorf("couldn't read a checkpoint's id: %w", err)
	}
	s.checkpointsMu.Lock()
	if len(s.checkpoints) >= 1024 {
		clear(s.checkpoints)
	}
	s.checkpoints[digest] = id
	s.checkpointsMu.Unlock()
	return id, nil
}

// appendCase writes "CASE event_id WHEN ? THEN ? ... END" for n items to q
// and their event ids and values to args.
func appendCase(q *strings.Builder, args []any, n int, item func(int) (string, any)) []any {
	q.WriteString("CASE event_id")
	for i := range n {
		id, v := item(i)
		q.WriteString(" WHEN ? THEN ?")
		args = append(args, id, v)
	}
	q.WriteString(" END")
	return args
}

// appendIn writes " IN (?, ...)" for n event ids to q and the ids to args.
func appendIn(q *strings.Builder, args []any, n int, id func(int) string) []any {
	q.WriteString(" IN (")
	for i := range n {
		if i > 0 {
			q.WriteString(",")
		}
		q.WriteString("?")
		args = append(args, id(i))
	}
	q.WriteString(")")
	return args
}
