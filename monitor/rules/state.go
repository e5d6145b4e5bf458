package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
)

// Saving the rules' state in rows: a rule's state grows with the log (every
// consent, package, trial and agent it has seen), so it is not saved as one
// snapshot but as rows a store can write one by one, and a save writes only
// the rows that changed since the last one.
//
// Each rule with state lists its parts (parts). A part is one of:
//
//   - a table (table[V]): a map from a key (a consent id, a package key, a
//     trial id, an agent) to a value; each key is one row, table
//     "<rule>/<part>", its value the JSON of the value. A key set, changed
//     or deleted since the last save is written again (or deleted).
//   - a queue (queue[T]) of held or recent events: each item is one row,
//     table "<rule>/<part>", keyed by the item's sequence number; pushing
//     writes a row, settling or dropping an item deletes it, changing one
//     in place writes it again. Its counters go with the scalars.
//   - a scalar (a clock, a deadline): every scalar of the rule, and every
//     queue's counters, make one row, table "<rule>", key "", written when
//     its JSON differs from the one last saved.
//
// Snapshot and Restore still write and read the whole state as one JSON
// object, in the same format as before rows existed, so a state saved as
// one snapshot is read once (Restore, then TouchAll) and saved as rows.

// Row is one row of the rules' state: its table, key and JSON value. A
// Row returned by Changes with a nil Value deletes the row.
type Row struct {
	Table string
	Key   string
	Value []byte
}

// part is one piece of a rule's state: a rowSet or a pointer to a scalar,
// under the name its field has in the rule's JSON state.
type part struct {
	name string
	ptr  any
}

// parted is a rule whose state is saved in rows.
type parted interface {
	parts() []part
}

// rowSet is a part saved as one row per key.
type rowSet interface {
	// changes calls f on every key changed since saved was last called,
	// with its JSON value or nil if it was deleted.
	changes(f func(key string, value []byte) error) error
	// pending is how many keys changed since saved was last called.
	pending() int
	// saved forgets the changes.
	saved()
	// touchAll marks every key changed.
	touchAll()
	// load sets a key's value from its row; loaded ends a load.
	load(key string, value []byte) error
	loaded()
	// header and setHeader are the counters saved with the scalars (nil:
	// none).
	header() any
}

// table is a map whose changed keys are remembered for the next save. A
// value read by get must not be changed in place: change it through mut,
// or store a new one with put.
type table[V any] struct {
	m     map[string]V
	dirty map[string]struct{}
}

func (t *table[V]) get(k string) (V, bool) {
	v, ok := t.m[k]
	return v, ok
}

// mut returns k's value and marks k changed, so a pointer value may be
// changed in place (until the next save).
func (t *table[V]) mut(k string) (V, bool) {
	v, ok := t.m[k]
	if ok {
		t.touch(k)
	}
	return v, ok
}

func (t *table[V]) put(k string, v V) {
	if t.m == nil {
		t.m = map[string]V{}
	}
	t.m[k] = v
	t.touch(k)
}

func (t *table[V]) del(k string) {
	if _, ok := t.m[k]; ok {
		delete(t.m, k)
		t.touch(k)
	}
}

func (t *table[V]) touch(k string) {
	if t.dirty == nil {
		t.dirty = map[string]struct{}{}
	}
	t.dirty[k] = struct{}{}
}

// MarshalJSON writes the table as a JSON object (the snapshot format).
func (t *table[V]) MarshalJSON() ([]byte, error) {
	if t.m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(t.m)
}

// UnmarshalJSON reads a JSON object, replacing the table.
func (t *table[V]) UnmarshalJSON(b []byte) error {
	t.m, t.dirty = nil, nil
	return json.Unmarshal(b, &t.m)
}

func (t *table[V]) changes(f func(string, []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(t.dirty)) {
		var b []byte
		if v, ok := t.m[k]; ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				return err
			}
		}
		if err := f(k, b); err != nil {
			return err
		}
	}
	return nil
}

func (t *table[V]) pending() int { return len(t.dirty) }
func (t *table[V]) saved()       { t.dirty = nil }

func (t *table[V]) touchAll() {
	for k := range t.m {
		t.touch(k)
	}
}

func (t *table[V]) load(k string, b []byte) error {
	var v V
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if t.m == nil {
		t.m = map[string]V{}
	}
	t.m[k] = v
	return nil
}

func (t *table[V]) loaded()     {}
func (t *table[V]) header() any { return nil }

// seqKey is a queue item's row key: its sequence number, zero-padded so
// the keys sort in queue order.
func seqKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }

func (q *queue[T]) touch(seq uint64) {
	if q.dirty == nil {
		q.dirty = map[uint64]struct{}{}
	}
	q.dirty[seq] = struct{}{}
}

// find returns the position of the item numbered seq, or -1. Items are in
// sequence order.
func (q *queue[T]) find(seq uint64) int {
	i := sort.Search(len(q.Items), func(i int) bool { return q.Items[i].Seq >= seq })
	if i < len(q.Items) && q.Items[i].Seq == seq {
		return i
	}
	return -1
}

func (q *queue[T]) changes(f func(string, []byte) error) error {
	for _, seq := range slices.Sorted(maps.Keys(q.dirty)) {
		var b []byte
		if i := q.find(seq); i >= 0 {
			var err error
			if b, err = json.Marshal(q.Items[i]); err != nil {
				return err
			}
		}
		if err := f(seqKey(seq), b); err != nil {
			return err
		}
	}
	return nil
}

