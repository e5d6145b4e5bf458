package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

func TestFetchVerdicts(t *testing.T) {
	m := testonly.NewFakeMonitor(t, "monitor.example", "example.test/log")
	at := time.Date(2026, 5, 3, 9, 0, 0, 0, time.UTC)
	m.Set(7, map[string]any{"status": "allowed", "event_id": "sha256:" + strings.Repeat("a", 64), "consent_entry": 2, "consent_at": at.Format(time.RFC3339), "findings": []any{}})
	entries := make([]uint64, 150) // two requests of at most 100
	for i := range entries {
		entries[i] = uint64(i)
	}
	mv, err := client.FetchVerdicts(context.Background(), nil, client.BundleMonitor{URL: m.URL, VKey: m.VKey}, "example.test/log", entries)
	if err != nil {
		t.Fatal(err)
	}
	if m.Asked() != 2 || mv.Monitor != "monitor.example" || len(mv.Entries) != 150 || mv.CheckedSize != 8 {
		t.Fatalf("asked %d times; got %s, %d entries, checked %d", m.Asked(), mv.Monitor, len(mv.Entries), mv.CheckedSize)
	}
	v := mv.Entries[7]
	if v.Status != client.VerdictAllowed || v.ConsentAt == nil || !v.ConsentAt.Equal(at) || *v.ConsentEntry != 2 {
		t.Errorf("entry 7: %+v", v)
	}
	if got := client.VerdictText(v, time.UTC); got != "allowed under your consent of 3 May 2026" {
		t.Errorf("VerdictText = %q", got)
	}
	if got := client.VerdictText(mv.Entries[8], time.UTC); got != "not checked yet" {
		t.Errorf("VerdictText = %q", got)
	}
	// Another log's verdicts, or a monitor key the patient does not trust.
	if _, err := client.FetchVerdicts(context.Background(), nil, client.BundleMonitor{URL: m.URL, VKey: m.VKey}, "other.test/log", entries[:3]); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("verdicts about another log: %v", err)
	}
	_, otherVKey, _ := note.GenerateKey(rand.Reader, "monitor.example")
	if _, err := client.FetchVerdicts(context.Background(), nil, client.BundleMonitor{URL: m.URL, VKey: otherVKey}, "example.test/log", entries[:3]); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("verdicts under another key: %v", err)
	}
}

func TestOpenVerdictsRejects(t *testing.T) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "monitor.example")
	s, _ := note.NewSigner(skey)
	sign := func(text string) []byte {
		b, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	head := client.VerdictsHeader + "\nexample.test/log\n"
	for name, tc := range map[string]struct{ text, want string }{
		"not asked":  {head + `{"checked_size":9,"verdicts":[{"entry":5,"status":"allowed","findings":[]}]}` + "\n", "not asked for"},
		"twice":      {head + `{"checked_size":9,"verdicts":[{"entry":1,"status":"allowed","findings":[]},{"entry":1,"status":"flagged","findings":[]}]}` + "\n", "twice"},
		"bad status": {head + `{"checked_size":9,"verdicts":[{"entry":1,"status":"fine","findings":[]}]}` + "\n", "not one of"},
		"header":     {"htlog-monitor verdicts v2\nexample.test/log\n{}\n", "not a verdicts note"},
		"four lines": {head + "{}\nx\n", "not a verdicts note"},
		"not JSON":   {head + "nope\n", "JSON"},
		"trailing":   {head + `{"checked_size":1,"verdicts":[]} {}` + "\n", "after"},
		"other log":  {client.VerdictsHeader + "\nother.test/log\n{}\n", "about the log"},
	} {
		_, err := client.OpenVerdicts(vkey, "example.test/log", sign(tc.text), []uint64{1, 2})
		if !errors.Is(err, client.ErrNotVerified) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrNotVerified mentioning %q", name, err, tc.want)
		}
	}
}

// FuzzOpenVerdicts: whatever JSON line a trusted monitor signs, OpenVerdicts
// returns only asked-for entries with known statuses, or an error.
func FuzzOpenVerdicts(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "monitor.example")
	s, _ := note.NewSigner(skey)
	f.Add(`{"checked_size":9,"verdicts":[{"entry":1,"status":"allowed","consent_at":"2026-05-03T09:00:00Z","findings":[]}]}`)
	f.Add(`{"checked_size":9,"verdicts":[{"entry":2,"status":"flagged","findings":[{"id":"x","rule":"r","severity":"high","state":"open","summary":"s"}]}]}`)
	f.Fuzz(func(t *testing.T, line string) {
		signed, err := note.Sign(&note.Note{Text: client.VerdictsHeader + "\nexample.test/log\n" + line + "\n"}, s)
		if err != nil {
			return
		}
		mv, err := client.OpenVerdicts(vkey, "example.test/log", signed, []uint64{1, 2})
		if err != nil {
			return
		}
		for e, v := range mv.Entries {
			if (e != 1 && e != 2) || v.Entry != e || client.VerdictText(v, time.UTC) == "unknown verdict" {
				t.Fatalf("entry %d: %+v", e, v)
			}
		}
	})
}
