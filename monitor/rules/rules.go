// Package rules holds the monitor's compliance rules. Each rule is a small
// state machine fed every verified entry in log order; it returns findings
// that cite the entries' indices and event ids. A rule's state is a plain
// JSON-serialisable struct so the monitor can store it with its position and
// resume after a restart without re-reading the log.
//
// Rules judge what the log says, but not strictly in log order: submitters
// batch their events and log them late. A rule that finds an event missing
// its counterpart (an access whose consent is not logged yet, a receipt
// whose shipment is not) holds it until the counterpart is logged or the
// log has moved a settle window past it; a rule that a late event can
// change (a revocation of a consent already used, a dispensing after which a
// movement was logged) keeps the recent events it may need for the same
// window. The window is measured on the log's own clock, the latest
// occurred_at seen, never the monitor's, so the findings depend only on the
// log's entries, however the monitor's rounds split it (settle.go). A
// finding about a held event is returned by a later entry's Observe but
// cites the held event's index and id first.
package rules

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// Rule is one compliance rule. Rules are not safe for concurrent use: the
// Engine calls them from one goroutine, in log order.
type Rule interface {
	// Name is the rule's stable name, used in findings and filters.
	Name() string
	// Observe looks at the next entry and returns the findings it causes.
	Observe(e *entry.Entry) []finding.Finding
	// State returns a pointer to the rule's state, which json.Marshal and
	// json.Unmarshal can round-trip.
	State() any
}

// Options tune the rules; zero fields take the defaults.
type Options struct {
	// BreakGlassMax is how many break-glass (ETREAT) accesses one agent
	// tag may make within BreakGlassWindow before a finding (default 2).
	BreakGlassMax    int
	BreakGlassWindow time.Duration // default 24h
	// VolumeMax is how many accesses one agent tag may make within
	// VolumeWindow before a finding (default 100).
	VolumeMax    int
	VolumeWindow time.Duration // default 1h
	// ConsentPurposes are the purposes of use for which an access needs a
	// consent (besides every disclosure and every access that cites one);
	// default HRESCH, PUBHLTH, HPAYMT excluded: research and marketing-like uses.
	ConsentPurposes []string
	// SettleWindow is how far the log's clock (the latest occurred_at of
	// any entry logged so far) must move past the point where an event was
	// logged before a rule stops waiting for a counterpart logged late (a
	// consent grant, a shipment, a decommissioning, a verification, a
	// registration) and reports the event; it is also how long a rule
	// keeps recent events a late event may concern (accesses for a late
	// revocation, movements for a late dispensing or recall), and how long
	// missing_trial_results waits past a deadline for results logged late
	// (default 24h). Hospitals and wholesalers that submit in batches
	// later than this get findings that a timely log would not. A negative
	// window turns waiting off: every event is judged on its own entry.
	SettleWindow time.Duration
	// SettleMax bounds each of the ten queues of held and recent events
	// (default 4,096 items each). Over it the oldest item leaves early: a
	// held event is reported at once (its finding says "judged early"), a
	// recent one is dropped, and a late event that may have needed a
	// dropped one is reported as settle_overflow.
	SettleMax int
}

func (o Options) withDefaults() Options {
	if o.BreakGlassMax == 0 {
		o.BreakGlassMax = 2
	}
	if o.BreakGlassWindow == 0 {
		o.BreakGlassWindow = 24 * time.Hour
	}
	if o.VolumeMax == 0 {
		o.VolumeMax = 100
	}
	if o.VolumeWindow == 0 {
		o.VolumeWindow = time.Hour
	}
	if o.SettleWindow == 0 {
		o.SettleWindow = 24 * time.Hour
	}
	if o.SettleMax <= 0 {
		o.SettleMax = 4096
	}
	if o.ConsentPurposes == nil {
		o.ConsentPurposes = []string{"HRESCH"}
	}
	return o
}