func (q *queue[T]) pending() int { return len(q.dirty) }
func (q *queue[T]) saved()       { q.dirty = nil }

func (q *queue[T]) touchAll() {
	q.number()
	for _, h := range q.Items {
		q.touch(h.Seq)
	}
}

func (q *queue[T]) load(k string, b []byte) error {
	var h held[T]
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	if seqKey(h.Seq) != k {
		return fmt.Errorf("queue item %s holds item number %d", k, h.Seq)
	}
	q.Items = append(q.Items, h)
	return nil
}

func (q *queue[T]) loaded() {
	slices.SortFunc(q.Items, func(a, b held[T]) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
}

func (q *queue[T]) header() any { return &q.queueCounters }

// number gives the items of a queue restored from a snapshot taken before
// items were numbered their sequence numbers.
func (q *queue[T]) number() {
	if q.Next > 0 || len(q.Items) == 0 {
		return
	}
	for i := range q.Items {
		q.Items[i].Seq = uint64(i)
	}
	q.Next = uint64(len(q.Items))
}

// ruleParts returns r's parts (none for a rule without state).
func ruleParts(r Rule) []part {
	if p, ok := r.(parted); ok {
		return p.parts()
	}
	return nil
}

// restOf returns the JSON object of r's scalars and queue counters.
func restOf(parts []part) ([]byte, error) {
	m := map[string]any{}
	for _, p := range parts {
		if rs, ok := p.ptr.(rowSet); ok {
			if h := rs.header(); h != nil {
				m[p.name] = h
			}
			continue
		}
		m[p.name] = p.ptr
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// Changes returns the rows changed since the last Saved (every row, after
// Restore and TouchAll). The caller saves them, in one atomic step with
// the position they were taken at, and then calls Saved.
func (g *Engine) Changes() ([]Row, error) {
	var out []Row
	g.pendingRest = map[string][]byte{}
	for i, r := range g.rules {
		name := stateKey(i, r)
		parts := ruleParts(r)
		for _, p := range parts {
			rs, ok := p.ptr.(rowSet)
			if !ok {
				continue
			}
			table := name + "/" + p.name
			if err := rs.changes(func(k string, v []byte) error {
				out = append(out, Row{Table: table, Key: k, Value: v})
				return nil
			}); err != nil {
				return nil, fmt.Errorf("couldn't encode the state of rule %s: %w", name, err)
			}
		}
		rest, err := restOf(parts)
		if err != nil {
			return nil, fmt.Errorf("couldn't encode the state of rule %s: %w", name, err)
		}
		if rest != nil && !bytes.Equal(rest, g.savedRest[name]) {
			out = append(out, Row{Table: name, Value: rest})
			g.pendingRest[name] = rest
		}
	}
	return out, nil
}

// Pending returns how many table keys and queue items changed since the
// last Saved (the scalars not counted).
func (g *Engine) Pending() int {
	n := 0
	g.eachRowSet(func(_ string, rs rowSet) { n += rs.pending() })
	return n
}

// Saved records that the rows the last Changes returned were saved.
func (g *Engine) Saved() {
	g.eachRowSet(func(_ string, rs rowSet) { rs.saved() })
	if g.savedRest == nil {
		g.savedRest = map[string][]byte{}
	}
	maps.Copy(g.savedRest, g.pendingRest)
	g.pendingRest = nil
}

// TouchAll marks every row changed, so the next Changes returns the whole
// state (after Restore of a snapshot, to save it as rows).
func (g *Engine) TouchAll() {
	g.eachRowSet(func(_ string, rs rowSet) { rs.touchAll() })
	g.savedRest = nil
}

func (g *Engine) eachRowSet(f func(table string, rs rowSet)) {
	for i, r := range g.rules {
		for _, p := range ruleParts(r) {
			if rs, ok := p.ptr.(rowSet); ok {
				f(stateKey(i, r)+"/"+p.name, rs)
			}
		}
	}
}

// LoadRow loads one saved row into a fresh engine; call Loaded after the
// last. Rows of rules or parts the engine does not have are ignored.
func (g *Engine) LoadRow(row Row) error {
	if g.index == nil {
		g.index = map[string]any{}
		for i, r := range g.rules {
			parts := ruleParts(r)
			g.index[stateKey(i, r)] = parts
			for _, p := range parts {
				if rs, ok := p.ptr.(rowSet); ok {
					g.index[stateKey(i, r)+"/"+p.name] = rs
				}
			}
		}
		g.savedRest = map[string][]byte{}
	}
	switch x := g.index[row.Table].(type) {
	case rowSet:
		if err := x.load(row.Key, row.Value); err != nil {
			return fmt.Errorf("couldn't decode row %s of the rules' state table %s: %w", strconv.Quote(row.Key), row.Table, err)
		}
	case []part:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(row.Value, &m); err != nil {
			return fmt.Errorf("couldn't decode the scalars of rule %s: %w", row.Table, err)
		}
		for _, p := range x {
			raw, ok := m[p.name]
			if !ok {
				continue
			}
			target := p.ptr
			if rs, ok := p.ptr.(rowSet); ok {
				if target = rs.header(); target == nil {
					continue
				}
			}
			if err := json.Unmarshal(raw, target); err != nil {
				return fmt.Errorf("couldn't decode %s of rule %s: %w", p.name, row.Table, err)
			}
		}
		g.savedRest[row.Table] = bytes.Clone(row.Value)
	}
	return nil
}

// Loaded ends a load of rows.
func (g *Engine) Loaded() {
	g.eachRowSet(func(_ string, rs rowSet) { rs.loaded() })
	g.index = nil
}
