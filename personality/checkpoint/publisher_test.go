package checkpoint_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/personality/checkpoint"
	"github.com/htlog/htlog/personality/logbackend"
	"github.com/htlog/htlog/personality/tiles"
	"github.com/htlog/htlog/witness"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
)

// origin is unique to this test process: the publisher lease is a MariaDB
// named lock on the origin, global to the server that other test packages
// share at the same time.
var origin = fmt.Sprintf("htlog.test/checkpoint-%d", os.Getpid())

type world struct {
	log    *logbackend.Memory
	ref    *testonly.FakeLog // same leaves, for signing checkpoints the witnesses see first
	store  *tiles.Memory
	wits   [3]*witness.Witness
	policy string
	signer note.Signer
	verify note.Verifier
}

// newWorld is a log with its tables and Trillian in memory (the MariaDB
// store passes the same conformance tests in package tiles) and three
// in-process witnesses: the publisher's decisions need no database.
func newWorld(t *testing.T) *world {
	w := &world{log: logbackend.NewMemory(), ref: testonly.NewFakeLog(t, origin), store: tiles.NewMemory()}
	w.signer, w.verify = w.ref.Signer, w.ref.Verifier
	w.policy = "log " + w.ref.VKey + "\n"
	for i := range 3 {
		signer, vkey := testonly.NewWitnessKey(t, fmt.Sprintf("w%d.test", i))
		wit, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: w.verify}},
			Signers: []note.Signer{signer}, Store: witness.NewMemStore()})
		if err != nil {
			t.Fatal(err)
		}
		w.wits[i] = wit
		srv := httptest.NewServer(wit.Handler(nil))
		t.Cleanup(srv.Close)
		w.policy += fmt.Sprintf("witness w%d %s %s\n", i, vkey, srv.URL)
	}
	return w
}

func (w *world) append(t *testing.T, n int) {
	var batch []tiles.Pending
	for i := 0; i < n; i++ {
		leaf := fmt.Appendf(nil, "leaf %d", w.ref.Size())
		w.ref.Append(leaf)
		batch = append(batch, tiles.Pending{ID: sha256.Sum256(leaf), Leaf: leaf})
	}
	if _, err := w.store.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

func (w *world) publisher(t *testing.T, quorum string, failOpen bool, log logbackend.Log) *checkpoint.Publisher {
	policy, err := c2sp.ParsePolicy([]byte(w.policy + quorum))
	if err != nil {
		t.Fatal(err)
	}
	p, err := checkpoint.New(checkpoint.Config{Signer: w.signer, Verifier: w.verify, Log: log, Store: w.store, Policy: policy, FailOpen: failOpen})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) published(t *testing.T, quorum string) (uint64, []string) {
	p, _, err := w.store.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := c2sp.ParsePolicy([]byte(w.policy + quorum))
	sc, names, err := policy.VerifyCheckpoint(p.Note)
	if err != nil {
		t.Fatalf("published checkpoint does not verify: %v", err)
	}
	return sc.Size, names
}

// TestWitness409And422 starts one witness ahead of the log (it answers 409
// and the publisher resends from its size) and one on a fork (409, then 422
// on the resend): the 2-of-3 quorum is met by the other two and only their
// verified cosignatures are published.
func TestWitness409And422(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.append(t, 10)
	ahead := c2sp.AddCheckpointRequest{OldSize: 0, Checkpoint: w.ref.Checkpoint(t, 5)}.Marshal()
	if _, err := w.wits[1].AddCheckpoint(ctx, ahead); err != nil {
		t.Fatal(err)
	}
	fork := w.ref.Fork(2)
	fork.Append([]byte("evil"))
	if _, err := w.wits[2].AddCheckpoint(ctx, c2sp.AddCheckpointRequest{OldSize: 0, Checkpoint: fork.Checkpoint(t, 3)}.Marshal()); err != nil {
		t.Fatal(err)
	}
	quorum := "group two 2 w0 w1 w2\nquorum two\n"
	p := w.publisher(t, quorum, false, w.log)
	size, err := p.PublishOnce(ctx)
	if err != nil || size != 10 {
		t.Fatalf("PublishOnce = %d, %v", size, err)
	}
	got, names := w.published(t, quorum)
	if got != 10 || strings.Join(names, ",") != "w0,w1" {
		t.Fatalf("published size %d cosigned by %v, want 10 by w0,w1", got, names)
	}
}

// TestQuorumNotMetPublishesNothing requires all three witnesses while one is
// on a fork: nothing new is published, unless fail-open is set.
func TestQuorumNotMetPublishesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.append(t, 4)
	all := "group all 3 w0 w1 w2\nquorum all\n"
	if _, err := w.publisher(t, all, false, w.log).PublishOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// w2 now cosigns a fork of size 6 as seen from elsewhere.
	fork := w.ref.Fork(4)
	fork.AppendN("evil", 2)
	proof := fork.ConsistencyProof(t, 4, 6)
	if _, err := w.wits[2].AddCheckpoint(ctx, c2sp.AddCheckpointRequest{OldSize: 4, Proof: proof, Checkpoint: fork.Checkpoint(t, 6)}.Marshal()); err != nil {
		t.Fatal(err)
	}
	w.append(t, 3)
	p := w.publisher(t, all, false, w.log)
	if _, err := p.PublishOnce(ctx); !errors.Is(err, checkpoint.ErrQuorum) {
		t.Fatalf("PublishOnce without quorum: %v, want ErrQuorum", err)
	}
	if got, _ := w.published(t, "quorum none\n"); got != 4 {
		t.Fatalf("published size %d without a quorum, want 4", got)
	}
	if size, err := w.publisher(t, all, true, w.log).PublishOnce(ctx); err != nil || size != 7 {
		t.Fatalf("fail-open PublishOnce = %d, %v", size, err)
	}
}

