package monitor_test

// The monitor against the real thing: htlog-server (the binary) on Trillian's
// log server and signer on MariaDB, with three witnesses under a 2-of-3
// policy, and the monitor's state on MariaDB.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/monitor/store"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// stackMonitor returns a monitor of the stack's log, keeping its state in
// st, reading the witnesses of the stack's policy.
func stackMonitor(t *testing.T, s *testonly.Stack, st store.Store) *monitor.Monitor {
	t.Helper()
	v, err := note.NewVerifier(s.LogVKey)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(s.RegistryFile)
	if err != nil {
		t.Fatal(err)
	}
	val, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var witnesses []string
	for _, w := range s.Policy.Witnesses {
		witnesses = append(witnesses, w.URL)
	}
	m, err := monitor.New(context.Background(), monitor.Config{LogURL: s.URL, LogVerifier: v, Policy: s.Policy,
		Registry: func() *registry.Registry { return reg }, Validator: val, Witnesses: witnesses,
		Store: st, EvidenceDir: t.TempDir(), CommitEvery: 16384})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var exampleTag = regexp.MustCompile(`tag:v1:[0-9a-f]{64}`)

// stackEvents signs n distinct events of all four kinds for the stack's
// submitter: the schemas' valid examples in turn, each with fresh
// pseudonymous tags and its own occurred_at.
func stackEvents(t *testing.T, s *testonly.Stack, n int) [][]byte {
	t.Helper()
	bodies := validExamples(t)
	out := make([][]byte, n)
	// Each event its own time: trial bodies have no tags to make them unique.
	base := time.Now().UTC()
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				b := bodies[i%len(bodies)]
				body := testonly.FreshTags(b.body)
				at := base.Truncate(time.Minute).Format(time.RFC3339) // whole minutes, as the log requires
				if b.kind == "trial" {
					at = base.Add(time.Duration(i) * time.Microsecond).Format(time.RFC3339Nano)
				}
				out[i] = s.Envelope(t, b.kind, body, at)
			}
		})
	}
	wg.Wait()
	return out
}

// submitAll submits every envelope to the log at url (async: acknowledged
// once durably queued), with workers in parallel; every one must be accepted.
func submitAll(t *testing.T, url string, envs [][]byte, workers int) {
	t.Helper()
	c := &client.Client{URL: url, HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}}
	// The first round of examples in order, so that the trial is
	// registered before its amendments and results arrive.
	first16 := min(16, len(envs))
	for i := range first16 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, _, err := c.SubmitAsync(ctx, envs[i])
		cancel()
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	var next atomic.Int64
	next.Store(int64(first16))
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(envs) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, _, err := c.SubmitAsync(ctx, envs[i])
				cancel()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d submissions failed; first: %v", n, len(envs), firstErr.Load())
	}
}

// checkpointSize reads the size of the log's published checkpoint.
func checkpointSize(t *testing.T, url string) (uint64, []byte) {
	t.Helper()
	resp, err := http.Get(url + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s/checkpoint: %d %v", url, resp.StatusCode, err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q", b)
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, b
}

// waitPublished waits until the log at url publishes a checkpoint of size
// n, for as long as the published size keeps growing.
func waitPublished(t *testing.T, url string, n uint64) []byte {
	t.Helper()
	var cp []byte
	testonly.WaitProgress(t, url+" publishing size "+strconv.FormatUint(n, 10), time.Minute, 100*time.Millisecond, func() (bool, uint64) {
		size, b := checkpointSize(t, url)
		if size > n {
			t.Fatalf("%s publishes size %d, want %d", url, size, n)
		}
		cp = b
		return size == n, size
	})
	return cp
}

// integrityRules are the findings that mean the log or its entries are not
// what they should be; the compliance rules judge what the events say.
var integrityRules = []string{monitor.RuleBadCheckpoint, monitor.RuleQuorumNotMet, monitor.RuleBadTiles,
	monitor.RuleBadBundle, monitor.RuleEntriesMismatch, monitor.RuleSplitView, monitor.RuleWitnessEquivocation,
	entrycheck.RuleMalformed, entrycheck.RuleNotCanonical, entrycheck.RuleSubmitter, entrycheck.RuleSignature,
	entrycheck.RuleSchema, entrycheck.RulePrivacy, entrycheck.RuleIdentity, entrycheck.RuleTime}

