package store

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/monitor/finding"
)

// Mem is an in-memory Store for tests; it can fail on demand.
type Mem struct {
	mu          sync.Mutex
	state       *State
	rules       map[[2]string][]byte // by table and key
	legacy      []byte
	findings    []finding.Finding
	keys        map[string]bool
	checkpoints []Checkpoint
	evidence    map[string][]byte
	evidenceIDs []string
	promises    map[c2sp.Hash]Promise
	states      map[string]finding.State
	history     []finding.Transition
	verdicts    map[uint64]finding.Verdict
	// FailCommit, if set, is returned by Commit.
	FailCommit error
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem {
	return &Mem{keys: map[string]bool{}, evidence: map[string][]byte{}, promises: map[c2sp.Hash]Promise{},
		rules: map[[2]string][]byte{}, states: map[string]finding.State{}, verdicts: map[uint64]finding.Verdict{}}
}

// SetLegacyRules makes the store hold a rules' state saved as one snapshot,
// as a store written before the rows existed does (for upgrade tests).
func (m *Mem) SetLegacyRules(snapshot []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.legacy = bytes.Clone(snapshot)
}

// LoadState implements Store.
func (m *Mem) LoadState(ctx context.Context) (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return nil, nil
	}
	c := *m.state
	c.Hashes, c.RulesHashes = slices.Clone(c.Hashes), slices.Clone(c.RulesHashes)
	c.LegacyRules = bytes.Clone(m.legacy)
	return &c, nil
}

