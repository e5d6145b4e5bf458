package outbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/gateway/store"
)

func TestWindow(t *testing.T) {
	w := func(subjects ...string) []store.Work {
		var out []store.Work
		for i, s := range subjects {
			out = append(out, store.Work{Seq: int64(i), Subject: s})
		}
		return out
	}
	for _, c := range []struct {
		in   []store.Work
		max  int
		want int
	}{
		{w("a", "b", "c"), 10, 3},
		{w("a", "b", "a", "c"), 10, 2}, // the second a waits for the first
		{w("a", "b", "c", "d"), 2, 2},
		{w("a", "a"), 10, 1},
		{nil, 10, 0},
		{w("a b", "c", "b"), 10, 2}, // a shipping of a and b, then a receiving of b
		{w("a", "c d", "e", "d a"), 10, 3},
	} {
		if got := Window(c.in, c.max); len(got) != c.want {
			t.Errorf("Window(%v, %d) has %d items, want %d", c.in, c.max, len(got), c.want)
		}
	}
}

// memStore is an in-memory outbox Store.
type memStore struct {
	mu      sync.Mutex
	items   []store.Work
	state   map[string]int
	why     map[string]string
	proofs  map[string][]byte
	cursor  uint64
	hasCurs bool
}

func (m *memStore) Cursor(context.Context, string) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursor, m.hasCurs, nil
}

func (m *memStore) SetCursor(_ context.Context, _ string, at uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursor, m.hasCurs = at, true
	return nil
}

func (m *memStore) Next(_ context.Context, state int, after int64, limit int) ([]store.Work, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Work
	for _, w := range m.items {
		if m.state[w.EventID] == state && w.Seq > after && len(out) < limit {
			out = append(out, w)
		}
	}
	return out, nil
}

func (m *memStore) set(id string, st int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[id] = st
	return nil
}
func (m *memStore) MarkSubmittedBatch(_ context.Context, subs []store.Submission) error {
	for _, s := range subs {
		m.set(s.EventID, store.Submitted)
	}
	return nil
}
func (m *memStore) MarkLoggedBatch(_ context.Context, rs []store.Receipt) error {
	for _, r := range rs {
		m.set(r.EventID, store.Logged)
		m.mu.Lock()
		if m.proofs == nil {
			m.proofs = map[string][]byte{}
		}
		m.proofs[r.EventID] = r.Proof
		m.mu.Unlock()
	}
	return nil
}
func (m *memStore) MarkRefused(_ context.Context, id, why string) error {
	m.mu.Lock()
	m.why[id] = why
	m.mu.Unlock()
	return m.set(id, store.Refused)
}
func (m *memStore) CountAttempt(context.Context, string) error { return nil }

// flakyLog fails the first failures submissions with 503, refuses envelopes
// it is told to, and records the order of successful submissions.
type flakyLog struct {
	mu       sync.Mutex
	failures int
	refuse   map[string]bool
	order    []string
	inFlight map[string]int
	overlap  bool
}

func (l *flakyLog) SubmitAsync(_ context.Context, env []byte) (string, []byte, error) {
	id := string(env)
	l.mu.Lock()
	subj := id[:1]
	l.inFlight[subj]++
	if l.inFlight[subj] > 1 {
		l.overlap = true
	}
	l.mu.Unlock()
	time.Sleep(time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight[subj]--
	if l.failures > 0 {
		l.failures--
		return "", nil, &client.UnavailableError{Err: errors.New("503")}
	}
	if l.refuse[id] {
		return "", nil, &client.HTTPError{Status: 400, Reason: "body/patient: refused"}
	}
	l.order = append(l.order, id)
	return id, []byte("promise"), nil
}

func (l *flakyLog) Receipt(context.Context, string) (*c2sp.Proof, error) {
	return nil, errors.New("not yet")
}

func (l *flakyLog) Checkpoint(context.Context) (*client.Checkpoint, error) {
	return nil, errors.New("not yet")
}

func (l *flakyLog) LeafHashes(context.Context, uint64, uint64, *client.Checkpoint) ([]c2sp.Hash, error) {
	return nil, errors.New("not yet")
}

func (l *flakyLog) InclusionProofs(context.Context, []uint64, *client.Checkpoint) ([][]c2sp.Hash, error) {
	return nil, errors.New("not yet")
}

// TestSubmitsInOrderWithRetries: transient failures are retried with
// backoff, a refusal is final, and the items of one subject reach the log
// in acceptance order, never two at a time.
func TestSubmitsInOrderWithRetries(t *testing.T) {
	ms := &memStore{state: map[string]int{}, why: map[string]string{}}
	subjects := "abcabcaabbcc"
	for i, s := range subjects {
		id := string(s) + string(rune('0'+i%10)) + string(rune('A'+i))
		ms.items = append(ms.items, store.Work{Seq: int64(i + 1), EventID: id, Subject: string(s), Envelope: []byte(id)})
	}
	refused := ms.items[4].EventID
	log := &flakyLog{failures: 5, refuse: map[string]bool{refused: true}, inFlight: map[string]int{}}
	ob, err := New(Config{Store: ms, Log: log, Policy: &c2sp.Policy{}, Window: 8, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go ob.submitLoop(ctx)
	for {
		done := true
		ms.mu.Lock()
		for _, w := range ms.items {
			if ms.state[w.EventID] == store.Pending {
				done = false
			}
		}
		ms.mu.Unlock()
		if done {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("items still pending")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if ms.state[refused] != store.Refused || ms.why[refused] != "body/patient: refused" {
		t.Errorf("the refused item: state %d reason %q", ms.state[refused], ms.why[refused])
	}
	if len(log.order) != len(subjects)-1 {
		t.Errorf("submitted %d, want %d", len(log.order), len(subjects)-1)
	}
	if log.overlap {
		t.Error("two items of one subject were in flight at once")
	}
	for _, subj := range "abc" {
		var seqs []string
		for _, id := range log.order {
			if id[0] == byte(subj) {
				seqs = append(seqs, id)
			}
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i][2] < seqs[i-1][2] {
				t.Errorf("subject %c submitted out of order: %v", subj, seqs)
			}
		}
	}
}