// All returns every rule, configured by o.
func All(o Options) []Rule {
	o = o.withDefaults()
	s := settler{window: o.SettleWindow, max: o.SettleMax}
	consents := newConsentBook(s)
	pk := newPacking()
	return []Rule{
		consents,
		&AccessWithoutConsent{book: consents, purposes: o.ConsentPurposes, s: s},
		&AccessAfterRevocation{book: consents, s: s},
		newBreakGlass(o.BreakGlassMax, o.BreakGlassWindow),
		BreakGlassReview{},
		newVolume(o.VolumeMax, o.VolumeWindow),
		DisclosureAccounting{},
		newDuplicateCommissioning(s),
		pk,
		newCustodyChain(s, pk),
		newReturnVerification(s, pk),
		newSuspectProduct(s, pk),
		newCustodyOwnership(s, pk),
		newLotRecall(s, pk),
		newLateRegistration(s),
		newTrialAuthority(),
		newOutcomeSwitching(),
		newMissingResults(s),
	}
}

// Engine runs rules in order over each entry. Its state, held and recent
// events included, is saved as rows, only those changed since the last
// save (Changes, Saved, LoadRow: state.go), or whole (Snapshot, Restore);
// an engine loaded from either and fed the rest of the log returns the same
// findings as one that never stopped. The held and recent events add at
// most ten queues of Options.SettleMax items to it; see docs/monitor.md
// for the bytes.
type Engine struct {
	rules []Rule
	// savedRest is each rule's scalars row as last saved; pendingRest
	// those Changes returned, saved by Saved.
	savedRest, pendingRest map[string][]byte
	// index maps a table name to its part during a load.
	index map[string]any
	// verdicts are those of the entries observed since Verdicts was last
	// called.
	verdicts []finding.Verdict
}

// verdicter is a rule that concludes more about an entry than its
// findings (the consent rule: which consent allowed an access).
type verdicter interface {
	takeVerdicts() []finding.Verdict
}

// Verdicts returns, and forgets, the verdicts reached since it was last
// called, in the order they were reached (an access held for its consent
// gets its verdict when the consent is logged).
func (g *Engine) Verdicts() []finding.Verdict {
	v := g.verdicts
	g.verdicts = nil
	return v
}

// NewEngine returns an engine running rules.
func NewEngine(rules []Rule) *Engine { return &Engine{rules: rules} }

// Names returns the rules' names.
func (g *Engine) Names() []string {
	var out []string
	for _, r := range g.rules {
		if r.Name() != "" {
			out = append(out, r.Name())
		}
	}
	return out
}

// Observe runs every rule on e.
func (g *Engine) Observe(e *entry.Entry) []finding.Finding {
	var out []finding.Finding
	for _, r := range g.rules {
		out = append(out, r.Observe(e)...)
		if v, ok := r.(verdicter); ok {
			g.verdicts = append(g.verdicts, v.takeVerdicts()...)
		}
	}
	for i := range out {
		if out[i].Index == int64(e.Index) && out[i].EventTime.IsZero() {
			out[i].EventTime = e.Time
		}
	}
	return out
}

// Snapshot returns every rule's state as one JSON object.
func (g *Engine) Snapshot() ([]byte, error) {
	m := map[string]any{}
	for i, r := range g.rules {
		m[stateKey(i, r)] = r.State()
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the rules' state: %w", err)
	}
	return b, nil
}

// Restore loads state Snapshot returned; rules missing from it start empty.
func (g *Engine) Restore(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("couldn't decode the rules' state: %w", err)
	}
	for i, r := range g.rules {
		if raw, ok := m[stateKey(i, r)]; ok {
			if err := json.Unmarshal(raw, r.State()); err != nil {
				return fmt.Errorf("couldn't decode the state of rule %s: %w", stateKey(i, r), err)
			}
		}
	}
	g.eachRowSet(func(_ string, rs rowSet) {
		if q, ok := rs.(interface{ number() }); ok {
			q.number()
		}
	})
	return nil
}

func stateKey(i int, r Rule) string {
	if n, ok := r.(interface{ stateName() string }); ok {
		return n.stateName()
	}
	if r.Name() == "" {
		return fmt.Sprintf("state%d", i)
	}
	return r.Name()
}

// newFinding builds a finding about e.
func newFinding(rule string, sev finding.Severity, e *entry.Entry, detail string, others ...string) finding.Finding {
	ids := append([]string{e.ID}, others...)
	return finding.Finding{Rule: rule, Severity: sev, Index: int64(e.Index), EventIDs: ids,
		Submitter: e.Org(), Detail: detail, EventTime: e.Time}
}
