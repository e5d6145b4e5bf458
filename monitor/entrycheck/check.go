// Package entrycheck judges one logged entry with the log's own admission
// check (package admission, the code htlog-server runs before accepting an
// event): anything an honest, current log would have refused becomes a
// finding, and only entries it would have admitted reach the compliance
// rules, so no entry, however hostile, can stop the rules or move their
// clock. Checker is safe for concurrent use, so the monitor checks a
// bundle's entries in parallel.
package entrycheck

import (
	"bytes"
	"time"

	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/schemas"
)

// Rule names of the findings Check returns.
const (
	RuleMalformed    = "malformed_entry"
	RuleNotCanonical = "non_canonical_entry"
	RuleSubmitter    = "unknown_submitter"
	RuleSignature    = "bad_signature"
	RuleSchema       = "schema_invalid"
	RulePrivacy      = "privacy_violation"
	RuleIdentity     = "identity_violation"
	RuleTime         = "time_out_of_window"
)

// ruleOf maps an admission refusal code to the finding rule.
var ruleOf = map[string]string{
	admission.CodeMalformed:    RuleMalformed,
	admission.CodeNotCanonical: RuleNotCanonical,
	admission.CodeSubmitter:    RuleSubmitter,
	admission.CodeForbidden:    RuleSubmitter,
	admission.CodeSignature:    RuleSignature,
	admission.CodeSchema:       RuleSchema,
	admission.CodePrivacy:      RulePrivacy,
	admission.CodeIdentity:     RuleIdentity,
	admission.CodeTime:         RuleTime,
}

// RuleOf returns the finding rule of an admission refusal code.
func RuleOf(code string) string { return ruleOf[code] }

// Checker checks entries with the admission check.
type Checker struct {
	// Admission is the log's admission check, configured for replay
	// (every schema version a log ever admitted, no late bound).
	Admission *admission.Checker
	// Now is the clock entries must not lie ahead of (time.Now if nil).
	Now func() time.Time
}

// Config configures New.
type Config struct {
	// Registry returns the submitter registry in force.
	Registry func() *registry.Registry
	// Validator validates bodies.
	Validator *schemas.Validator
	// MaxAhead and URLPrefixes must match the log's admission settings;
	// zero values take the log's defaults.
	MaxAhead    time.Duration
	URLPrefixes []string
}

// New returns a Checker running the log's admission check configured for
// replay: every schema version a log ever admitted, the log's bound on
// times ahead of the clock, and no late bound (replay cannot know when an
// entry was admitted).
func New(cfg Config) (*Checker, error) {
	adm, err := admission.New(admission.Config{Registry: cfg.Registry, Validator: cfg.Validator, MinVersion: 1,
		MaxAhead: cfg.MaxAhead, MaxBehind: -1, URLPrefixes: cfg.URLPrefixes})
	if err != nil {
		return nil, err
	}
	return &Checker{Admission: adm}, nil
}

// Result is what Check learned about one entry.
type Result struct {
	// Entry is the decoded entry, nil unless the log should have admitted
	// it (the rules must not act on anything else).
	Entry *entry.Entry
	// Findings are the problems found, in order.
	Findings []finding.Finding
}

// Check verifies the entry at index.
func (c *Checker) Check(index uint64, raw []byte) Result {
	var res Result
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	v := c.Admission.Check(raw, now(), true)
	id, org := v.ID, ""
	var at time.Time
	if v.Event != nil {
		org, at = v.Event.Submitter.Org, v.Event.Time().UTC()
		if at.Year() < 1 || at.Year() > 9999 { // keep only a time JSON can write
			at = time.Time{}
		}
	}
	fire := func(rule, detail string) {
		f := finding.Finding{Rule: rule, Severity: finding.High, Index: int64(index), Submitter: org, Detail: detail,
			EventTime: at}
		if id != "" {
			f.EventIDs = []string{id}
		}
		res.Findings = append(res.Findings, f)
	}
	if v.Envelope != nil && !v.Canonical {
		fire(RuleNotCanonical, "the logged envelope is not in canonical form")
	}
	for _, r := range v.Refusals {
		fire(ruleOf[r.Code], oneLine(r.Reason))
	}
	if !v.OK() || !v.Authentic {
		return res
	}
	// event.ParseEvent admits only times RFC 3339 can write back (the rules
	// save the times they keep; one they could not write would stop the
	// monitor at every commit).
	e, err := decodeEntry(index, id, v.Event, v.Event.Time(), v.Body)
	if err != nil {
		fire(RuleMalformed, oneLine(err.Error()))
		return res
	}
	res.Entry = e
	return res
}

func oneLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
