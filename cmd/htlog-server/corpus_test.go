package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/internal/phicorpus"
	"github.com/htlog/htlog/internal/testonly"
)

// corpusProbes is how many probes TestCorpusOnTrillian sends: a sample in
// make test, the whole corpus with HTLOG_CORPUS=100000 (make corpus).
func corpusProbes(t *testing.T) int {
	if v := os.Getenv("HTLOG_CORPUS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("HTLOG_CORPUS=%q: want a positive count", v)
		}
		return n
	}
	return 3000
}

// TestCorpusOnTrillian sends the privacy probe corpus (package phicorpus:
// one personal identifier planted in one string position of a valid
// example, every position and identifier kind in turn) to htlog-server on
// real Trillian and MariaDB: every probe must get a 4xx whose one-line
// reason does not quote the identifier, and the tree must not grow, while
// every valid example is still admitted.
func TestCorpusOnTrillian(t *testing.T) {
	s := startStack(t)
	n := corpusProbes(t)
	for _, ex := range testonly.ValidExamples(t) {
		env := s.Envelope(t, ex.Kind, ex.Body, testonly.Minute(-time.Hour))
		if code, msg, _ := post(t, s, "/add-event?async=1", env); code != http.StatusAccepted {
			t.Fatalf("valid %s/%s refused: %d %s", ex.Kind, ex.Name, code, msg)
		}
	}
	var examples []phicorpus.Example
	for _, ex := range testonly.ValidExamples(t) {
		examples = append(examples, phicorpus.Example{Kind: ex.Kind, Name: ex.Name, Body: ex.Body})
	}
	waitForSize(t, s, uint64(len(examples)))
	before := checkpointSize(t, s)

	g, err := phicorpus.New(uint64(time.Now().UnixNano()), examples)
	if err != nil {
		t.Fatal(err)
	}
	probes := make([]phicorpus.Probe, n)
	envs := make([][]byte, n)
	at := testonly.Minute(-time.Hour)
	for i := range probes {
		probes[i] = g.Probe(i)
		envs[i] = s.Envelope(t, probes[i].Kind, probes[i].Body, at)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var next atomic.Int64
	var mu sync.Mutex
	byStatus := map[int]int{}
	var failures []string
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				resp, err := client.Post(s.URL+"/add-event?async=1", "application/json", bytes.NewReader(envs[i]))
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				byStatus[resp.StatusCode]++
				p := probes[i]
				if resp.StatusCode/100 != 4 || strings.Contains(string(msg), p.Planted) || bytes.Count(msg, []byte("\n")) != 1 {
					failures = append(failures, fmt.Sprintf("%s planted at %s%s of %s: %d %q", p.IDKind, p.Kind, p.Path, p.Example, resp.StatusCode, msg))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(failures) > 0 {
		t.Fatalf("%d of %d probes not refused cleanly; first: %s", len(failures), n, failures[0])
	}
	time.Sleep(2 * time.Second) // publishing rounds that would carry anything admitted
	if after := checkpointSize(t, s); after != before {
		t.Fatalf("the tree grew from %d to %d", before, after)
	}
	t.Logf("%d probes over %d string positions and %d identifier kinds, all refused in %v (%.0f/s): %v; tree size %d unchanged",
		n, g.Positions(), len(phicorpus.Kinds), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), byStatus, before)
}

// waitForSize waits until the published checkpoint holds at least size
// entries.
func waitForSize(t *testing.T, s *testonly.Stack, size uint64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for checkpointSize(t, s) < size {
		if time.Now().After(deadline) {
			t.Fatalf("the checkpoint did not reach size %d", size)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSchemasAndValueSetsServed: the version 2 schemas and the value sets
// their codes come from are served, so a client renders codes without
// display text on the log; unknown names get 404 with the list.
func TestSchemasAndValueSetsServed(t *testing.T) {
	s := startStack(t)
	get := func(path string) (int, string, string) {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if code, ct, body := get("/schemas/access/v2.json"); code != 200 || ct != "application/schema+json" || !strings.Contains(body, `"htlog-code:purpose-of-use"`) {
		t.Errorf("schema: %d %s", code, ct)
	}
	code, _, body := get("/valuesets/purpose-of-use.json")
	var vs struct {
		Name     string
		Concepts []struct{ System, Code, Display string }
	}
	if err := json.Unmarshal([]byte(body), &vs); code != 200 || err != nil || vs.Name != "purpose-of-use" || len(vs.Concepts) < 10 {
		t.Errorf("value set: %d %v %q", code, err, body)
	}
	if code, _, body := get("/valuesets/nope.json"); code != 404 || !strings.Contains(body, "agent-role") {
		t.Errorf("unknown value set: %d %q", code, body)
	}
}
