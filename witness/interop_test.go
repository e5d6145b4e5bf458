package witness_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/witness"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// TestTesseraWitnessClient runs a real Tessera log (POSIX storage) whose
// witness policy names htlog-witness: Tessera's own tlog-witness client sends
// add-checkpoint requests (first from size 0, then with consistency proofs),
// and Tessera publishes a checkpoint only once the policy is met, so the
// published checkpoint must carry a cosignature that verifies with the
// witness's vkey. It runs with an Ed25519 and with an ML-DSA-44 witness key.
func TestTesseraWitnessClient(t *testing.T) {
	for name, newStore := range stores(t) {
		for _, alg := range []string{c2sp.WitnessAlgEd25519, c2sp.WitnessAlgMLDSA44} {
			t.Run(name+"/"+alg, func(t *testing.T) { tesseraWitnessClient(t, newStore, alg) })
		}
	}
}

func tesseraWitnessClient(t *testing.T, newStore func(*testing.T) witness.Store, alg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := testonly.NewFakeLog(t, "tessera.example/log") // only its keys
	signer, vkey := testonly.NewWitnessKeyOf(t, "htlog-witness.example", alg)
	cosign, err := c2sp.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	reg := prometheus.NewRegistry()
	w, err := witness.New(witness.Config{
		Logs:    []witness.Log{{Origin: keys.Origin, Verifier: keys.Verifier}},
		Signers: []note.Signer{signer}, Store: store, Metrics: witness.NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler(reg))
	defer srv.Close()

	u, _ := url.Parse(srv.URL)
	tw, err := tessera.NewWitness(vkey, u)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	opts := tessera.NewAppendOptions().
		WithCheckpointSigner(keys.Signer).
		WithBatching(16, 50*time.Millisecond).
		WithCheckpointInterval(200*time.Millisecond).
		WithWitnesses(tessera.NewWitnessGroup(1, tw), &tessera.WitnessOptions{Timeout: 5 * time.Second})
	appender, shutdown, reader, err := tessera.NewAppender(ctx, driver, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	awaiter := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 50*time.Millisecond)

	for round := 0; round < 3; round++ {
		var last tessera.IndexFuture
		for i := 0; i < 20; i++ {
			last = appender.Add(ctx, tessera.NewEntry(fmt.Appendf(nil, "round %d entry %d", round, i)))
		}
		idx, cp, err := awaiter.Await(ctx, last)
		if err != nil {
			t.Fatalf("round %d: tessera did not publish: %v", round, err)
		}
		n, err := note.Open(cp, note.VerifierList(keys.Verifier, cosign))
		if err != nil || !c2sp.HasSignature(n, cosign) {
			t.Fatalf("round %d: published checkpoint has no valid htlog-witness cosignature: %v\n%s", round, err, cp)
		}
		st, err := store.Latest(ctx, keys.Origin)
		if err != nil || st.Size <= idx.Index {
			t.Fatalf("round %d: witness state %+v (%v), want past index %d", round, st, err, idx.Index)
		}
	}
	// Tessera wrote the cosigned checkpoint where tlog-tiles says.
	if b, err := os.ReadFile(filepath.Join(dir, "checkpoint")); err != nil || len(b) == 0 {
		t.Fatalf("tessera's checkpoint file: %v", err)
	}
}
