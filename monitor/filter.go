package monitor

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/htlog/htlog/monitor/finding"
)

// PageSize is how many findings a page of the dashboard lists.
const PageSize = 50

// ruleName and orgID bound what a filter may ask for.
var (
	ruleName = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	orgID    = regexp.MustCompile(`^[a-z0-9]{1,16}:[A-Za-z0-9._-]{1,64}$`)
)

// parseTime reads a filter's time: a date (YYYY-MM-DD, midnight UTC), a
// datetime-local value (YYYY-MM-DDTHH:MM, UTC) or an RFC 3339 time.
func parseTime(key, s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: must be a date such as 2026-05-03 or an RFC 3339 time, got %q", key, trim(s))
}

// parseFilter reads the findings filter of the dashboard and GET /findings:
// rule, org (or submitter), severity, state, from and to (the event's
// time: from inclusive, to exclusive; a date alone for "to" counts its
// whole day), page (from 1, PageSize a page) or limit.
func parseFilter(q url.Values) (finding.Filter, int, error) {
	var f finding.Filter
	page := 1
	if v := q.Get("rule"); v != "" {
		if !ruleName.MatchString(v) {
			return f, 0, errors.New("rule: must be a rule name such as access_without_consent")
		}
		f.Rule = v
	}
	org := q.Get("org")
	if org == "" {
		org = q.Get("submitter")
	}
	if org != "" {
		if !orgID.MatchString(org) {
			return f, 0, errors.New("org: must be an organisation id such as npi:1234567893")
		}
		f.Submitter = org
	}
	if v := q.Get("severity"); v != "" {
		s, err := finding.ParseSeverity(v)
		if err != nil {
			return f, 0, err
		}
		f.Severity = s
	}
	if v := q.Get("state"); v != "" {
		s, err := finding.ParseState(v)
		if err != nil {
			return f, 0, err
		}
		f.State = s
	}
	if v := q.Get("from"); v != "" {
		t, err := parseTime("from", v)
		if err != nil {
			return f, 0, err
		}
		f.EventSince = t
	}
	if v := q.Get("to"); v != "" {
		t, err := parseTime("to", v)
		if err != nil {
			return f, 0, err
		}
		if len(v) == len(time.DateOnly) {
			t = t.AddDate(0, 0, 1)
		}
		f.EventUntil = t
	}
	if !f.EventSince.IsZero() && !f.EventUntil.IsZero() && !f.EventSince.Before(f.EventUntil) {
		return f, 0, errors.New("from: must be before to")
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return f, 0, errors.New("page: must be a number from 1 to 100000")
		}
		page = n
	}
	f.Limit, f.Offset = PageSize, (page-1)*PageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return f, 0, errors.New("limit: must be a number between 1 and 100000")
		}
		f.Limit, f.Offset = n, 0
	}
	return f, page, nil
}
