package client_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// TestAgainstStack submits, looks up and verifies against the real server.
func TestAgainstStack(t *testing.T) {
	s := testonly.StartStack(t)
	c := &client.Client{URL: s.URL, Policy: s.Policy, Origin: s.Origin}
	tag := event.PatientTag([]byte("patient key"), s.Org)
	withTag := func(kind, name string) []byte {
		var m map[string]any
		json.Unmarshal(testonly.Example(t, kind, name), &m)
		m["patient"] = tag
		b, _ := json.Marshal(m)
		return b
	}
	envs := [][]byte{
		s.Envelope(t, "consent", withTag("consent", "valid-treatment-grant.json"), testonly.Minute(-2*time.Hour)),
		s.Envelope(t, "access", withTag("access", "valid-routine-read.json"), testonly.Minute(-time.Hour)),
	}
	k, err := client.NewKeeper(c, filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		p, err := c.Submit(ctx(t), env)
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.Submit(ctx(t), env)
		if err != nil || again.Index != p.Index {
			t.Fatalf("resubmission: index %v, %v (first %d)", again, err, p.Index)
		}
		if _, err := client.VerifyProofFile(s.Policy, p.Marshal(), env); err != nil {
			t.Fatal(err)
		}
		cp, err := k.Update(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyInclusion(ctx(t), env, p.Index, cp); err != nil {
			t.Fatal(err)
		}
		got, err := c.Entry(ctx(t), p.Index, cp)
		if err != nil || string(got) != string(env) {
			t.Fatalf("entry %d: %v", p.Index, err)
		}
	}
	found, err := c.LookupPatient(ctx(t), []byte("patient key"), s.Org, "npi:1245319599")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Event.Kind != "consent" || found[1].Event.Kind != "access" || len(found[1].Checkpoint.Witnesses) < 2 {
		t.Fatalf("lookup found %d events", len(found))
	}
	bad := s.Envelope(t, "access", []byte(`{"patient":"MRN-7"}`), testonly.Minute(-time.Hour))
	var he *client.HTTPError
	if _, err := c.Submit(ctx(t), bad); !errors.As(err, &he) || he.Status != 400 {
		t.Errorf("invalid body: %v", err)
	}
	wrong := &client.Client{URL: s.URL, Policy: s.Policy, Origin: "another.example/log"}
	if _, err := wrong.Checkpoint(ctx(t)); !errors.Is(err, c2sp.ErrUnknownLog) {
		t.Errorf("pinned to another origin: %v", err)
	}
}
