package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// VerdictsHeader is the first line of the text of a monitor's signed
// verdicts note (GET /verdicts?entries=... on htlog-monitor).
const VerdictsHeader = "htlog-monitor verdicts v1"

// MaxVerdictEntries is how many entries one GET /verdicts may ask about.
const MaxVerdictEntries = 100

// maxVerdictsSize bounds a verdicts note.
const maxVerdictsSize = 1 << 20

// The statuses a monitor gives an entry.
const (
	// VerdictAllowed: an access a consent of the patient allowed
	// (ConsentEntry and ConsentAt say which).
	VerdictAllowed = "allowed"
	// VerdictPermittedDisclosure: a disclosure the law permits without
	// consent (a 164.512 basis, or treatment, payment and operations).
	VerdictPermittedDisclosure = "permitted_disclosure"
	// VerdictUnderReview: an emergency (break-glass) access with an open
	// review finding.
	VerdictUnderReview = "under_review"
	// VerdictFlagged: an entry with another open finding.
	VerdictFlagged = "flagged"
	// VerdictNoFinding: checked, nothing to say.
	VerdictNoFinding = "no_finding"
	// VerdictNotCheckedYet: beyond what the monitor has replayed.
	VerdictNotCheckedYet = "not_checked_yet"
)

var verdictStatuses = []string{VerdictAllowed, VerdictPermittedDisclosure, VerdictUnderReview,
	VerdictFlagged, VerdictNoFinding, VerdictNotCheckedYet}

// EntryVerdict is what one monitor concluded about one log entry.
type EntryVerdict struct {
	Entry        uint64           `json:"entry"`
	EventID      string           `json:"event_id,omitempty"`
	Status       string           `json:"status"`
	ConsentEntry *uint64          `json:"consent_entry,omitempty"`
	ConsentAt    *time.Time       `json:"consent_at,omitempty"`
	Findings     []VerdictFinding `json:"findings"`
}

// VerdictFinding is a monitor's finding about an entry, without detail.
type VerdictFinding struct {
	ID       string `json:"id"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	State    string `json:"state"`
	Summary  string `json:"summary"`
}

// MonitorVerdicts are the verdicts of one monitor, verified with its key.
type MonitorVerdicts struct {
	// Monitor is the name of the monitor's key (its signed-note key name).
	Monitor string
	// CheckedSize is how many entries the monitor had replayed.
	CheckedSize uint64
	// Entries are the verdicts by entry index.
	Entries map[uint64]EntryVerdict
}

type verdictsJSON struct {
	CheckedSize uint64         `json:"checked_size"`
	Verdicts    []EntryVerdict `json:"verdicts"`
}

// OpenVerdicts verifies a verdicts note with the monitor's signed-note
// verifier key vkey, checks it is about the log origin, and parses it.
// Verdicts about entries that were not asked for are refused. Failures wrap
// ErrNotVerified.
func OpenVerdicts(vkey, origin string, signed []byte, asked []uint64) (*MonitorVerdicts, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("the monitor's key is not a signed-note verifier key: %w", err)
	}
	if len(signed) > maxVerdictsSize {
		return nil, notVerified("verdicts note larger than %d bytes", maxVerdictsSize)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return nil, notVerified("the verdicts do not carry a valid signature by the monitor's key %s: %v", v.Name(), err)
	}
	if err := checkCanonicalSignatures(signed, n.Sigs); err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 3 || lines[0] != VerdictsHeader {
		return nil, notVerified("not a verdicts note (want 3 lines, the first %q)", VerdictsHeader)
	}
	if lines[1] != origin {
		return nil, notVerified("the verdicts are about the log %q, not %q", truncate(lines[1]), origin)
	}
	var j verdictsJSON
	d := json.NewDecoder(strings.NewReader(lines[2]))
	if err := d.Decode(&j); err != nil {
		return nil, notVerified("the verdicts' JSON line: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, notVerified("the verdicts' JSON line has data after the object")
	}
	out := &MonitorVerdicts{Monitor: v.Name(), CheckedSize: j.CheckedSize, Entries: map[uint64]EntryVerdict{}}
	for _, ev := range j.Verdicts {
		if !slices.Contains(asked, ev.Entry) {
			return nil, notVerified("the monitor answered about entry %d, which was not asked for", ev.Entry)
		}
		if _, dup := out.Entries[ev.Entry]; dup {
			return nil, notVerified("the monitor answered twice about entry %d", ev.Entry)
		}
		if !slices.Contains(verdictStatuses, ev.Status) {
			return nil, notVerified("the monitor's status %q for entry %d is not one of %s", truncate(ev.Status), ev.Entry, strings.Join(verdictStatuses, ", "))
		}
		out.Entries[ev.Entry] = ev
	}
	return out, nil
}

// FetchVerdicts asks the monitor m what it found about entries of the log
// origin (GET <m.URL>/verdicts?entries=..., in batches of
// MaxVerdictEntries) and verifies every answer with m.VKey. hc nil means
// http.DefaultClient.
func FetchVerdicts(ctx context.Context, hc *http.Client, m BundleMonitor, origin string, entries []uint64) (*MonitorVerdicts, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	v, err := note.NewVerifier(m.VKey)
	if err != nil {
		return nil, fmt.Errorf("the monitor's key is not a signed-note verifier key: %w", err)
	}
	out := &MonitorVerdicts{Monitor: v.Name(), Entries: map[uint64]EntryVerdict{}}
	for start := 0; start < len(entries); start += MaxVerdictEntries {
		batch := entries[start:min(start+MaxVerdictEntries, len(entries))]
		var q strings.Builder
		for i, e := range batch {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(strconv.FormatUint(e, 10))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(m.URL, "/")+"/verdicts?entries="+q.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("couldn't reach the monitor %s: %w", v.Name(), err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxVerdictsSize+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("couldn't read the monitor %s's answer: %w", v.Name(), err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("the monitor %s answered %d: %s", v.Name(), resp.StatusCode, oneLine(body))
		}
		mv, err := OpenVerdicts(m.VKey, origin, bytes.Clone(body), batch)
		if err != nil {
			return nil, err
		}
		if start == 0 || mv.CheckedSize < out.CheckedSize {
			out.CheckedSize = mv.CheckedSize
		}
		for k, e := range mv.Entries {
			out.Entries[k] = e
		}
	}
	return out, nil
}
