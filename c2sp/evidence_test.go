package c2sp

import (
	"bytes"
	"context"
	"testing"
)

func TestConsistencyRootsMatchesVerifier(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{2, 3, 7, 8, 9, 300} {
		hs := leafHashes(n)
		tiles, _ := TileHashes(hs)
		for m := 1; m < n; m++ {
			p, err := EvidenceProofFromTiles(ctx, memFetcher(tiles), uint64(m), uint64(n), rootOf(hs))
			if err != nil {
				t.Fatal(err)
			}
			old, nw, err := ConsistencyRoots(uint64(m), uint64(n), p)
			if err != nil {
				t.Fatalf("%d->%d: %v", m, n, err)
			}
			if old != rootOf(hs[:m]) || nw != rootOf(hs) {
				t.Fatalf("%d->%d: roots do not match the trees", m, n)
			}
		}
	}
}

func TestEvidence(t *testing.T) {
	k := newTestKeys(t, "example.com/log", 0)
	ctx := context.Background()
	honest := leafHashes(20)
	forked := append(append([]Hash{}, honest[:10]...), LeafHash([]byte("evil")))
	forked = append(forked, honest[11:16]...)
	sign := func(hs []Hash) []byte {
		body := Checkpoint{Origin: "example.com/log", Size: uint64(len(hs)), Hash: rootOf(hs)}.Marshal()
		return mustSign(t, body, k)
	}
	// Size 16 from the fork, size 20 from the honest tree: the proof comes from the larger (honest) tree.
	tiles, _ := TileHashes(honest)
	p, err := EvidenceProofFromTiles(ctx, memFetcher(tiles), 16, 20, rootOf(honest))
	if err != nil {
		t.Fatal(err)
	}
	ev := &Evidence{First: sign(forked), Second: sign(honest), Proof: p}
	parsed, err := ParseEvidence(ev.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(parsed.Marshal(), ev.Marshal()) {
		t.Fatal("evidence does not round trip")
	}
	if _, _, err := VerifyEvidence(parsed, k.logVerifier); err != nil {
		t.Fatalf("valid evidence rejected: %v", err)
	}
	// Consistent checkpoints are not evidence.
	consistent := &Evidence{First: sign(honest[:16]), Second: sign(honest), Proof: p}
	if _, _, err := VerifyEvidence(consistent, k.logVerifier); err == nil {
		t.Error("consistent checkpoints accepted as evidence")
	}
	// Same size, different roots.
	same := &Evidence{First: sign(forked), Second: sign(honest[:16])}
	if _, _, err := VerifyEvidence(same, k.logVerifier); err != nil {
		t.Errorf("same-size evidence rejected: %v", err)
	}
	// Tampering with either note or the proof breaks it.
	bad := *ev
	bad.First = bytes.Replace(bad.First, []byte("\n16\n"), []byte("\n17\n"), 1)
	if _, _, err := VerifyEvidence(&bad, k.logVerifier); err == nil {
		t.Error("tampered first checkpoint accepted")
	}
	bad = *ev
	bad.Proof = append([]Hash{}, ev.Proof...)
	bad.Proof[len(bad.Proof)-1] = LeafHash([]byte("x"))
	if _, _, err := VerifyEvidence(&bad, k.logVerifier); err == nil {
		t.Error("tampered proof accepted")
	}
	other := newTestKeys(t, "example.com/log", 0)
	if _, _, err := VerifyEvidence(ev, other.logVerifier); err == nil {
		t.Error("evidence accepted under another log key")
	}
}

func FuzzParseEvidence(f *testing.F) {
	f.Add([]byte(EvidenceHeader + "\ncheckpoint 2\nabcheckpoint 1\ncproof 1\n" + EmptyRoot().String() + "\n"))
	f.Add([]byte(EvidenceHeader + "0\ncheckpoint 2\nabcheckpoint 1\ncproof 0\n")) // a header matched by prefix once passed
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvidence(data)
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
	if _, err := ParseEvidence([]byte(EvidenceHeader + body)); err != nil {
		t.Fatal(err)
	}
	for _, header := range []string{EvidenceHeader + "0", EvidenceHeader + " ", EvidenceHeader + "/x", "x" + EvidenceHeader, ""} {
		if _, err := ParseEvidence([]byte(header + body)); err == nil {
			t.Errorf("header %q accepted", header)
		}
	}
}
