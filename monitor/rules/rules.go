// Package rules holds the monitor's compliance rules. Each rule is a small
// state machine fed every verified entry in log order; it returns findings
// that cite the entries' indices and event ids. A rule's state is a plain
// JSON-serialisable struct so the monitor can store it with its position and
// resume after a restart without re-reading the log.
//
// Rules judge what the log says, in log order: an access is checked against
// the consents logged before it.
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
	if o.ConsentPurposes == nil {
		o.ConsentPurposes = []string{"HRESCH"}
	}
	return o
}

// All returns every rule, configured by o.
func All(o Options) []Rule {
	o = o.withDefaults()
	consents := newConsentBook()
	return []Rule{
		consents,
		&AccessWithoutConsent{book: consents, purposes: o.ConsentPurposes},
		&AccessAfterRevocation{book: consents},
		newBreakGlass(o.BreakGlassMax, o.BreakGlassWindow),
		newVolume(o.VolumeMax, o.VolumeWindow),
		DisclosureAccounting{},
		newDuplicateCommissioning(),
		newCustodyChain(),
		newReturnVerification(),
		newLateRegistration(),
		newOutcomeSwitching(),
		newMissingResults(),
	}
}

// Engine runs rules in order over each entry.
type Engine struct {
	rules []Rule
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
	return nil
}

func stateKey(i int, r Rule) string {
	if r.Name() == "" {
		return fmt.Sprintf("state%d", i)
	}
	return r.Name()
}

// newFinding builds a finding about e.
func newFinding(rule string, sev finding.Severity, e *entry.Entry, detail string, others ...string) finding.Finding {
	ids := append([]string{e.ID}, others...)
	return finding.Finding{Rule: rule, Severity: sev, Index: int64(e.Index), EventIDs: ids,
		Submitter: e.Org(), Detail: detail}
}
