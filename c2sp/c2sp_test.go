package c2sp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

type testKeys struct {
	logSigner   note.Signer
	logVerifier note.Verifier
	logVKey     string
	witSigners  []*fnote.Signer
	witVKeys    []string
}

func newTestKeys(t testing.TB, origin string, witnesses int) *testKeys {
	t.Helper()
	k := &testKeys{}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	if k.logSigner, err = NewLogSigner(skey); err != nil {
		t.Fatal(err)
	}
	if k.logVerifier, err = NewLogVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	k.logVKey = vkey
	for i := 0; i < witnesses; i++ {
		skey, vkey, err := note.GenerateKey(rand.Reader, fmt.Sprintf("w%d.example", i+1))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewCosigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		cvkey, err := fnote.VKeyToCosignatureV1(vkey)
		if err != nil {
			t.Fatal(err)
		}
		k.witSigners = append(k.witSigners, s)
		k.witVKeys = append(k.witVKeys, cvkey)
	}
	return k
}

func leafHashes(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash([]byte(fmt.Sprintf("entry %d", i)))
	}
	return out
}

// rootOf computes the RFC 6962 root of leaf hashes directly from the definition.
func rootOf(hs []Hash) Hash {
	switch len(hs) {
	case 0:
		return EmptyRoot()
	case 1:
		return hs[0]
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	l, r := rootOf(hs[:k]), rootOf(hs[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestRootFromLeafHashes(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 255, 256, 257, 1000} {
		if got, want := RootFromLeafHashes(leafHashes(n)), rootOf(leafHashes(n)); got != want {
			t.Errorf("size %d: root %v, want %v", n, got, want)
		}
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := LeafHash([]byte("x")).String()
	empty := EmptyRoot().String()
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"plain", "example.com/log\n5\n" + root + "\n", true},
		{"extension", "example.com/log\n5\n" + root + "\next\n", true},
		{"empty tree", "example.com/log\n0\n" + empty + "\n", true},
		{"empty tree wrong root", "example.com/log\n0\n" + root + "\n", false},
		{"leading zero", "example.com/log\n05\n" + root + "\n", false},
		{"negative", "example.com/log\n-5\n" + root + "\n", false},
		{"plus sign", "example.com/log\n+5\n" + root + "\n", false},
		{"no final newline", "example.com/log\n5\n" + root, false},
		{"short hash", "example.com/log\n5\nAAAA\n", false},
		{"space in origin", "example com\n5\n" + root + "\n", false},
		{"empty origin", "\n5\n" + root + "\n", false},
		{"empty extension", "example.com/log\n5\n" + root + "\n\n", false},
		{"two lines", "example.com/log\n5\n", false},
		{"unpadded hash", "example.com/log\n5\n" + strings.TrimRight(root, "=") + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCheckpoint([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseCheckpoint: err = %v, want ok = %v", err, tc.ok)
			}
			if tc.ok && string(c.Marshal()) != tc.body {
				t.Errorf("Marshal = %q, want %q", c.Marshal(), tc.body)
			}
		})
	}
}

func TestOpenCheckpoint(t *testing.T) {
	k := newTestKeys(t, "example.com/log", 2)
	other := newTestKeys(t, "example.com/log", 0)
	body := Checkpoint{Origin: "example.com/log", Size: 3, Hash: rootOf(leafHashes(3))}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, k.logSigner)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := OpenCheckpoint(signed, k.logVerifier)
	if err != nil {
		t.Fatalf("OpenCheckpoint: %v", err)
	}
	if sc.Size != 3 || sc.Origin != "example.com/log" {
		t.Errorf("got %+v", sc.Checkpoint)
	}
	if _, err := OpenCheckpoint(signed, other.logVerifier); !errors.Is(err, ErrNoLogSignature) {
		t.Errorf("other log key: err = %v, want ErrNoLogSignature", err)
	}
	tampered := bytes.Replace(signed, []byte("\n3\n"), []byte("\n4\n"), 1)
	if _, err := OpenCheckpoint(tampered, k.logVerifier); err == nil {
		t.Error("tampered size accepted")
	}
	// A cosignature from a known witness is verified; one from an unknown key is ignored.
	n, _ := note.Open(signed, note.VerifierList(k.logVerifier))
	cosigned, err := note.Sign(n, k.witSigners[0])
	if err != nil {
		t.Fatal(err)
	}
	wv, _ := NewCosignatureVerifier(k.witVKeys[0])
	sc, err = OpenCheckpoint(cosigned, k.logVerifier, wv)
	if err != nil || !HasSignature(sc.Note, wv) {
		t.Fatalf("cosigned: err = %v", err)
	}
	if _, err := OpenCheckpoint(cosigned, k.logVerifier); err != nil {
		t.Errorf("unknown cosigner should be ignored: %v", err)
	}
	ts, err := CosignatureTime(sc.Note.Sigs[1])
	if err != nil || ts.IsZero() {
		t.Errorf("CosignatureTime = %v, %v", ts, err)
	}
}

func TestAddCheckpointRequest(t *testing.T) {
	req := AddCheckpointRequest{OldSize: 7, Proof: leafHashes(3), Checkpoint: []byte("origin\n8\nabc\n\n— sig\n")}
	got, err := ParseAddCheckpointRequest(req.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.OldSize != 7 || len(got.Proof) != 3 || got.Proof[2] != req.Proof[2] || !bytes.Equal(got.Checkpoint, req.Checkpoint) {
		t.Errorf("round trip = %+v", got)
	}
	h := leafHashes(1)[0].String()
	for _, bad := range []string{
		"", "old 1", "old 01\n\ncp", "old x\n\ncp", "new 1\n\ncp", "old 1\n" + h + "\ncp",
		"old 1\n\n", "old 1\nAAAA\n\ncp", "old 1\n" + strings.Repeat(h+"\n", 64) + "\ncp",
	} {
		if _, err := ParseAddCheckpointRequest([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestTilePaths(t *testing.T) {
	for _, tc := range []struct {
		ref  TileRef
		path string
	}{
		{TileRef{Level: 0, Index: 1234067, Width: 256}, "tile/0/x001/x234/067"},
		{TileRef{Level: 1, Index: 5, Width: 17}, "tile/1/005.p/17"},
		{TileRef{Entries: true, Index: 1000, Width: 256}, "tile/entries/x001/000"},
		{TileRef{Entries: true, Index: 0, Width: 1}, "tile/entries/000.p/1"},
	} {
		if got := tc.ref.Path(); got != tc.path {
			t.Errorf("Path(%+v) = %q, want %q", tc.ref, got, tc.path)
		}
		got, err := ParseTilePath(tc.path)
		if err != nil || got != tc.ref {
			t.Errorf("ParseTilePath(%q) = %+v, %v", tc.path, got, err)
		}
	}
	for _, bad := range []string{
		"tile/0/1", "tile/0/0001", "tile/00/001", "tile/64/001", "tile/0/001.p/0", "tile/0/001.p/256",
		"tile/0/001/002", "tile/0/x000/001", "tiles/0/001", "tile/entries/001.p/01", "tile/0/x001",
	} {
		if _, err := ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) accepted", bad)
		}
	}
}

func TestEntryBundle(t *testing.T) {
	entries := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("z"), 300)}
	data, err := MarshalEntryBundle(entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEntryBundle(data, 3)
	if err != nil || len(got) != 3 || !bytes.Equal(got[2], entries[2]) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParseEntryBundle(data, 2); err == nil {
		t.Error("accepted a bundle with more entries than wanted")
	}
	if _, err := ParseEntryBundle(data[:len(data)-1], 3); err == nil {
		t.Error("accepted a truncated bundle")
	}
	if _, err := MarshalEntryBundle([][]byte{make([]byte, MaxEntrySize+1)}); err == nil {
		t.Error("marshalled an oversized entry")
	}
}

func memFetcher(tiles map[string][]byte) TileFetcher {
	return func(_ context.Context, path string) ([]byte, error) {
		d, ok := tiles[path]
		if !ok {
			return nil, fmt.Errorf("no tile %s", path)
		}
		return d, nil
	}
}

func TestProofsFromTiles(t *testing.T) {
	ctx := context.Background()
	for _, size := range []int{1, 2, 255, 256, 257, 700} {
		hs := leafHashes(size)
		tiles, err := TileHashes(hs)
		if err != nil {
			t.Fatal(err)
		}
		root := rootOf(hs)
		for _, idx := range []int{0, size / 2, size - 1} {
			p, err := InclusionProofFromTiles(ctx, memFetcher(tiles), uint64(idx), uint64(size), root)
			if err != nil {
				t.Fatalf("size %d index %d: %v", size, idx, err)
			}
			if err := VerifyInclusion(uint64(idx), uint64(size), hs[idx], root, p); err != nil {
				t.Errorf("size %d index %d: %v", size, idx, err)
			}
		}
		for _, old := range []int{1, size / 3, size - 1} {
			if old == 0 {
				continue
			}
			p, err := ConsistencyProofFromTiles(ctx, memFetcher(tiles), uint64(old), uint64(size), root)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(uint64(old), uint64(size), rootOf(hs[:old]), root, p); err != nil {
				t.Errorf("consistency %d -> %d: %v", old, size, err)
			}
		}
		// A wrong root makes the tile reader refuse the tiles.
		if _, err := InclusionProofFromTiles(ctx, memFetcher(tiles), 0, uint64(size), LeafHash([]byte("bad"))); err == nil && size > 1 {
			t.Errorf("size %d: tiles accepted against a wrong root", size)
		}
	}
}

func TestVerifyConsistencyEdges(t *testing.T) {
	hs := leafHashes(5)
	if err := VerifyConsistency(0, 5, EmptyRoot(), rootOf(hs), nil); err != nil {
		t.Errorf("from empty: %v", err)
	}
	if err := VerifyConsistency(0, 5, EmptyRoot(), rootOf(hs), hs[:1]); !errors.Is(err, ErrInconsistent) {
		t.Errorf("from empty with proof: %v", err)
	}
	if err := VerifyConsistency(5, 5, rootOf(hs), rootOf(hs[:4]), nil); !errors.Is(err, ErrInconsistent) {
		t.Errorf("same size different root: %v", err)
	}
	if err := VerifyConsistency(6, 5, rootOf(hs), rootOf(hs), nil); err == nil {
		t.Error("old > new accepted")
	}
}

func signedCheckpoint(t *testing.T, k *testKeys, size int, cosigners ...int) []byte {
	t.Helper()
	body := Checkpoint{Origin: k.logVerifier.Name(), Size: uint64(size), Hash: rootOf(leafHashes(size))}.Marshal()
	signers := []note.Signer{k.logSigner}
	for _, i := range cosigners {
		signers = append(signers, k.witSigners[i])
	}
	signed, err := note.Sign(&note.Note{Text: string(body)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestPolicyAndProof(t *testing.T) {
	k := newTestKeys(t, "example.com/log", 3)
	policyText := fmt.Sprintf("# test policy\nlog %s https://log.example\n\nwitness A %s\nwitness B %s\n\twitness C %s \ngroup two 2 A B C\nquorum two\n",
		k.logVKey, k.witVKeys[0], k.witVKeys[1], k.witVKeys[2])
	p, err := ParsePolicy([]byte(policyText))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.VerifyCheckpoint(signedCheckpoint(t, k, 10, 0)); !errors.Is(err, ErrQuorumNotMet) {
		t.Errorf("one cosigner: err = %v, want ErrQuorumNotMet", err)
	}
	_, names, err := p.VerifyCheckpoint(signedCheckpoint(t, k, 10, 0, 2))
	if err != nil || strings.Join(names, ",") != "A,C" {
		t.Errorf("two cosigners: names %v err %v", names, err)
	}
	hs := leafHashes(10)
	tiles, _ := TileHashes(hs)
	ip, err := InclusionProofFromTiles(context.Background(), memFetcher(tiles), 4, 10, rootOf(hs))
	if err != nil {
		t.Fatal(err)
	}
	proof := &Proof{Extra: []byte("x"), Index: 4, Hashes: ip, Checkpoint: signedCheckpoint(t, k, 10, 1, 2)}
	parsed, err := ParseProof(proof.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(parsed.Marshal(), proof.Marshal()) {
		t.Error("proof does not round trip")
	}
	if _, _, err := p.VerifyProof(parsed, hs[4]); err != nil {
		t.Errorf("VerifyProof: %v", err)
	}
	if _, _, err := p.VerifyProof(parsed, hs[5]); err == nil {
		t.Error("VerifyProof accepted the wrong leaf")
	}
	parsed.Index = 5
	if _, _, err := p.VerifyProof(parsed, hs[4]); err == nil {
		t.Error("VerifyProof accepted the wrong index")
	}
	other := newTestKeys(t, "example.com/other", 0)
	if _, _, err := p.VerifyCheckpoint(signedCheckpoint(t, other, 3)); !errors.Is(err, ErrUnknownLog) {
		t.Errorf("other log: %v", err)
	}

	for name, bad := range map[string]string{
		"no quorum":         "log " + k.logVKey + "\n",
		"two quorums":       "quorum none\nquorum none\n",
		"undefined":         "quorum A\n",
		"dup witness key":   fmt.Sprintf("witness A %s\nwitness B %s\nquorum A\n", k.witVKeys[0], k.witVKeys[0]),
		"threshold too big": fmt.Sprintf("witness A %s\ngroup g 2 A\nquorum g\n", k.witVKeys[0]),
		"member twice":      fmt.Sprintf("witness A %s\ngroup g any A A\nquorum g\n", k.witVKeys[0]),
		"none as name":      fmt.Sprintf("witness none %s\nquorum none\n", k.witVKeys[0]),
		"unknown keyword":   "quorum none\nfoo bar\n",
		"control char":      "quorum none\r\n",
	} {
		if _, err := ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	none, err := ParsePolicy([]byte("log " + k.logVKey + "\nquorum none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := none.VerifyCheckpoint(signedCheckpoint(t, k, 3)); err != nil {
		t.Errorf("quorum none: %v", err)
	}
}

func TestParseProofErrors(t *testing.T) {
	h := leafHashes(1)[0].String()
	for _, bad := range []string{
		"", "c2sp.org/tlog-proof@v2\nindex 1\n\ncp", ProofHeader + "\nindex 01\n\ncp", ProofHeader + "\nextra !!\nindex 1\n\ncp",
		ProofHeader + "\nindex 1\n" + h + "\n", ProofHeader + "\nindex 1\nAAA=\n\ncp", ProofHeader + "\n" + h + "\n\ncp",
		ProofHeader + "\nindex 1\n" + h + "\n\n",
	} {
		if _, err := ParseProof([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestVKeyFromSKey(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	got, err := VKeyFromSKey(skey)
	if err != nil || got != vkey {
		t.Fatalf("VKeyFromSKey = %q, %v; want %q", got, err, vkey)
	}
	for _, bad := range []string{"", vkey, skey[:len(skey)-4], strings.Replace(skey, "+example.com/log+", "+other+", 1)} {
		if _, err := VKeyFromSKey(bad); err == nil {
			t.Errorf("VKeyFromSKey(%q) succeeded", bad)
		}
	}
}

// TestHashJSON: hashes are base64 strings in JSON (docs/api.md), read back
// strictly; an array of numbers, a short hash or non-canonical base64 is
// refused.
func TestHashJSON(t *testing.T) {
	hs := leafHashes(2)
	b, err := json.Marshal(map[string][]Hash{"proof": hs})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"proof":["` + hs[0].String() + `","` + hs[1].String() + `"]}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var back struct{ Proof []Hash }
	if err := json.Unmarshal(b, &back); err != nil || len(back.Proof) != 2 || back.Proof[0] != hs[0] || back.Proof[1] != hs[1] {
		t.Fatalf("round trip: %v %v", back.Proof, err)
	}
	numbers, _ := json.Marshal(map[string][][32]byte{"proof": {hs[0]}})
	short := `{"proof":["AAAA"]}`
	loose := `{"proof":["` + hs[0].String()[:42] + `B="]}` // non-zero padding bits
	for _, bad := range []string{string(numbers), short, loose} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestConsistencyRootsMatchesVerifier: ConsistencyRoots yields both roots
// from a consistency path taken from tiles (with the hash of [0, m) first
// when m is a power of two, as split-view evidence carries it).
func TestConsistencyRootsMatchesVerifier(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{2, 3, 7, 8, 9, 300} {
		hs := leafHashes(n)
		tiles, _ := TileHashes(hs)
		for m := 1; m < n; m++ {
			p, err := ConsistencyProofFromTiles(ctx, memFetcher(tiles), uint64(m), uint64(n), rootOf(hs))
			if m&(m-1) == 0 {
				h, herr := TreeHashFromTiles(ctx, memFetcher(tiles), uint64(m), uint64(n), rootOf(hs))
				if herr != nil {
					t.Fatal(herr)
				}
				p = append([]Hash{h}, p...)
			}
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
