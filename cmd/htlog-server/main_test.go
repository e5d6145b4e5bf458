package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/promise"
	"github.com/htlog/htlog/witness"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// startStack runs htlog-server in-process (so -race covers it) on the
// stack testonly prepares: real Trillian and MariaDB, three witnesses under a
// 2-of-3 policy, a registered submitter.
func startStack(t *testing.T) *testonly.Stack {
	s := testonly.PrepareStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan int, 1)
	go func() { stopped <- run(ctx, []string{"--config", s.ConfigFile}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-stopped; code != 0 {
			t.Errorf("htlog-server exited with %d", code)
		}
	})
	s.WaitHealthy(t)
	return s
}

func post(t *testing.T, s *testonly.Stack, path string, body []byte) (int, string, http.Header) {
	resp, err := http.Post(s.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func checkpointSize(t *testing.T, s *testonly.Stack) uint64 {
	resp, err := http.Get(s.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sc, _, err := s.Policy.VerifyCheckpoint(b)
	if err != nil {
		t.Fatalf("published checkpoint does not satisfy the policy: %v", err)
	}
	return sc.Size
}

// TestSubmitReceiptsAndReads drives the write and read paths end to end:
// every valid example of every kind gets a receipt that verifies offline
// against the 2-of-3 witness policy; every bad input gets its status and
// leaves the log unchanged; resubmission is deduplicated; an independent
// tlog-tiles client (Tessera's) reads the tiles and verifies proofs.
func TestSubmitReceiptsAndReads(t *testing.T) {
	s := startStack(t)
	when := testonly.Minute(-2 * time.Hour)
	type accepted struct {
		leaf  []byte
		index uint64
	}
	var logged []accepted
	for _, ex := range testonly.ValidExamples(t) {
		kind, name, body := ex.Kind, ex.Name, ex.Body
		{
			env := s.EnvelopeAs(t, "npi:1234567893", kind, body, when)
			code, receipt, hdr := post(t, s, "/add-event", env)
			if code != 200 {
				t.Fatalf("%s/%s: %d %s", kind, name, code, receipt)
			}
			p, err := c2sp.ParseProof([]byte(receipt))
			if err != nil {
				t.Fatalf("%s/%s: receipt is not a tlog-proof: %v", kind, name, err)
			}
			_, cosigners, err := s.Policy.VerifyProof(p, c2sp.LeafHash(env))
			if err != nil || len(cosigners) < 2 {
				t.Fatalf("%s/%s: receipt does not verify offline: %v (cosigners %v)", kind, name, err, cosigners)
			}
			if hdr.Get("HTLOG-Event-ID") == "" {
				t.Errorf("%s/%s: no HTLOG-Event-ID header", kind, name)
			}
			logged = append(logged, accepted{env, p.Index})
		}
	}
	// Resubmission returns the same index.
	code, receipt, _ := post(t, s, "/add-event", logged[0].leaf)
	if p, err := c2sp.ParseProof([]byte(receipt)); code != 200 || err != nil || p.Index != logged[0].index {
		t.Fatalf("resubmission: %d %v, want index %d", code, err, logged[0].index)
	}
	size := checkpointSize(t, s)
	if size != uint64(len(logged)) {
		t.Fatalf("checkpoint size %d, want %d", size, len(logged))
	}

	// Every bad input: its status, a one-line reason, and nothing logged.
	valid := testonly.Examples(t, "access", "valid-")["valid-routine-read.json"]
	goodAt := testonly.Minute(-time.Hour)
	good := s.EnvelopeAs(t, "npi:1234567893", "access", valid, goodAt)
	var env event.Envelope
	json.Unmarshal(good, &env)
	tampered := env
	tampered.Payload = bytes.Replace(env.Payload, []byte(goodAt), []byte(testonly.Minute(-2*time.Hour)), 1)
	bad := []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"not json", []byte("hello"), 400, "malformed"},
		{"bad signature", tampered.Marshal(), 403, "signature"},
		{"unknown submitter", s.EnvelopeAs(t, "npi:1999999992", "access", valid, goodAt), 401, "unknown submitter"},
		{"kind not allowed", s.EnvelopeAs(t, testonly.CustodyOnlyOrg, "access", valid, goodAt), 403, "may not submit"},
		{"oversized", bytes.Repeat([]byte("x"), event.MaxEnvelopeSize+1), 413, "larger than"},
	}
	for _, kind := range event.Kinds {
		for name, body := range testonly.Examples(t, kind, "invalid-") {
			bad = append(bad, struct {
				name string
				body []byte
				code int
				want string
			}{kind + "/" + name, s.EnvelopeAs(t, "npi:1234567893", kind, body, goodAt), 400, "body/"})
		}
	}
	for _, tc := range bad {
		code, msg, _ := post(t, s, "/add-event", tc.body)
		if code != tc.code || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: %d %q, want %d with %q on one line", tc.name, code, msg, tc.code, tc.want)
		}
	}
	time.Sleep(time.Second) // a few publishing rounds
	if got := checkpointSize(t, s); got != size {
		t.Fatalf("rejected events changed the log: size %d, want %d", got, size)
	}

	// An independent tlog-tiles client reads htlog's tiles and proves
	// inclusion and consistency against the published checkpoint.
	u, _ := url.Parse(s.URL + "/")
	fetcher, err := client.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pb, err := client.NewProofBuilder(ctx, size, fetcher.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := http.Get(s.URL + "/checkpoint")
	cpBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sc, _, _ := s.Policy.VerifyCheckpoint(cpBytes)
	for _, a := range logged {
		p, err := pb.InclusionProof(ctx, a.index)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, a.index, size, rfc6962.DefaultHasher.HashLeaf(a.leaf), p, sc.Hash[:]); err != nil {
			t.Fatalf("tessera client: inclusion of %d: %v", a.index, err)
		}
	}
	bundle, err := fetcher.ReadEntryBundle(ctx, 0, uint8(size%256))
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := c2sp.ParseEntryBundle(bundle, int(size)); err != nil || !bytes.Equal(entries[logged[0].index], logged[0].leaf) {
		t.Fatalf("entry bundle: %v", err)
	}

	// A witness in pull mode follows the running log by itself: it fetches
	// /checkpoint and the tiles it needs for the consistency proof.
	logV, _ := note.NewVerifier(s.Policy.Logs[0].VKey)
	wsigner, _ := testonly.NewWitnessKey(t, "puller.test")
	wstore := witness.NewMemStore()
	puller, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: s.Origin, Verifier: logV, URL: s.URL}},
		Signers: []note.Signer{wsigner}, Store: wstore})
	if err != nil {
		t.Fatal(err)
	}
	if err := puller.PullOnce(ctx, http.DefaultClient, s.Origin); err != nil {
		t.Fatalf("pull mode against htlog-server: %v", err)
	}
	if st, err := wstore.Latest(ctx, s.Origin); err != nil || st.Size != size || st.Root != sc.Hash {
		t.Fatalf("pulled state %+v %v, want size %d", st, err, size)
	}

	// Witnesses down: with one of three the quorum (2) still holds; with two
	// down nothing is published, and submissions get 202 instead of a receipt.
	s.WitnessDown[0].Store(true)
	env2 := s.EnvelopeAs(t, "npi:1234567893", "access", valid, testonly.Minute(-30*time.Minute))
	if code, msg, _ := post(t, s, "/add-event", env2); code != 200 {
		t.Fatalf("with one witness down: %d %s", code, msg)
	}
	s.WitnessDown[1].Store(true)
	before := checkpointSize(t, s)
	env3 := s.EnvelopeAs(t, "npi:1234567893", "access", valid, testonly.Minute(-20*time.Minute))
	code, msg, hdr := post(t, s, "/add-event", env3)
	if code != 202 || hdr.Get("Location") == "" {
		t.Fatalf("with two witnesses down: %d %s, want 202 with a Location", code, msg)
	}
	promise, err := promise.Open([]byte(msg), logV)
	if err != nil || promise.LeafHash != c2sp.LeafHash(env3) || promise.MaxMergeDelay <= 0 {
		t.Fatalf("202 body is not a valid signed promise for the event: %v\n%s", err, msg)
	}
	if got := checkpointSize(t, s); got != before {
		t.Fatalf("published size %d without a quorum (was %d)", got, before)
	}
	s.WitnessDown[1].Store(false)
	if err := awaitReceipt(s, env3, time.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("after the quorum came back: %v", err)
	}
}

