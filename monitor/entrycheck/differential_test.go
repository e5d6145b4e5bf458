package entrycheck_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/phicorpus"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/internal/montest"
	"github.com/htlog/htlog/personality/batch"
	"github.com/htlog/htlog/personality/submit"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/schemas"
)

// TestServerAndMonitorAgree runs every example (valid and invalid, of
// every kind) and a sample of the privacy probe corpus through
// htlog-server's write path (package submit, on an in-memory log) and
// through the monitor's entry check, and requires the same verdict: an
// entry the server admits gets no finding, and an entry it refuses gets a
// finding of the rule its refusal maps to. The monitor thus flags exactly
// what a current log refuses.
func TestServerAndMonitorAgree(t *testing.T) {
	hospital := montest.NewSubmitter(t, "npi:1234567893")
	reg := montest.Registry(t, hospital)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	seq := batch.New(tiles.NewMemory(), 0)
	go seq.Run(ctx)
	server := submit.New(submit.Config{Admission: checker, Trials: &submit.MemoryTrialClaims{}, Sequence: seq})
	monitor := montest.Checker(t, reg)

	type input struct {
		name string
		kind string
		body []byte
		at   time.Time
	}
	now := time.Now().UTC().Truncate(time.Minute)
	var inputs []input
	for _, ex := range testonly.ValidExamples(t) {
		inputs = append(inputs, input{ex.Kind + "/" + ex.Name, ex.Kind, ex.Body, now.Add(-time.Hour)})
	}
	for _, kind := range schemas.Kinds {
		for name, body := range testonly.Examples(t, kind, "invalid-") {
			inputs = append(inputs, input{kind + "/" + name, kind, body, now.Add(-time.Hour)})
		}
	}
	// Times out of the window ahead, and too precise.
	bg := testonly.Example(t, "access", "valid-break-glass.json")
	inputs = append(inputs, input{"far future", "access", bg, time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC)},
		input{"ten minutes ahead", "access", bg, now.Add(10 * time.Minute)},
		input{"seconds", "access", testonly.FreshTags(bg), now.Add(-time.Hour + 7*time.Second)})
	var examples []phicorpus.Example
	for _, ex := range testonly.ValidExamples(t) {
		examples = append(examples, phicorpus.Example{Kind: ex.Kind, Name: ex.Name, Body: ex.Body})
	}
	g, err := phicorpus.New(7, examples)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * g.Positions() * len(phicorpus.Kinds) / 2 {
		p := g.Probe(i)
		inputs = append(inputs, input{"probe " + p.IDKind + " at " + p.Kind + p.Path, p.Kind, p.Body, now.Add(-time.Hour)})
	}

	admitted, refused := 0, 0
	for i, in := range inputs {
		raw := hospital.SignVersion(t, in.kind, schemas.Default(in.kind), in.at, in.body)
		_, serr := server.Submit(context.Background(), raw)
		res := monitor.Check(uint64(i), raw)
		var rej *submit.Rejection
		switch {
		case serr == nil:
			admitted++
			if len(res.Findings) != 0 || res.Entry == nil {
				t.Errorf("%s: the server admits it, the monitor finds %v", in.name, res.Findings)
			}
		case errors.As(serr, &rej):
			refused++
			want := entrycheck.RuleOf(rej.Outcome)
			found := false
			for _, f := range res.Findings {
				found = found || f.Rule == want
			}
			if !found || res.Entry != nil {
				t.Errorf("%s: the server refuses it (%s: %s), the monitor finds %v", in.name, rej.Outcome, rej.Reason, res.Findings)
			}
		default:
			t.Fatalf("%s: %v", in.name, serr)
		}
	}
	t.Logf("%d inputs: %d admitted by both, %d refused by both", len(inputs), admitted, refused)
	if admitted < 13 || refused < 1000 {
		t.Fatalf("admitted %d, refused %d: the inputs do not exercise both sides", admitted, refused)
	}
}

// TestVersion1EntriesStillVerify: a log that admitted version 1 events
// before version 2 keeps verifying on replay: the valid version 1
// examples get no finding, the invalid ones a schema finding.
func TestVersion1EntriesStillVerify(t *testing.T) {
	sub := montest.NewSubmitter(t, "npi:1234567893")
	c := montest.Checker(t, montest.Registry(t, sub))
	for _, kind := range schemas.Kinds {
		files, _ := filepath.Glob(filepath.Join(testonly.RepoRoot(), "schemas", "examples", "v1", kind, "*.json"))
		if len(files) < 5 {
			t.Fatalf("%s: %d version 1 examples", kind, len(files))
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw := sub.SignVersion(t, kind, 1, time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC), body)
			res := c.Check(3, raw)
			valid := filepath.Base(f)[:6] == "valid-"
			if valid && (len(res.Findings) != 0 || res.Entry == nil) {
				t.Errorf("v1 %s/%s: %v", kind, filepath.Base(f), res.Findings)
			}
			if !valid && (len(res.Findings) == 0 || res.Entry != nil) {
				t.Errorf("v1 %s/%s: no finding", kind, filepath.Base(f))
			}
		}
	}
}
