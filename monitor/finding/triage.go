package finding

import (
	"fmt"
	"time"
)

// State is where a finding stands in a regulator's triage.
type State string

// The states of a finding. Every finding starts open.
const (
	// StateOpen: nobody has looked at it yet (or it was reopened).
	StateOpen State = "open"
	// StateAcknowledged: a regulator has seen it and is following it up.
	StateAcknowledged State = "acknowledged"
	// StateDisputed: the finding is contested (the submitter or the
	// regulator holds it to be wrong), pending a decision.
	StateDisputed State = "disputed"
	// StateResolved: closed, with a note saying how.
	StateResolved State = "resolved"
)

// States lists the states in triage order.
var States = []State{StateOpen, StateAcknowledged, StateDisputed, StateResolved}

// ParseState returns the State named s, or an error naming the states.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("state: must be open, acknowledged, disputed or resolved, got %q", s)
}

// Severities lists the severities, most urgent first.
var Severities = []Severity{Critical, High, Medium, Review}

// ParseSeverity returns the Severity named s, or an error.
func ParseSeverity(s string) (Severity, error) {
	for _, sv := range Severities {
		if string(sv) == s {
			return sv, nil
		}
	}
	return "", fmt.Errorf("severity: must be critical, high, medium or review, got %q", s)
}

// CheckMove returns nil if a finding in state from may move to state to,
// else an error saying why not: open moves to acknowledged, disputed or
// resolved; acknowledged to disputed or resolved; disputed to acknowledged
// or resolved; resolved only back to open (reopened).
func CheckMove(from, to State) error {
	allowed := map[State][]State{
		StateOpen:         {StateAcknowledged, StateDisputed, StateResolved},
		StateAcknowledged: {StateDisputed, StateResolved},
		StateDisputed:     {StateAcknowledged, StateResolved},
		StateResolved:     {StateOpen},
	}
	next, ok := allowed[from]
	if !ok {
		return fmt.Errorf("the finding is in an unknown state %q", from)
	}
	if from == to {
		return fmt.Errorf("the finding is already %s", to)
	}
	for _, s := range next {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("a finding that is %s cannot become %s", from, to)
}

// Transition is one change of a finding's triage state: who made it, when,
// from which state to which, and the note they gave.
type Transition struct {
	// ID is the finding's Key.
	ID   string    `json:"id"`
	Who  string    `json:"who"`
	At   time.Time `json:"at"`
	From State     `json:"from"`
	To   State     `json:"to"`
	Note string    `json:"note"`
}

// VerdictKind is what the compliance rules concluded about one entry,
// beside its findings.
type VerdictKind uint8

// The verdict kinds. An entry the rules judged with nothing to add has
// no verdict.
const (
	// Allowed: an access the consent rule matched to a consent grant
	// (Verdict.ConsentIndex, Verdict.ConsentAt).
	Allowed VerdictKind = iota + 1
	// PermittedDisclosure: a disclosure under a legal basis that needs no
	// authorization (HIPAA 164.512, TPO, to the patient).
	PermittedDisclosure
	// Held: an access citing a consent not logged yet, which the consent
	// rule waits for (the settle window); a later verdict or finding
	// settles it.
	Held
)

// Verdict is the rules' conclusion about one entry. Rules record one for
// an entry when they judge it; a later one for the same index (an access
// held for its consent, judged when the consent is logged) replaces it.
type Verdict struct {
	Index   uint64
	EventID string
	Kind    VerdictKind
	// ConsentIndex is the log index of the consent grant that allowed the
	// access, or -1; ConsentAt is that grant's occurred_at.
	ConsentIndex int64
	ConsentAt    time.Time
}