// TestCrashLosesNoAcknowledgedEvent kills htlog-server with SIGKILL while
// clients submit, restarts it, and checks every event it acknowledged (202:
// queued durably) ends up in a published, cosigned checkpoint.
func TestCrashLosesNoAcknowledgedEvent(t *testing.T) {
	s := testonly.StartStack(t)
	body := testonly.Example(t, "access", "valid-routine-read.json")
	var mu sync.Mutex
	var acked [][]byte
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				env := s.Envelope(t, "access", testonly.FreshTags(body), testonly.Minute(-time.Duration(c)*time.Minute))
				resp, err := http.Post(s.URL+"/add-event?async=1", "application/json", bytes.NewReader(env))
				if err != nil {
					return // the process died
				}
				resp.Body.Close()
				if resp.StatusCode == 202 {
					mu.Lock()
					acked = append(acked, env)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	s.Kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}
	s.Start(t)
	deadline := time.Now().Add(60 * time.Second)
	for _, env := range acked {
		if err := awaitReceipt(s, env, deadline); err != nil {
			t.Fatalf("an acknowledged event is not in the log after the restart: %v", err)
		}
	}
	t.Logf("%d acknowledged events all survived kill -9", len(acked))
}

// awaitReceipt polls GET /receipt/<id> for the envelope until deadline and
// verifies the tlog-proof against the stack's policy.
func awaitReceipt(s *testonly.Stack, env []byte, deadline time.Time) error {
	e, err := event.ParseEnvelope(env)
	if err != nil {
		return err
	}
	for {
		resp, err := http.Get(s.URL + "/receipt/" + e.ID())
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			p, err := c2sp.ParseProof(b)
			if err != nil {
				return err
			}
			_, _, err = s.Policy.VerifyProof(p, c2sp.LeafHash(env))
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no receipt for %s: %d %s", e.ID(), resp.StatusCode, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReadOnlyRefusesSubmissions freezes the log: reads (the checkpoint,
// cosigned as usual) are served, submissions get 503 and nothing is logged.
func TestReadOnlyRefusesSubmissions(t *testing.T) {
	s := testonly.PrepareStack(t)
	f, err := os.OpenFile(s.ConfigFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("read_only: true\n")
	f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan int, 1)
	go func() { stopped <- run(ctx, []string{"--config", s.ConfigFile}) }()
	defer func() { cancel(); <-stopped }()
	s.WaitHealthy(t)
	env := s.Envelope(t, "access", testonly.Example(t, "access", "valid-routine-read.json"), testonly.Minute(0))
	code, msg, _ := post(t, s, "/add-event", env)
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "frozen") {
		t.Fatalf("submission to a frozen log: %d %q, want 503 naming the freeze", code, msg)
	}
	time.Sleep(500 * time.Millisecond)
	if size := checkpointSize(t, s); size != 0 {
		t.Fatalf("a frozen log grew to %d", size)
	}
}
