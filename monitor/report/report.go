// Package report writes the monitor's findings for auditors: a JSON array
// or CSV with one row a finding, as `htlog-monitor report` prints them.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/htlog/htlog/monitor/finding"
)

// Formats are the supported output formats.
var Formats = []string{"json", "csv"}

// Write writes fs to w in format (json or csv).
func Write(w io.Writer, fs []finding.Finding, format string) error {
	switch format {
	case "json":
		if fs == nil {
			fs = []finding.Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(fs); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"time", "rule", "severity", "index", "submitter", "event_ids", "evidence", "detail"})
		for _, f := range fs {
			idx := ""
			if f.Index != finding.NoIndex {
				idx = strconv.FormatInt(f.Index, 10)
			}
			cw.Write([]string{f.Time.UTC().Format(time.RFC3339), f.Rule, string(f.Severity), idx, f.Submitter,
				strings.Join(f.EventIDs, " "), f.Evidence, f.Detail})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("couldn't write the report: %w", err)
		}
		return nil
	}
	return fmt.Errorf("format: must be json or csv, got %q", format)
}
