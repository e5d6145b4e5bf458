package splitview

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/note"
)

// testKeys is a log's key pair for the tests.
type testKeys struct {
	logSigner   note.Signer
	logVerifier note.Verifier
}

func newTestKeys(t testing.TB, origin string) *testKeys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	k := &testKeys{}
	if k.logSigner, err = c2sp.NewLogSigner(skey); err != nil {
		t.Fatal(err)
	}
	if k.logVerifier, err = c2sp.NewLogVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	return k
}

func leafHashes(n int) []c2sp.Hash {
	out := make([]c2sp.Hash, n)
	for i := range out {
		out[i] = c2sp.LeafHash(fmt.Appendf(nil, "entry %d", i))
	}
	return out
}

func rootOf(hs []c2sp.Hash) c2sp.Hash { return c2sp.RootFromLeafHashes(hs) }

func memFetcher(tiles map[string][]byte) c2sp.TileFetcher {
	return func(_ context.Context, path string) ([]byte, error) {
		d, ok := tiles[path]
		if !ok {
			return nil, fmt.Errorf("no tile %s", path)
		}
		return d, nil
	}
}

func mustSign(t *testing.T, body []byte, k *testKeys) []byte {
	t.Helper()
	signed, err := note.Sign(&note.Note{Text: string(body)}, k.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestEvidence(t *testing.T) {
	k := newTestKeys(t, "example.com/log")
	ctx := context.Background()
	honest := leafHashes(20)
	forked := append(append([]c2sp.Hash{}, honest[:10]...), c2sp.LeafHash([]byte("evil")))
	forked = append(forked, honest[11:16]...)
	sign := func(hs []c2sp.Hash) []byte {
		body := c2sp.Checkpoint{Origin: "example.com/log", Size: uint64(len(hs)), Hash: rootOf(hs)}.Marshal()
		return mustSign(t, body, k)
	}
	// Size 16 from the fork, size 20 from the honest tree: the proof comes from the larger (honest) tree.
	tiles, _ := c2sp.TileHashes(honest)
	p, err := ProofFromTiles(ctx, memFetcher(tiles), 16, 20, rootOf(honest))
	if err != nil {
		t.Fatal(err)
	}
	ev := &Evidence{First: sign(forked), Second: sign(honest), Proof: p}
	parsed, err := Parse(ev.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(parsed.Marshal(), ev.Marshal()) {
		t.Fatal("evidence does not round trip")
	}
	if _, _, err := Verify(parsed, k.logVerifier); err != nil {
		t.Fatalf("valid evidence rejected: %v", err)
	}
	// Consistent checkpoints are not evidence.
	consistent := &Evidence{First: sign(honest[:16]), Second: sign(honest), Proof: p}
	if _, _, err := Verify(consistent, k.logVerifier); err == nil {
		t.Error("consistent checkpoints accepted as evidence")
	}
	// Same size, different roots.
	same := &Evidence{First: sign(forked), Second: sign(honest[:16])}
	if _, _, err := Verify(same, k.logVerifier); err != nil {
		t.Errorf("same-size evidence rejected: %v", err)
	}
	// Tampering with either note or the proof breaks it.
	bad := *ev
	bad.First = bytes.Replace(bad.First, []byte("\n16\n"), []byte("\n17\n"), 1)
	if _, _, err := Verify(&bad, k.logVerifier); err == nil {
		t.Error("tampered first checkpoint accepted")
	}
	bad = *ev
	bad.Proof = append([]c2sp.Hash{}, ev.Proof...)
	bad.Proof[len(bad.Proof)-1] = c2sp.LeafHash([]byte("x"))
	if _, _, err := Verify(&bad, k.logVerifier); err == nil {
		t.Error("tampered proof accepted")
	}
	other := newTestKeys(t, "example.com/log")
	if _, _, err := Verify(ev, other.logVerifier); err == nil {
		t.Error("evidence accepted under another log key")
	}
}

func FuzzParseEvidence(f *testing.F) {
	f.Add([]byte(Header + "\ncheckpoint 2\nabcheckpoint 1\ncproof 1\n" + c2sp.EmptyRoot().String() + "\n"))
	f.Add([]byte(Header + "0\ncheckpoint 2\nabcheckpoint 1\ncproof 0\n")) // a header matched by prefix once passed
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Marshal(), data) {
			t.Fatalf("accepted %q but it re-marshals as %q", data, e.Marshal())
		}
	})
}

// TestParseEvidenceHeader: the header is one exact line; a longer line that
// starts with it (another version) is refused.
func TestParseEvidenceHeader(t *testing.T) {
	body := "\ncheckpoint 2\nabcheckpoint 1\ncproof 0\n"
	if _, err := Parse([]byte(Header + body)); err != nil {
		t.Fatal(err)
	}
	for _, header := range []string{Header + "0", Header + " ", Header + "/x", "x" + Header, ""} {
		if _, err := Parse([]byte(header + body)); err == nil {
			t.Errorf("header %q accepted", header)
		}
	}
}
