package entrycheck_test

import (
	"testing"
	"time"

	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/internal/montest"
)

// FuzzCheck feeds arbitrary log entries to the checker: it must never
// panic, and an entry it hands to the rules must carry no finding that
// makes it untrustworthy, cite the index it was given, and hold a time the
// rules can save that lies no further ahead than the log admits (issue 18).
func FuzzCheck(f *testing.F) {
	sub := montest.NewSubmitter(f, "npi:1234567893")
	reg := montest.Registry(f, sub)
	raw, _ := sub.Sign(f, "access", time.Unix(1e9, 0), montest.Access("npi:1234567893", "a", "p", "TREAT", ""))
	f.Add(raw)
	f.Add([]byte(`{"payloadType":"x"}`))
	c := montest.Checker(f, reg)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := c.Check(7, data)
		if e := res.Entry; e != nil {
			if e.Index != 7 {
				t.Fatal("wrong index")
			}
			if _, err := e.Time.MarshalText(); err != nil || e.Time.After(time.Now().Add(admission.DefaultMaxAhead+time.Minute)) {
				t.Fatalf("the rules were handed occurred_at %s", e.Event.OccurredAt)
			}
		}
		for _, fd := range res.Findings {
			if fd.Index != 7 || fd.Rule == "" || (res.Entry != nil && (fd.Rule == entrycheck.RuleSignature || fd.Rule == entrycheck.RuleSubmitter)) {
				t.Fatalf("bad finding %+v", fd)
			}
		}
	})
}