func integrityFindings(t testing.TB, st store.Store) map[string]int {
	t.Helper()
	counts, err := st.CountFindings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range counts {
		for _, r := range integrityRules {
			if c.Rule == r {
				out[r] += c.N
			}
		}
	}
	return out
}

// TestReplay100kOnTrillian submits 100,000 events of all four kinds through
// htlog-server into Trillian while a monitor follows the log; the monitor is
// restarted half way on the same MariaDB state and resumes. At the end it has
// replayed every entry, and every checkpoint it recorded (the log's and the
// witnesses', published every 200 ms during the load) matched its replay.
func TestReplay100kOnTrillian(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under the race detector; run without -race")
	}
	const n = 100000
	s := testonly.PrepareStack(t)
	s.SetConfig(t, "rate_limit: {per_submitter: 100000, burst: 100000}\nmax_merge_delay: 10m\n")
	s.Start(t)
	envs := stackEvents(t, s, n)
	st := mysqlStore(t)
	ctx := context.Background()

	// The monitor follows while the load runs, and is restarted half way.
	var mu sync.Mutex
	m := stackMonitor(t, s, st)
	stop := make(chan struct{})
	followed := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				followed <- nil
				return
			case <-time.After(500 * time.Millisecond):
			}
			mu.Lock()
			err := m.Step(ctx)
			m.PollWitnesses(ctx)
			mu.Unlock()
			if err != nil {
				followed <- err
				return
			}
		}
	}()
	start := time.Now()
	submitAll(t, s.URL, envs[:n/2], 64)
	mu.Lock()
	before := m.Confirmed()
	m = stackMonitor(t, s, st)
	if got := m.Confirmed(); (before == nil) != (got == nil) || (got != nil && got.Size != before.Size) {
		t.Fatalf("restarted at %v, had confirmed %v", got, before)
	}
	mu.Unlock()
	submitAll(t, s.URL, envs[n/2:], 64)
	t.Logf("submitted %d events in %v (%.0f/s)", n, time.Since(start), n/time.Since(start).Seconds())
	final := waitPublished(t, s.URL, n)
	close(stop)
	if err := <-followed; err != nil {
		t.Fatal(err)
	}
	m.PollWitnesses(ctx)
	behind := uint64(0)
	if c := m.Confirmed(); c != nil {
		behind = n - c.Size
	}
	catchUp := time.Now()
	testonly.WaitProgress(t, "the monitor catching up", time.Minute, 0, func() (bool, uint64) {
		if c := m.Confirmed(); c != nil && c.Size == n {
			return true, c.Size
		}
		if err := m.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if c := m.Confirmed(); c != nil {
			return false, c.Size
		}
		return false, 0
	})
	if behind > 1000 {
		t.Logf("caught up the last %d entries in %v (%.0f entries/s)", behind, time.Since(catchUp), float64(behind)/time.Since(catchUp).Seconds())
	}

	// The monitor's root is the log's; every checkpoint recorded was checked.
	sc, err := c2sp.OpenCheckpoint(final, mustVerifier(t, s.LogVKey))
	if err != nil {
		t.Fatal(err)
	}
	if m.Confirmed().Hash != sc.Hash {
		t.Fatal("the monitor's root differs from the log's")
	}
	unchecked, err := st.Unchecked(ctx, n)
	if err != nil || len(unchecked) != 0 {
		t.Fatalf("%d checkpoints not checked against the replay (%v)", len(unchecked), err)
	}
	cps, err := st.RecentCheckpoints(ctx, 100000)
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]int{}
	for _, cp := range cps {
		sources[strings.Fields(cp.Source)[0]]++
	}
	if len(cps) < 20 || sources["log"] == 0 || sources["witness"] == 0 {
		t.Fatalf("only %d checkpoints recorded (%v)", len(cps), sources)
	}
	t.Logf("%d checkpoints recorded and checked: %v", len(cps), sources)
	if f := integrityFindings(t, st); len(f) != 0 {
		t.Fatalf("integrity findings on an honest log: %v", f)
	}

	// A new monitor replays the whole log from htlog-server in one go.
	fresh := stackMonitor(t, s, mysqlStore(t))
	start = time.Now()
	if err := fresh.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fresh.Confirmed(); got == nil || got.Size != n || got.Hash != sc.Hash {
		t.Fatalf("a fresh replay confirmed %v, want the log's checkpoint of size %d", got, n)
	}
	t.Logf("a fresh monitor replayed and verified all %d entries from htlog-server in %v (%.0f entries/s, MariaDB state)",
		n, time.Since(start), n/time.Since(start).Seconds())
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestForkOnTrillianCaught runs a second htlog-server with the log's origin
// and key on a second Trillian tree, in the same Trillian. Its checkpoint, pollinated to the
// monitor of the honest log, is a split view: a 409, a finding, and an
// evidence bundle that a third party checks against the honest log's tiles
// with golang.org/x/mod/sumdb/tlog.
func TestForkOnTrillianCaught(t *testing.T) {
	s := testonly.StartStack(t)
	envs := stackEvents(t, s, 900)
	submitAll(t, s.URL, envs[:300], 16)
	waitPublished(t, s.URL, 300)
	// One process publishes an origin per MariaDB server: the honest server
	// steps aside while the fork signs a second tree, then comes back.
	s.Kill()
	fork := s.StartFork(t)
	submitAll(t, fork.URL, envs[300:700], 16)
	forkCP := waitPublished(t, fork.URL, 400)
	fork.Kill()
	s.Start(t)
	submitAll(t, s.URL, envs[700:], 16)
	waitPublished(t, s.URL, 500)

	st := mysqlStore(t)
	m := stackMonitor(t, s, st)
	if err := m.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.Confirmed(); got == nil || got.Size != 500 {
		t.Fatalf("confirmed %v, want size 500", got)
	}
	srv := httptest.NewServer(m.Handler(nil))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/pollinate", "text/plain", strings.NewReader(string(forkCP)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("pollinating the fork's checkpoint: %d %s", resp.StatusCode, body)
	}
	fs, err := st.Findings(context.Background(), finding.Filter{Rule: monitor.RuleSplitView})
	if err != nil || len(fs) != 1 {
		t.Fatalf("split view findings: %v %v", fs, err)
	}
	ids, _ := st.EvidenceIDs(context.Background())
	if len(ids) != 1 {
		t.Fatalf("%d evidence bundles", len(ids))
	}
	resp, err = http.Get(srv.URL + "/evidence/" + ids[0])
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	honestSize, honestCP := checkpointSize(t, s.URL)
	honest, err := c2sp.OpenCheckpoint(honestCP, mustVerifier(t, s.LogVKey))
	if err != nil {
		t.Fatal(err)
	}
	reader := tlog.TileHashReader(tlog.Tree{N: int64(honestSize), Hash: tlog.Hash(honest.Hash)}, &httpTiles{url: s.URL})
	verifyEvidence(t, s.LogVKey, func(size uint64) c2sp.Hash {
		h, err := tlog.TreeHash(int64(size), reader)
		if err != nil {
			t.Fatalf("the honest log's root at %d: %v", size, err)
		}
		return c2sp.Hash(h)
	}, bundle)
}

// httpTiles reads tlog-tiles over HTTP, as any third-party client would.
type httpTiles struct{ url string }

func (h *httpTiles) Height() int { return 8 }

func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		// x/mod's paths are sumdb's tile/H/L/N; tlog-tiles has no H.
		path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		resp, err := http.Get(h.url + "/" + path)
		if err != nil {
			return nil, err
		}
		out[i], err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %d %v", path, resp.StatusCode, err)
		}
	}
	return out, nil
}

func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}
