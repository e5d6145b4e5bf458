package admission

import (
	"net/http"
	"time"

	"github.com/htlog/htlog/event"
)

// checkBodyTimes judges the times a version 3 body carries besides
// occurred_at: each is whole minutes, like occurred_at, for the same
// reason; an access's recorded time lies between occurred_at and the upper
// bound of the admission window (an audit record is made after the access,
// never before); a DSCSA notice is not timed before the determination it
// reports. body is the schema-valid decoded body.
func (c *Checker) checkBodyTimes(ev *event.Event, body map[string]any, at, now time.Time) *Refusal {
	switch ev.Kind {
	case "access":
		rec, ok := bodyTime(body, "recorded")
		if !ok {
			return nil
		}
		if r := wholeMinutes("recorded", rec); r != nil {
			return r
		}
		if rec.Before(at) {
			return refuse(CodeTime, http.StatusBadRequest, "body/recorded: before occurred_at (the audit record of an access is made after it)")
		}
		if rec.After(now.Add(c.cfg.MaxAhead)) {
			return refuse(CodeTime, http.StatusBadRequest, "body/recorded: more than %v after the log's clock", c.cfg.MaxAhead)
		}
	case "custody":
		ill, _ := body["illegitimate_product"].(map[string]any)
		var determined time.Time
		for _, f := range []string{"determined_at", "fda_notified_at", "partners_notified_at"} {
			t, ok := bodyTime(ill, f)
			if !ok {
				continue
			}
			if r := wholeMinutes("illegitimate_product/"+f, t); r != nil {
				return r
			}
			if t.After(now.Add(c.cfg.MaxAhead)) {
				return refuse(CodeTime, http.StatusBadRequest, "body/illegitimate_product/%s: more than %v after the log's clock", f, c.cfg.MaxAhead)
			}
			if f == "determined_at" {
				determined = t
			} else if !determined.IsZero() && t.Before(determined) {
				return refuse(CodeTime, http.StatusBadRequest, "body/illegitimate_product/%s: before determined_at (a notice reports a determination)", f)
			}
		}
	}
	return nil
}

// bodyTime reads an RFC 3339 time the schema validated from obj[field].
func bodyTime(obj map[string]any, field string) (time.Time, bool) {
	s, ok := obj[field].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func wholeMinutes(field string, t time.Time) *Refusal {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return refuse(CodeTime, http.StatusBadRequest, "body/%s: carries whole minutes (seconds 00, no fraction): a precise time helps link an event to a person", field)
	}
	return nil
}
