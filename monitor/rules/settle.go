package rules

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// Settling: hospitals batch their submissions, so an event is often logged
// after one it depends on. A rule that finds an event missing its
// counterpart (an access whose consent is not logged yet, a receipt whose
// shipment is not) holds the event in a queue instead of judging it at once,
// and judges it when the counterpart is logged or when the log has settled:
// when the rule's clock has passed the clock at which the event was logged
// plus the settle window. A rule that must look back for events logged
// before a late one (the accesses a late revocation catches) keeps the
// recent events in the same kind of queue, for the same window.
//
// The clock is the latest occurred_at of any entry seen, in log order, never
// the monitor's wall clock: what is held, resolved and reported depends on
// the log's entries alone, so every replay reaches the same findings at the
// same entries however the monitor's rounds split the log.
//
// Every queue keeps at most Options.SettleMax items of at most maxItemJSON
// bytes each. Over it the oldest item leaves early (an oversized one is not
// queued at all): a held event is judged at once (and its finding says so),
// a recent event is dropped and counted, and a late event that could have
// needed a dropped one gets a settle_overflow finding.

// RuleSettleOverflow names the note a rule makes when a late event could
// not be checked against every event it should have been, because the
// rule's queue was over its bound.
const RuleSettleOverflow = "settle_overflow"

// ref is what a held item keeps of the entry it is about: enough to cite it.
type ref struct {
	Index uint64    `json:"i"`
	ID    string    `json:"id"`
	Org   string    `json:"org,omitempty"`
	Time  time.Time `json:"t"` // the event's occurred_at
}

func refOf(e *entry.Entry) ref {
	return ref{Index: e.Index, ID: e.ID, Org: e.Org(), Time: e.Time}
}

// find builds a finding about the referenced entry.
func (r ref) find(rule string, sev finding.Severity, detail string, others ...string) finding.Finding {
	ids := append([]string{r.ID}, others...)
	return finding.Finding{Rule: rule, Severity: sev, Index: int64(r.Index), EventIDs: ids,
		Submitter: r.Org, Detail: detail, EventTime: r.Time}
}

// held is one queued item, the clock time it is due at and its sequence
// number in the queue (its row key: state.go).
type held[T any] struct {
	Due  time.Time `json:"due"`
	Item T         `json:"item"`
	Seq  uint64    `json:"seq,omitempty"`
}

// queue holds items in log order. An item's Due is the clock when it was
// logged plus the settle window, and the clock never goes back, so Due never
// decreases along the queue: the due items are always at its front.
//
// Every change is remembered for the next save of the rules' state
// (state.go): an item pushed or removed, or one changed in place (each's
// callback says so), is written again.
type queue[T any] struct {
	Items []held[T] `json:"items,omitempty"`
	queueCounters
	dirty map[uint64]struct{}
}

// queueCounters are a queue's counters, saved with its rule's scalars.
type queueCounters struct {
	// Next is the sequence number of the next item pushed.
	Next uint64 `json:"next,omitempty"`
	// Dropped counts the items pushed out by the bound before they were
	// due; DroppedDue is the latest Due among them.
	Dropped    int       `json:"dropped,omitempty"`
	DroppedDue time.Time `json:"dropped_due,omitzero"`
}

// maxItemJSON bounds one queued item's JSON encoding. Items from
// schema-valid events are a few hundred bytes; a larger one (only an event
// that failed schema validation can carry such long strings) is not queued.
const maxItemJSON = 1024

// push appends it, due at due. If the queue then holds more than max items,
// the oldest leave and are returned (and counted as dropped); an item whose
// JSON is over maxItemJSON is returned (and counted) at once.
func (q *queue[T]) push(due time.Time, it T, max int) []T {
	if b, err := json.Marshal(it); err != nil || len(b) > maxItemJSON {
		q.Dropped++
		if due.After(q.DroppedDue) {
			q.DroppedDue = due
		}
		return []T{it}
	}
	q.number()
	q.Items = append(q.Items, held[T]{Due: due, Item: it, Seq: q.Next})
	q.touch(q.Next)
	q.Next++
	var out []T
	for len(q.Items) > max {
		h := q.Items[0]
		q.touch(h.Seq)
		q.Items = q.Items[1:]
		q.Dropped++
		if h.Due.After(q.DroppedDue) {
			q.DroppedDue = h.Due
		}
		out = append(out, h.Item)
	}
	return out
}

// settle removes and returns, oldest first, the items due before now.
func (q *queue[T]) settle(now time.Time) []T {
	n := 0
	for n < len(q.Items) && q.Items[n].Due.Before(now) {
		n++
	}
	if n == 0 {
		return nil
	}
	out := make([]T, n)
	for i := range n {
		out[i] = q.Items[i].Item
		q.touch(q.Items[i].Seq)
	}
	q.Items = q.Items[n:]
	if len(q.Items) == 0 {
		q.Items = nil // let the backing array go
	}
	return out
}

// take removes and returns, oldest first, the items match accepts.
func (q *queue[T]) take(match func(*T) bool) []T {
	var out []T
	kept := q.Items[:0]
	for i := range q.Items {
		if match(&q.Items[i].Item) {
			out = append(out, q.Items[i].Item)
			q.touch(q.Items[i].Seq)
		} else {
			kept = append(kept, q.Items[i])
		}
	}
	clear(q.Items[len(kept):])
	q.Items = kept
	if len(q.Items) == 0 {
		q.Items = nil
	}
	return out
}

// first removes and returns the oldest item match accepts, if any.
func (q *queue[T]) first(match func(*T) bool) (T, bool) {
	for i := range q.Items {
		if match(&q.Items[i].Item) {
			it := q.Items[i].Item
			q.touch(q.Items[i].Seq)
			q.Items = slices.Delete(q.Items, i, i+1)
			if len(q.Items) == 0 {
				q.Items = nil
			}
			return it, true
		}
	}
	var zero T
	return zero, false
}

// each calls f on every item, oldest first; f reports whether it changed
// the item.
func (q *queue[T]) each(f func(*T) bool) {
	for i := range q.Items {
		if f(&q.Items[i].Item) {
			q.touch(q.Items[i].Seq)
		}
	}
}

// oldest returns the oldest item match accepts, or nil; the item counts as
// changed (the caller may change it until the next save).
func (q *queue[T]) oldest(match func(*T) bool) *T {
	for i := range q.Items {
		if match(&q.Items[i].Item) {
			q.touch(q.Items[i].Seq)
			return &q.Items[i].Item
		}
	}
	return nil
}

// gap reports whether an item dropped by the bound would still be queued at
// now had it not been dropped.
func (q *queue[T]) gap(now time.Time) bool {
	return q.Dropped > 0 && !q.DroppedDue.Before(now)
}

// settler is the configuration every rule that holds items shares: the
// settle window and the bound of each queue.
type settler struct {
	window time.Duration
	max    int
}

// due returns when an item logged at clock settles.
func (s settler) due(clock time.Time) time.Time { return clock.Add(s.window) }

// early is the note on the finding about a held event judged before its
// window passed because its queue was over the bound.
func (s settler) early() string {
	return fmt.Sprintf(" (judged early: over the monitor's bound of %d waiting events of at most %d bytes)", s.max, maxItemJSON)
}

// wait returns the settle window, or zero if it is negative (off).
func (s settler) wait() time.Duration { return max(s.window, 0) }

// advance moves clock forward to t, if t is later.
func advance(clock *time.Time, t time.Time) {
	if t.After(*clock) {
		*clock = t
	}
}
