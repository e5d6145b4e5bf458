package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// postAccess posts one AuditEvent and returns its event id, "" when the
// gateway did not accept it (down, or an error).
func postAccess(hc *http.Client, url string, doc []byte) string {
	resp, err := hc.Post(url+"/fhir/AuditEvent", "application/fhir+json", bytes.NewReader(doc))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return ""
	}
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) != nil || len(oo.Issue) == 0 || len(oo.Issue[0].Diagnostics) < 95 {
		return ""
	}
	return oo.Issue[0].Diagnostics[24:95]
}

// TestKillUnderLoad kills the gateway with SIGKILL while eight clients post
// AuditEvents, restarts it, and checks that every accepted resource ends up
// in the log exactly once: each 201 answered before the crash is logged,
// every item the gateway stored is logged, and the log holds each event
// once and nothing else.
func TestKillUnderLoad(t *testing.T) {
	s := testonly.PrepareStack(t)
	s.SetConfig(t, "rate_limit: {per_submitter: 100000, burst: 100000}\n")
	s.Start(t)
	g := newGateway(t, s, "")
	base := testdata(t, "balp/AuditEvent-ex-auditBasicReadServer.json")
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	url := g.URL
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if id := postAccess(hc, url, accessDoc(t, base, (w*7+i)%40, w*1000000+i, time.Now().Add(-time.Minute))); id != "" {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				} else {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	g.Kill()
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	g.Start(t)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if before == 0 || len(acked) == before {
		t.Fatalf("acknowledged %d before the kill and %d in all: the load did not span the crash", before, len(acked))
	}
	t.Logf("%d resources acknowledged, %d before the kill", len(acked), before)

	// Every stored item reaches the log with a verified receipt.
	deadline := time.Now().Add(90 * time.Second)
	for {
		c := g.counts(t)
		if c["refused"] > 0 {
			t.Fatalf("the log refused items: %v", c)
		}
		if c["pending"] == 0 && c["submitted"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("items still on their way after 90 s: %v", c)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stored := g.eventIDs(t)
	for _, id := range acked {
		if !slices.Contains(stored, id) {
			t.Fatalf("acknowledged %s is not in the gateway's store", id)
		}
	}
	// The log holds exactly the stored events, each once.
	lc := logClient(s)
	var size uint64
	for {
		c, err := lc.Checkpoint(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if size = c.Size; size >= uint64(len(stored)) || time.Now().After(deadline) {
			entries, err := lc.Entries(ctx(t), 0, size, c)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, e := range entries {
				env, err := event.ParseEnvelope(e)
				if err != nil {
					t.Fatal(err)
				}
				if seen[env.ID()] {
					t.Fatalf("event %s is in the log twice", env.ID())
				}
				seen[env.ID()] = true
			}
			if len(seen) != len(stored) {
				t.Fatalf("the log holds %d events, the gateway stored %d", len(seen), len(stored))
			}
			for _, id := range stored {
				if !seen[id] {
					t.Fatalf("stored %s is not in the log", id)
				}
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