// lyingLog reports a root that is not the root of its leaves.
type lyingLog struct{ *logbackend.Memory }

func (l lyingLog) LatestRoot(ctx context.Context) (logbackend.Root, error) {
	r, err := l.Memory.LatestRoot(ctx)
	r.Hash[0] ^= 1
	return r, err
}

func TestTrillianRootMismatchIsNeverSigned(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.append(t, 5)
	p := w.publisher(t, "quorum none\n", false, lyingLog{w.log})
	if _, _, err := p.IntegrateOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if fed, err := p.FeedOnce(ctx); err != nil || fed != 5 {
		t.Fatalf("FeedOnce = %d, %v", fed, err)
	}
	if _, err := p.PublishOnce(ctx); !errors.Is(err, checkpoint.ErrRootMismatch) {
		t.Fatalf("PublishOnce with a lying root: %v, want ErrRootMismatch", err)
	}
	if _, _, err := w.store.Latest(ctx); !errors.Is(err, tiles.ErrNoCheckpoint) {
		t.Fatalf("something was published: %v", err)
	}
}

// TestRunIntegratesBetweenRounds runs the publisher with a long publishing
// interval: leaves appended after the first round are integrated and fed
// to Trillian on the faster tick, but not published until the next round.
func TestRunIntegratesBetweenRounds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t)
	w.append(t, 3)
	quorum := "group two 2 w0 w1 w2\nquorum two\n"
	policy, err := c2sp.ParsePolicy([]byte(w.policy + quorum))
	if err != nil {
		t.Fatal(err)
	}
	p, err := checkpoint.New(checkpoint.Config{Signer: w.signer, Verifier: w.verify, Log: w.log, Store: w.store, Policy: policy,
		Metrics: checkpoint.NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	testonly.RequireIntegration(t) // the lease is a MariaDB named lock
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "lease"))
	done := make(chan struct{})
	go func() { p.Run(ctx, db, time.Hour); close(done) }()
	waitFor(t, func() bool { size, _, err := w.store.Size(ctx); return err == nil && size == 3 })
	waitFor(t, func() bool { _, _, err := w.store.Latest(ctx); return err == nil })
	w.append(t, 4)
	waitFor(t, func() bool { size, _, err := w.store.Size(ctx); return err == nil && size == 7 })
	if got, _ := w.published(t, quorum); got != 3 {
		t.Fatalf("published size %d before the next round, want 3", got)
	}
	waitFor(t, func() bool { r, err := w.log.LatestRoot(ctx); return err == nil && r.Size == 7 })
	cancel()
	<-done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

func TestIntegrateInterval(t *testing.T) {
	for _, c := range []struct{ publish, want time.Duration }{
		{time.Second, 200 * time.Millisecond},
		{500 * time.Millisecond, 100 * time.Millisecond},
		{10 * time.Millisecond, 10 * time.Millisecond},
		{time.Minute, 200 * time.Millisecond},
	} {
		if got := checkpoint.IntegrateInterval(c.publish); got != c.want {
			t.Errorf("IntegrateInterval(%v) = %v, want %v", c.publish, got, c.want)
		}
	}
}

