package testonly

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/htlog/htlog/c2sp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// FakeLog is a small, correct C2SP log in memory: it appends entries, signs
// checkpoints with a real log key and serves /checkpoint, hash tiles and
// entry bundles over HTTP. Tests of witnesses, monitors and clients use it
// as the log they talk to; Fork makes a second tree under the same key.
type FakeLog struct {
	Origin   string
	Signer   note.Signer
	Verifier note.Verifier
	VKey     string

	mu      sync.Mutex
	entries [][]byte
	served  []byte // the checkpoint /checkpoint serves; nil means "sign the current tree"
	srv     *httptest.Server
}

// NewFakeLog returns an empty fake log with a fresh key.
func NewFakeLog(t testing.TB, origin string) *FakeLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &FakeLog{Origin: origin, Signer: s, Verifier: v, VKey: vkey}
}

// Append adds entries to the tree.
func (l *FakeLog) Append(entries ...[]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, entries...)
}

// AppendN adds n entries with distinct contents derived from tag.
func (l *FakeLog) AppendN(tag string, n int) {
	es := make([][]byte, n)
	for i := range es {
		es[i] = []byte(tag + " entry " + strconv.Itoa(len(l.entries)+i))
	}
	l.Append(es...)
}

// Size returns the number of entries.
func (l *FakeLog) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.entries))
}

// Entries returns a copy of the entries.
func (l *FakeLog) Entries() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.entries...)
}

// LeafHashes returns the RFC 6962 leaf hashes of the first n entries.
func (l *FakeLog) LeafHashes(n uint64) []c2sp.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]c2sp.Hash, n)
	for i := range out {
		out[i] = c2sp.LeafHash(l.entries[i])
	}
	return out
}

// Root returns the root of the tree of the first n entries.
func (l *FakeLog) Root(n uint64) c2sp.Hash {
	return c2sp.RootFromLeafHashes(l.LeafHashes(n))
}

// Checkpoint signs and returns a checkpoint of the first n entries, with
// cosignatures from the given signers.
func (l *FakeLog) Checkpoint(t testing.TB, n uint64, cosigners ...note.Signer) []byte {
	t.Helper()
	body := c2sp.Checkpoint{Origin: l.Origin, Size: n, Hash: c2sp.RootFromLeafHashes(l.LeafHashes(n))}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, append([]note.Signer{l.Signer}, cosigners...)...)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// Serve makes /checkpoint serve this signed checkpoint instead of a fresh
// one of the whole tree (nil restores the default).
func (l *FakeLog) Serve(signed []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served = signed
}

// Fork returns a new fake log with the same key and the first n entries.
func (l *FakeLog) Fork(n uint64) *FakeLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &FakeLog{Origin: l.Origin, Signer: l.Signer, Verifier: l.Verifier, VKey: l.VKey,
		entries: append([][]byte(nil), l.entries[:n]...)}
}

// URL starts (once) and returns the HTTP server of the log's tlog-tiles API.
func (l *FakeLog) URL(t testing.TB) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv == nil {
		l.srv = httptest.NewServer(http.HandlerFunc(l.serveHTTP))
		t.Cleanup(l.srv.Close)
	}
	return l.srv.URL
}

func (l *FakeLog) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	l.mu.Lock()
	entries := append([][]byte(nil), l.entries...)
	served := l.served
	l.mu.Unlock()
	if path == "checkpoint" {
		if served == nil {
			body := c2sp.Checkpoint{Origin: l.Origin, Size: uint64(len(entries)), Hash: rootFromEntries(entries)}.Marshal()
			var err error
			if served, err = note.Sign(&note.Note{Text: string(body)}, l.Signer); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		w.Write(served)
		return
	}
	ref, err := c2sp.ParseTilePath(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if ref.Entries {
		start := ref.Index * c2sp.TileWidth
		end := start + uint64(ref.Width)
		if end > uint64(len(entries)) {
			http.NotFound(w, r)
			return
		}
		b, _ := c2sp.MarshalEntryBundle(entries[start:end])
		w.Write(b)
		return
	}
	hs := make([]c2sp.Hash, len(entries))
	for i, e := range entries {
		hs[i] = c2sp.LeafHash(e)
	}
	tiles, err := c2sp.TileHashes(hs)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	// A partial tile is a prefix of the full one: serve any width we have.
	full, ok := tiles[c2sp.TilePath(ref.Level, ref.Index, c2sp.TileWidth)]
	if !ok {
		for w2 := c2sp.TileWidth - 1; w2 >= ref.Width && !ok; w2-- {
			full, ok = tiles[c2sp.TilePath(ref.Level, ref.Index, w2)]
		}
	}
	if !ok || len(full) < ref.Width*c2sp.HashSize {
		http.NotFound(w, r)
		return
	}
	w.Write(full[:ref.Width*c2sp.HashSize])
}

func rootFromEntries(entries [][]byte) c2sp.Hash {
	hs := make([]c2sp.Hash, len(entries))
	for i, e := range entries {
		hs[i] = c2sp.LeafHash(e)
	}
	return c2sp.RootFromLeafHashes(hs)
}

// NewWitnessKey returns an Ed25519 cosignature/v1 signer and its vkey.
func NewWitnessKey(t testing.TB, name string) (*fnote.Signer, string) {
	t.Helper()
	return NewWitnessKeyOf(t, name, c2sp.WitnessAlgEd25519)
}

// NewWitnessKeyOf returns a witness signer and its vkey for alg
// (c2sp.WitnessAlgEd25519 or c2sp.WitnessAlgMLDSA44).
func NewWitnessKeyOf(t testing.TB, name, alg string) (*fnote.Signer, string) {
	t.Helper()
	skey, vkey, err := c2sp.GenerateWitnessKey(name, alg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2sp.NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

// ConsistencyProof returns the RFC 6962 consistency proof between the log's
// trees of sizes from and to (nil when from is 0 or equals to).
func (l *FakeLog) ConsistencyProof(t testing.TB, from, to uint64) []c2sp.Hash {
	t.Helper()
	if from == 0 || from == to {
		return nil
	}
	hs := l.LeafHashes(to)
	tiles, _ := c2sp.TileHashes(hs)
	p, err := c2sp.ConsistencyProofFromTiles(context.Background(), func(_ context.Context, path string) ([]byte, error) {
		return tiles[path], nil
	}, from, to, c2sp.RootFromLeafHashes(hs))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// NewWitnessKeyFile writes a new Ed25519 witness private key to a file only
// its owner can read and returns the path and the cosignature/v1 vkey.
func NewWitnessKeyFile(t testing.TB, name string) (path, vkey string) {
	t.Helper()
	return NewWitnessKeyFileOf(t, name, c2sp.WitnessAlgEd25519)
}

// NewWitnessKeyFileOf is NewWitnessKeyFile for a key of alg
// (c2sp.WitnessAlgEd25519 or c2sp.WitnessAlgMLDSA44).
func NewWitnessKeyFileOf(t testing.TB, name, alg string) (path, vkey string) {
	t.Helper()
	skey, vkey, err := c2sp.GenerateWitnessKey(name, alg)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "witness.key")
	if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, vkey
}
