// Package finding defines what the monitor reports: a Finding names the rule
// that fired, the log indices and event ids it cites, and a one-line detail
// that never quotes an event body. Every stage of the monitor (the follower,
// the entry checker, the split-view detector and the compliance rules)
// produces findings; the store keeps them, the HTTP API and reports list them.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Severity ranks a finding.
type Severity string

// Severities, from the most to the least urgent.
const (
	// Critical: the log itself misbehaved (split view, bad signature, entries
	// that do not match the signed tree).
	Critical Severity = "critical"
	// High: an entry the log should have rejected, or a compliance breach.
	High Severity = "high"
	// Medium: an anomaly worth a human look (break-glass, volume).
	Medium Severity = "medium"
	// Review: an event that policy asks a person to review, although it is
	// allowed (every break-glass access).
	Review Severity = "review"
)

// NoIndex is the Index of a finding that cites no log entry.
const NoIndex = -1

// Finding is one problem the monitor found. Detail never holds event bodies,
// tags or commitments beyond what identifies the problem.
type Finding struct {
	// Rule names the check that fired, such as "access_without_consent".
	Rule string `json:"rule"`
	// Severity ranks the finding.
	Severity Severity `json:"severity"`
	// Index is the log index of the entry the finding is about, or NoIndex.
	Index int64 `json:"index"`
	// EventIDs are the event ids involved, the finding's own entry first.
	EventIDs []string `json:"event_ids,omitempty"`
	// Submitter is the organisation of the entry, if any.
	Submitter string `json:"submitter,omitempty"`
	// Detail is one line for a human.
	Detail string `json:"detail"`
	// Evidence is the id of a split-view evidence bundle, if any.
	Evidence string `json:"evidence,omitempty"`
	// Time is when the monitor recorded the finding.
	Time time.Time `json:"time"`
	// EventTime is the occurred_at of the entry the finding is about
	// (zero for findings about the log itself or an unreadable entry).
	EventTime time.Time `json:"event_time,omitzero"`
	// ID (Key) and State (one of the States) are set by the store when it
	// returns a finding; they are not part of what a rule reports.
	ID    string `json:"id,omitempty"`
	State State  `json:"state,omitempty"`
}

// Key identifies the finding for deduplication: the same rule firing on the
// same entries with the same detail (as happens when a round is replayed
// after a restart, or when the log serves the same garbage on every poll)
// is one finding.
func (f Finding) Key() string {
	h := sha256.New()
	h.Write([]byte(f.Rule + "\x00" + strconv.FormatInt(f.Index, 10) + "\x00" +
		strings.Join(f.EventIDs, ",") + "\x00" + f.Detail + "\x00" + f.Evidence))
	return hex.EncodeToString(h.Sum(nil))
}

// Filter selects findings; zero fields match everything.
type Filter struct {
	Rule      string
	Submitter string
	Severity  Severity
	State     State
	Since     time.Time // recorded at or after (inclusive)
	Until     time.Time // recorded before (exclusive)
	// EventSince and EventUntil select by the event's time (EventTime);
	// either one set leaves out findings without an event time.
	EventSince time.Time // inclusive
	EventUntil time.Time // exclusive
	Offset     int       // skip this many of the matches (newest first)
	Limit      int       // 0: no limit
}

// Match reports whether f passes the filter (Offset and Limit aside); f's
// State counts as StateOpen when empty.
func (q Filter) Match(f Finding) bool {
	state := f.State
	if state == "" {
		state = StateOpen
	}
	eventTimed := q.EventSince.IsZero() && q.EventUntil.IsZero() || !f.EventTime.IsZero()
	return (q.Rule == "" || q.Rule == f.Rule) &&
		(q.Submitter == "" || q.Submitter == f.Submitter) &&
		(q.Severity == "" || q.Severity == f.Severity) &&
		(q.State == "" || q.State == state) &&
		(q.Since.IsZero() || !f.Time.Before(q.Since)) &&
		(q.Until.IsZero() || f.Time.Before(q.Until)) &&
		eventTimed &&
		(q.EventSince.IsZero() || !f.EventTime.Before(q.EventSince)) &&
		(q.EventUntil.IsZero() || f.EventTime.Before(q.EventUntil))
}