// TestPublishesWhileTrillianIsBehind: a stalled Trillian signer does not
// hold publication back (the log's promises do not depend on it) until the
// published tree is MaxUnverified ahead of the size Trillian confirmed;
// once Trillian catches up its root is checked and publication goes on.
func TestPublishesWhileTrillianIsBehind(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.log.Paused = true
	w.append(t, 12)
	policy, _ := c2sp.ParsePolicy([]byte(w.policy + "quorum none\n"))
	p, err := checkpoint.New(checkpoint.Config{Signer: w.signer, Verifier: w.verify, Log: w.log, Store: w.store, Policy: policy, MaxUnverified: 5})
	if err != nil {
		t.Fatal(err)
	}
	if size, err := p.PublishOnce(ctx); err != nil || size != 5 {
		t.Fatalf("PublishOnce with Trillian stalled = %d, %v; want 5 (the unverified bound)", size, err)
	}
	if fed, err := p.FeedOnce(ctx); err != nil || fed != 12 {
		t.Fatalf("FeedOnce = %d, %v", fed, err)
	}
	if size, err := p.PublishOnce(ctx); err != nil || size != 0 {
		t.Fatalf("PublishOnce, still stalled = %d, %v; want nothing new", size, err)
	}
	if err := w.log.Resume(); err != nil {
		t.Fatal(err)
	}
	if size, err := p.PublishOnce(ctx); err != nil || size != 12 {
		t.Fatalf("PublishOnce after Trillian caught up = %d, %v; want 12", size, err)
	}
	if got, _ := w.published(t, "quorum none\n"); got != 12 {
		t.Fatalf("published %d", got)
	}
}

// TestLegacyTreeTakenIn: after an upgrade, what the old LOG tree still
// sequences (events acknowledged before the upgrade) is appended once,
// duplicates answered from the sequence, and the position survives.
func TestLegacyTreeTakenIn(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.append(t, 3) // leaf 0..2, also the legacy tree's first three
	legacy := logbackend.NewMemory()
	var leaves [][]byte
	for i := range 6 {
		leaves = append(leaves, fmt.Appendf(nil, "leaf %d", i))
	}
	leaves = append(leaves, []byte("leaf 1")) // queued twice in the old tree
	for i, l := range leaves {
		if err := legacy.AddSequenced(ctx, uint64(i), [][]byte{l}, [][32]byte{sha256.Sum256(append([]byte{byte(i)}, l...))}); err != nil {
			t.Fatal(err)
		}
	}
	policy, _ := c2sp.ParsePolicy([]byte(w.policy + "quorum none\n"))
	p, err := checkpoint.New(checkpoint.Config{Signer: w.signer, Verifier: w.verify, Log: w.log, Legacy: legacy, Store: w.store, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	// The store was opened with nothing integrated: everything in the
	// legacy tree is beyond what htlog holds, and is deduplicated.
	if next, err := p.ImportLegacyOnce(ctx); err != nil || next != 7 {
		t.Fatalf("ImportLegacyOnce = %d, %v", next, err)
	}
	if n, _ := w.store.Sequenced(ctx); n != 6 {
		t.Fatalf("sequenced %d, want 6 (leaves 0..5, once each)", n)
	}
	if next, err := p.ImportLegacyOnce(ctx); err != nil || next != 7 {
		t.Fatalf("second ImportLegacyOnce = %d, %v", next, err)
	}
	if n, _ := w.store.Sequenced(ctx); n != 6 {
		t.Fatalf("sequenced %d after a second import, want 6", n)
	}
}

// TestFeedInParallelAndAfterFailure feeds Trillian several calls' worth of
// leaves at once; a failed feed advances nothing and the retry stores the
// rest (and again, harmlessly, what went in).
func TestFeedInParallelAndAfterFailure(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.append(t, 2500)
	p := w.publisher(t, "quorum none\n", false, w.log)
	if _, _, err := p.IntegrateOnce(ctx); err != nil {
		t.Fatal(err)
	}
	w.log.Failing = errors.New("Trillian unavailable")
	if fed, err := p.FeedOnce(ctx); err == nil || fed != 0 {
		t.Fatalf("FeedOnce with Trillian failing = %d, %v", fed, err)
	}
	w.log.Failing = nil
	w.append(t, 3100)
	if _, _, err := p.IntegrateOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if fed, err := p.FeedOnce(ctx); err != nil || fed != 5600 {
		t.Fatalf("FeedOnce = %d, %v; want 5600", fed, err)
	}
	r, err := w.log.LatestRoot(ctx)
	if err != nil || r.Size != 5600 || r.Hash != w.ref.Root(5600) {
		t.Fatalf("Trillian's root %d %x, want 5600 %x (%v)", r.Size, r.Hash, w.ref.Root(5600), err)
	}
	if size, err := p.PublishOnce(ctx); err != nil || size != 5600 {
		t.Fatalf("PublishOnce = %d, %v", size, err)
	}
}