// LoadRules implements Store.
func (m *Mem) LoadRules(ctx context.Context, f func(RulesRow) error) error {
	m.mu.Lock()
	rows := make([]RulesRow, 0, len(m.rules))
	for k, v := range m.rules {
		rows = append(rows, RulesRow{Table: k[0], Key: k[1], Value: bytes.Clone(v)})
	}
	m.mu.Unlock()
	for _, r := range rows {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

// Commit implements Store.
func (m *Mem) Commit(ctx context.Context, st *State, fs []finding.Finding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.FailCommit != nil {
		return m.FailCommit
	}
	c := *st
	c.Hashes, c.RulesHashes = slices.Clone(c.Hashes), slices.Clone(c.RulesHashes)
	c.SaveRules, c.Rules, c.LegacyRules, c.Verdicts = false, nil, nil, nil
	if !st.SaveRules { // keep the saved rules' state
		c.RulesSize, c.RulesHashes = 0, nil
		if m.state != nil {
			c.RulesSize, c.RulesHashes = m.state.RulesSize, slices.Clone(m.state.RulesHashes)
		}
	} else {
		for _, r := range st.Rules {
			if r.Value == nil {
				delete(m.rules, [2]string{r.Table, r.Key})
			} else {
				m.rules[[2]string{r.Table, r.Key}] = bytes.Clone(r.Value)
			}
		}
		m.legacy = nil
	}
	m.state = &c
	for _, v := range st.Verdicts {
		m.verdicts[v.Index] = v
	}
	m.addFindings(fs)
	return nil
}

// AddFindings implements Store.
func (m *Mem) AddFindings(ctx context.Context, fs []finding.Finding) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addFindings(fs)
	return nil
}

func (m *Mem) addFindings(fs []finding.Finding) {
	for _, f := range fs {
		if k := f.Key(); !m.keys[k] {
			m.keys[k] = true
			m.findings = append(m.findings, f)
		}
	}
}

// Findings implements Store.
func (m *Mem) Findings(ctx context.Context, q finding.Filter) ([]finding.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []finding.Finding
	skip := q.Offset
	for i := len(m.findings) - 1; i >= 0; i-- {
		f := withState(m.findings[i], m.states[m.findings[i].Key()])
		if !q.Match(f) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, f)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// Finding implements Store.
func (m *Mem) Finding(ctx context.Context, id string) (finding.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.findings {
		if f.Key() == id {
			return withState(f, m.states[id]), nil
		}
	}
	return finding.Finding{}, ErrNotFound
}

// FindingsAt implements Store.
func (m *Mem) FindingsAt(ctx context.Context, indexes []uint64) ([]finding.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []finding.Finding
	for _, f := range m.findings {
		if f.Index >= 0 && slices.Contains(indexes, uint64(f.Index)) {
			out = append(out, withState(f, m.states[f.Key()]))
		}
	}
	return out, nil
}

// Verdicts implements Store.
func (m *Mem) Verdicts(ctx context.Context, indexes []uint64) (map[uint64]finding.Verdict, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uint64]finding.Verdict{}
	for _, i := range indexes {
		if v, ok := m.verdicts[i]; ok {
			out[i] = v
		}
	}
	return out, nil
}

// Triage implements Store.
func (m *Mem) Triage(ctx context.Context, t finding.Transition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.keys[t.ID] {
		return ErrNotFound
	}
	cur := m.states[t.ID]
	if cur == "" {
		cur = finding.StateOpen
	}
	if cur != t.From {
		return ErrConflict
	}
	m.states[t.ID] = t.To
	m.history = append(m.history, t)
	return nil
}

// History implements Store.
func (m *Mem) History(ctx context.Context, id string) ([]finding.Transition, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []finding.Transition
	for _, t := range m.history {
		if t.ID == id {
			out = append(out, t)
		}
	}
	return out, nil
}

// CountFindings implements Store.
func (m *Mem) CountFindings(ctx context.Context) ([]Count, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := map[[2]string]int{}
	for _, f := range m.findings {
		n[[2]string{f.Rule, f.Submitter}]++
	}
	var out []Count
	for k, v := range n {
		out = append(out, Count{Rule: k[0], Submitter: k[1], N: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Submitter < out[j].Submitter
	})
	return out, nil
}

// AddCheckpoint implements Store.
func (m *Mem) AddCheckpoint(ctx context.Context, cp Checkpoint) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range m.checkpoints {
		if c.Size == cp.Size && c.Root == cp.Root {
			m.checkpoints[i].Note, _ = MergeNotes(c.Note, cp.Note)
			m.checkpoints[i].Cosigners = mergeCosigners(c.Cosigners, cp.Cosigners)
			m.checkpoints[i].Sources = mergeCosigners(c.Sources, []string{cp.Source})
			return false, nil
		}
	}
	cp.Note, cp.Cosigners = bytes.Clone(cp.Note), slices.Clone(cp.Cosigners)
	cp.Sources = []string{cp.Source}
	m.checkpoints = append(m.checkpoints, cp)
	return true, nil
}

func (m *Mem) selectCheckpoints(keep func(Checkpoint) bool) []Checkpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Checkpoint
	for _, c := range m.checkpoints {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// CheckpointsAtSize implements Store.
func (m *Mem) CheckpointsAtSize(ctx context.Context, size uint64) ([]Checkpoint, error) {
	return m.selectCheckpoints(func(c Checkpoint) bool { return c.Size == size }), nil
}

// Unchecked implements Store.
func (m *Mem) Unchecked(ctx context.Context, maxSize uint64) ([]Checkpoint, error) {
	return m.selectCheckpoints(func(c Checkpoint) bool { return !c.Checked && c.Size <= maxSize }), nil
}

// MarkChecked implements Store.
func (m *Mem) MarkChecked(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.checkpoints {
		if m.checkpoints[i].ID() == id {
			m.checkpoints[i].Checked = true
		}
	}
	return nil
}

// RecentCheckpoints implements Store.
func (m *Mem) RecentCheckpoints(ctx context.Context, limit int) ([]Checkpoint, error) {
	out := m.selectCheckpoints(func(Checkpoint) bool { return true })
	sort.SliceStable(out, func(i, j int) bool { return out[i].Size > out[j].Size })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AddEvidence implements Store.
func (m *Mem) AddEvidence(ctx context.Context, id string, bundle []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.evidence[id]; !ok {
		m.evidence[id] = bundle
		m.evidenceIDs = append(m.evidenceIDs, id)
	}
	return nil
}

// Evidence implements Store.
func (m *Mem) Evidence(ctx context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.evidence[id]
	if !ok {
		return nil, ErrNotFound
	}
	return b, nil
}

// EvidenceIDs implements Store.
func (m *Mem) EvidenceIDs(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.evidenceIDs), nil
}

// SeenBy implements Store.
func (m *Mem) SeenBy(ctx context.Context, t time.Time) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var size uint64
	var any bool
	for _, c := range m.checkpoints {
		if !c.Seen.After(t) {
			size, any = max(size, c.Size), true
		}
	}
	return size, any, nil
}

// AddPromise implements Store.
func (m *Mem) AddPromise(ctx context.Context, p Promise) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.promises[p.LeafHash]; ok {
		return false, nil
	}
	m.promises[p.LeafHash] = p
	return true, nil
}

// Promise implements Store.
func (m *Mem) Promise(ctx context.Context, leaf c2sp.Hash) (Promise, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.promises[leaf]
	if !ok {
		return Promise{}, ErrNotFound
	}
	return p, nil
}

// PendingPromises implements Store.
func (m *Mem) PendingPromises(ctx context.Context) ([]Promise, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Promise
	for _, p := range m.promises {
		if p.Status == PromisePending {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Promise) int { return a.Deadline.Compare(b.Deadline) })
	return out, nil
}

// ResolvePromise implements Store.
func (m *Mem) ResolvePromise(ctx context.Context, p Promise, fs []finding.Finding) error {
	m.mu.Lock()
	old, ok := m.promises[p.LeafHash]
	if !ok {
		m.mu.Unlock()
		return ErrNotFound
	}
	old.Index, old.Status, old.Detail = p.Index, p.Status, p.Detail
	m.promises[p.LeafHash] = old
	m.mu.Unlock()
	return m.AddFindings(ctx, fs)
}
