package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
)

// testTriage is the conformance test of findings' triage, verdicts, the
// findings filters and checkpoint sources, which both stores run.
func testTriage(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	day := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	fs := []finding.Finding{
		{Rule: "break_glass_review", Severity: finding.Review, Index: 3, EventIDs: []string{"sha256:a"}, Submitter: "npi:1", Detail: "g", Time: now, EventTime: day},
		{Rule: "access_without_consent", Severity: finding.High, Index: 4, EventIDs: []string{"sha256:b"}, Submitter: "npi:2", Detail: "c", Time: now, EventTime: day.AddDate(0, 0, 2)},
		{Rule: "split_view", Severity: finding.Critical, Index: finding.NoIndex, Detail: "s", Time: now},
	}
	verdicts := []finding.Verdict{
		{Index: 1, EventID: "sha256:" + strings.Repeat("ab", 32), Kind: finding.Allowed, ConsentIndex: 0, ConsentAt: day},
		{Index: 2, EventID: "sha256:" + strings.Repeat("cd", 32), Kind: finding.PermittedDisclosure, ConsentIndex: -1},
		{Index: 1, EventID: "sha256:" + strings.Repeat("ef", 32), Kind: finding.Allowed, ConsentIndex: 9, ConsentAt: day.AddDate(0, 0, 1)},
	}
	if err := s.Commit(ctx, &store.State{Size: 5, SaveRules: true, RulesSize: 5, Verdicts: verdicts}, fs); err != nil {
		t.Fatal(err)
	}
	vs, err := s.Verdicts(ctx, []uint64{1, 2, 3})
	if err != nil || len(vs) != 2 || vs[1].ConsentIndex != 9 || !vs[1].ConsentAt.Equal(day.AddDate(0, 0, 1)) ||
		vs[1].EventID != verdicts[2].EventID || vs[2].Kind != finding.PermittedDisclosure || !vs[2].ConsentAt.IsZero() {
		t.Fatalf("Verdicts (the later one for an index wins): %+v %v", vs, err)
	}
	all, _ := s.Findings(ctx, finding.Filter{})
	for _, f := range all {
		if f.State != finding.StateOpen || f.ID != f.Key() {
			t.Fatalf("a new finding: %+v", f)
		}
	}
	at, err := s.FindingsAt(ctx, []uint64{3, 7})
	if err != nil || len(at) != 1 || at[0].Rule != "break_glass_review" || !at[0].EventTime.Equal(day) {
		t.Fatalf("FindingsAt: %+v %v", at, err)
	}
	id := at[0].ID
	if err := s.Triage(ctx, finding.Transition{ID: id, Who: "reg", At: now, From: finding.StateAcknowledged, To: finding.StateResolved, Note: "n"}); err != store.ErrConflict {
		t.Fatalf("Triage from the wrong state: %v", err)
	}
	if err := s.Triage(ctx, finding.Transition{ID: strings.Repeat("0", 64), Who: "reg", At: now, From: finding.StateOpen, To: finding.StateResolved}); err != store.ErrNotFound {
		t.Fatalf("Triage of an unknown finding: %v", err)
	}
	for _, to := range []finding.State{finding.StateAcknowledged, finding.StateResolved} {
		f, _ := s.Finding(ctx, id)
		if err := s.Triage(ctx, finding.Transition{ID: id, Who: "reg", At: now, From: f.State, To: to, Note: "to " + string(to)}); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := s.Finding(ctx, id); err != nil || f.State != finding.StateResolved || f.Rule != "break_glass_review" {
		t.Fatalf("Finding: %+v %v", f, err)
	}
	if _, err := s.Finding(ctx, strings.Repeat("1", 64)); err != store.ErrNotFound {
		t.Fatalf("Finding of an unknown id: %v", err)
	}
	h, err := s.History(ctx, id)
	if err != nil || len(h) != 2 || h[0].From != finding.StateOpen || h[0].To != finding.StateAcknowledged || h[1].Note != "to resolved" ||
		h[1].Who != "reg" || !h[1].At.Equal(now) || h[1].ID != id {
		t.Fatalf("History: %+v %v", h, err)
	}
	// Filters: state, severity, event time (leaving out findings without
	// one), offset.
	for _, c := range []struct {
		q    finding.Filter
		want string
	}{
		{finding.Filter{State: finding.StateResolved}, "break_glass_review"},
		{finding.Filter{State: finding.StateOpen}, "split_view access_without_consent"},
		{finding.Filter{Severity: finding.Critical}, "split_view"},
		{finding.Filter{EventSince: day.AddDate(0, 0, 1)}, "access_without_consent"},
		{finding.Filter{EventUntil: day.AddDate(0, 0, 1)}, "break_glass_review"},
		{finding.Filter{EventSince: day, EventUntil: day.AddDate(0, 0, 3)}, "access_without_consent break_glass_review"},
		{finding.Filter{Offset: 1, Limit: 1}, "access_without_consent"},
		{finding.Filter{Offset: 2}, "break_glass_review"},
		{finding.Filter{Submitter: "npi:2", State: finding.StateResolved}, ""},
	} {
		got, err := s.Findings(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, f := range got {
			rules = append(rules, f.Rule)
		}
		if strings.Join(rules, " ") != c.want {
			t.Errorf("Findings(%+v) = %v, want %s", c.q, rules, c.want)
		}
	}
}

func TestMemTriage(t *testing.T) { testTriage(t, store.NewMem()) }

func TestMySQLTriage(t *testing.T) {
	testonly.RequireIntegration(t)
	s, err := store.NewMySQL(context.Background(), testonly.OpenDB(t, testonly.NewDatabase(t, "monstore")))
	if err != nil {
		t.Fatal(err)
	}
	testTriage(t, s)
}

// TestMySQLUpgradesFindings: a monitor_findings table made before findings
// had an index, severity, event time and state as columns gets them, the
// index and severity read from each row's JSON; its findings are open and
// found by index, and can be triaged.
func TestMySQLUpgradesFindings(t *testing.T) {
	testonly.RequireIntegration(t)
	ctx := context.Background()
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "monstore"))
	if _, err := db.Exec(`CREATE TABLE monitor_findings (seq BIGINT AUTO_INCREMENT PRIMARY KEY, fkey CHAR(64) NOT NULL UNIQUE,
		rule VARCHAR(64) NOT NULL, submitter VARCHAR(128) NOT NULL, recorded DATETIME(6) NOT NULL, body TEXT NOT NULL,
		KEY by_rule (rule), KEY by_time (recorded))`); err != nil {
		t.Fatal(err)
	}
	old := finding.Finding{Rule: "break_glass_review", Severity: finding.Review, Index: 12, EventIDs: []string{"sha256:a"}, Submitter: "npi:1",
		Detail: "d", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	body, _ := json.Marshal(old)
	if _, err := db.Exec(`INSERT INTO monitor_findings (fkey, rule, submitter, recorded, body) VALUES (?, ?, ?, ?, ?)`,
		old.Key(), old.Rule, old.Submitter, old.Time, body); err != nil {
		t.Fatal(err)
	}
	s, err := store.NewMySQL(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.FindingsAt(ctx, []uint64{12})
	if err != nil || len(at) != 1 || at[0].State != finding.StateOpen || at[0].ID != old.Key() {
		t.Fatalf("FindingsAt after the upgrade: %+v %v", at, err)
	}
	if fs, _ := s.Findings(ctx, finding.Filter{Severity: finding.Review}); len(fs) != 1 {
		t.Fatalf("by severity after the upgrade: %+v", fs)
	}
	if err := s.Triage(ctx, finding.Transition{ID: old.Key(), Who: "reg", At: time.Now(), From: finding.StateOpen, To: finding.StateResolved, Note: "n"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewMySQL(ctx, db); err != nil { // idempotent
		t.Fatal(err)
	}
	if f, _ := s.Finding(ctx, old.Key()); f.State != finding.StateResolved {
		t.Fatalf("state after a second start: %+v", f)
	}
}
