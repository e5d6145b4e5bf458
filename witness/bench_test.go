package witness_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/witness"
	"github.com/transparency-dev/merkle/rfc6962"
	mtest "github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// BenchmarkAddCheckpoint measures one add-checkpoint, from parsing the
// request to the committed compare-and-swap, as the log would drive it: each
// request advances the witness by a batch of entries with a real consistency
// proof. It reports p50 and p99 latency. Run it on MariaDB with
//
//	make bench-witness
//
// (HTLOG_INTEGRATION=1 go test -run '^$' -bench AddCheckpoint ./witness/).
func BenchmarkAddCheckpoint(b *testing.B) {
	for _, name := range []string{"mem", "mysql"} {
		b.Run(name, func(b *testing.B) {
			var store witness.Store = witness.NewMemStore()
			if name == "mysql" {
				testonly.RequireIntegration(b)
				store = newMySQLStore(b, testonly.NewDatabase(b, "witness_bench"))
			}
			benchmarkAddCheckpoint(b, store)
		})
	}
}

func benchmarkAddCheckpoint(b *testing.B, store witness.Store) {
	const origin = "bench.example/log"
	logSigner, logVerifier := newLogKey(b, origin)
	signer, _ := testonly.NewWitnessKey(b, "w.example")
	w, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: logVerifier}}, Signers: []note.Signer{signer}, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 64 // entries per checkpoint, about one second of a busy log
	tree := mtest.New(rfc6962.DefaultHasher)
	reqs := make([][]byte, b.N)
	for i := range reqs {
		old := tree.Size()
		for j := 0; j < batch; j++ {
			tree.AppendData(fmt.Appendf(nil, "entry %d %d", i, j))
		}
		proof, err := tree.ConsistencyProof(old, tree.Size())
		if err != nil {
			b.Fatal(err)
		}
		var root c2sp.Hash
		copy(root[:], tree.Hash())
		signed, err := note.Sign(&note.Note{Text: string(c2sp.Checkpoint{Origin: origin, Size: tree.Size(), Hash: root}.Marshal())}, logSigner)
		if err != nil {
			b.Fatal(err)
		}
		hs := make([]c2sp.Hash, len(proof))
		for k, p := range proof {
			copy(hs[k][:], p)
		}
		if old == 0 {
			hs = nil
		}
		reqs[i] = c2sp.AddCheckpointRequest{OldSize: old, Proof: hs, Checkpoint: signed}.Marshal()
	}
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i, req := range reqs {
		start := time.Now()
		if _, err := w.AddCheckpoint(ctx, req); err != nil {
			b.Fatalf("request %d: %v", i, err)
		}
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func newLogKey(tb testing.TB, origin string) (note.Signer, note.Verifier) {
	l := testonly.NewFakeLog(tb, origin)
	return l.Signer, l.Verifier
}
