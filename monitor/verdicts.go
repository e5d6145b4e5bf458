package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/rules"
	"golang.org/x/mod/sumdb/note"
)

// Verdicts is the JSON line of a verdicts note: what the monitor concluded
// about each entry asked for, as of CheckedSize entries replayed.
type Verdicts struct {
	CheckedSize uint64                `json:"checked_size"`
	Verdicts    []client.EntryVerdict `json:"verdicts"`
}

// summaries say in plain words what each rule about an entry means.
var summaries = map[string]string{
	"access_without_consent":    "No consent was found that allows this access.",
	"access_after_revocation":   "This access happened after the consent it relies on was withdrawn.",
	"break_glass_review":        "Emergency (break-glass) access: allowed without consent, and to be reviewed.",
	"break_glass":               "The staff member made more emergency accesses than policy expects.",
	"access_volume":             "The staff member opened an unusually large number of records in a short time.",
	"disclosure_accounting":     "This disclosure lacks the recipient, description or purpose an accounting of disclosures needs.",
	rules.RuleSettleOverflow:    "The monitor could not check this event completely.",
	entrycheck.RulePrivacy:      "This event may contain identifying information the log should have refused.",
	entrycheck.RuleSignature:    "This event's signature does not verify.",
	entrycheck.RuleSubmitter:    "This event comes from an organisation not registered to submit it.",
	entrycheck.RuleSchema:       "This event does not follow the log's format.",
	entrycheck.RuleMalformed:    "This event does not follow the log's format.",
	entrycheck.RuleNotCanonical: "This event does not follow the log's format.",
	entrycheck.RuleIdentity:     "This event names an organisation its submitter may not speak for.",
	entrycheck.RuleTime:         "This event's time is out of the allowed window.",
}

// Summary returns the plain-English summary of a rule's findings.
func Summary(rule string) string {
	if s, ok := summaries[rule]; ok {
		return s
	}
	return "The monitor raised a finding (" + strings.ReplaceAll(rule, "_", " ") + ") about this event."
}

// plainSeverity maps a severity to the three levels a verdicts note uses.
func plainSeverity(s finding.Severity) string {
	switch s {
	case finding.Critical, finding.High:
		return "high"
	case finding.Medium:
		return "medium"
	}
	return "low"
}

// ParseEntries parses the entries parameter of GET /verdicts: 1 to
// client.MaxVerdictEntries comma-separated decimal leaf indexes, each once.
func ParseEntries(s string) ([]uint64, error) {
	if s == "" {
		return nil, errors.New("entries: required, comma-separated leaf indexes such as entries=3,17")
	}
	parts := strings.Split(s, ",")
	if len(parts) > client.MaxVerdictEntries {
		return nil, fmt.Errorf("entries: at most %d indexes, got %d", client.MaxVerdictEntries, len(parts))
	}
	out := make([]uint64, 0, len(parts))
	for _, p := range parts {
		if p == "" || len(p) > 20 || strings.TrimLeft(p, "0123456789") != "" || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("entries: %q is not a leaf index (a decimal number without leading zeros)", trim(p))
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n > 1<<62 {
			return nil, fmt.Errorf("entries: %q is out of range", trim(p))
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("entries: %d is asked for twice", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func trim(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// Verdicts returns the monitor's verdicts on entries, as of the latest
// checkpoint it confirmed.
func (m *Monitor) Verdicts(ctx context.Context, entries []uint64) (*Verdicts, error) {
	out := &Verdicts{Verdicts: make([]client.EntryVerdict, 0, len(entries))}
	if c := m.Confirmed(); c != nil {
		out.CheckedSize = c.Size
	}
	var checked []uint64
	for _, e := range entries {
		if e < out.CheckedSize {
			checked = append(checked, e)
		}
	}
	fs, err := m.cfg.Store.FindingsAt(ctx, checked)
	if err != nil {
		return nil, err
	}
	vs, err := m.cfg.Store.Verdicts(ctx, checked)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		v := client.EntryVerdict{Entry: e, Findings: []client.VerdictFinding{}}
		if e >= out.CheckedSize {
			v.Status = client.VerdictNotCheckedYet
			out.Verdicts = append(out.Verdicts, v)
			continue
		}
		flagged, review := false, false
		for _, f := range fs {
			if f.Index != int64(e) {
				continue
			}
			if v.EventID == "" && len(f.EventIDs) > 0 {
				v.EventID = f.EventIDs[0]
			}
			v.Findings = append(v.Findings, client.VerdictFinding{ID: f.ID, Rule: f.Rule, Severity: plainSeverity(f.Severity),
				State: string(f.State), Summary: Summary(f.Rule)})
			if f.State != finding.StateResolved {
				if f.Rule == "break_glass_review" {
					review = true
				} else {
					flagged = true
				}
			}
		}
		rv, ok := vs[e]
		if ok {
			v.EventID = rv.EventID
		}
		switch {
		case flagged:
			v.Status = client.VerdictFlagged
		case review:
			v.Status = client.VerdictUnderReview
		case ok && rv.Kind == finding.Allowed:
			v.Status = client.VerdictAllowed
		case ok && rv.Kind == finding.PermittedDisclosure:
			v.Status = client.VerdictPermittedDisclosure
		case ok && rv.Kind == finding.Held:
			v.Status = client.VerdictNotCheckedYet // its consent may still be logged
		default:
			v.Status = client.VerdictNoFinding
		}
		if ok && rv.Kind == finding.Allowed {
			ci := uint64(rv.ConsentIndex)
			v.ConsentEntry = &ci
			if !rv.ConsentAt.IsZero() {
				at := rv.ConsentAt.UTC()
				v.ConsentAt = &at
			}
		}
		out.Verdicts = append(out.Verdicts, v)
	}
	return out, nil
}

// SignVerdicts returns v as a signed note: client.VerdictsHeader, the origin and
// v's JSON, signed by signer.
func SignVerdicts(signer note.Signer, origin string, v *Verdicts) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("couldn't encode verdicts: %w", err)
	}
	return note.Sign(&note.Note{Text: client.VerdictsHeader + "\n" + origin + "\n" + string(b) + "\n"}, signer)
}

// OpenVerdicts verifies a verdicts note with the monitor's verifier and
// returns its contents; origin is the log the verdicts must be about.
func OpenVerdicts(msg []byte, verifier note.Verifier, origin string) (*Verdicts, error) {
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("the verdicts do not verify with the monitor's key: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) != 4 || lines[0] != client.VerdictsHeader || lines[1] != origin || lines[3] != "" {
		return nil, errors.New("the note is not a verdicts note about this log")
	}
	dec := json.NewDecoder(strings.NewReader(lines[2]))
	dec.DisallowUnknownFields()
	var v Verdicts
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("couldn't decode the verdicts: %w", err)
	}
	return &v, nil
}

// handleVerdicts is GET /verdicts?entries=...: public, CORS-open, signed.
func (m *Monitor) handleVerdicts(w http.ResponseWriter, r *http.Request) (int, error) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if m.cfg.Signer == nil {
		return http.StatusNotFound, errors.New("this monitor does not sign verdicts")
	}
	entries, err := ParseEntries(r.URL.Query().Get("entries"))
	if err != nil {
		return http.StatusBadRequest, err
	}
	v, err := m.Verdicts(r.Context(), entries)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	signed, err := SignVerdicts(m.cfg.Signer, m.origin, v)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(signed)
	return 0, nil
}
