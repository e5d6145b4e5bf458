package testonly

import (
	"crypto/rand"
	"fmt"
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
	"golang.org/x/mod/sumdb/tlog"
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
	stored  []tlog.Hash // the tree's stored hashes (tlog's layout), kept as entries are appended
	served  []byte      // the checkpoint /checkpoint serves; nil means "sign the current tree"
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
	for _, e := range entries {
		hs, err := tlog.StoredHashes(int64(len(l.entries)), e, l.reader())
		if err != nil {
			panic(err) // only on a bug: every hash it reads is stored
		}
		l.stored = append(l.stored, hs...)
		l.entries = append(l.entries, e)
	}
}

// reader reads the stored hashes; the caller holds mu.
func (l *FakeLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(l.stored)) {
				return nil, fmt.Errorf("hash %d is not stored", x)
			}
			out[i] = l.stored[x]
		}
		return out, nil
	})
}

// root returns the root of the first n entries; the caller holds mu.
func (l *FakeLog) root(n uint64) c2sp.Hash {
	h, err := tlog.TreeHash(int64(n), l.reader())
	if err != nil {
		panic(err)
	}
	return c2sp.Hash(h)
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
		out[i] = c2sp.Hash(l.stored[tlog.StoredHashIndex(0, int64(i))])
	}
	return out
}

// Root returns the root of the tree of the first n entries.
func (l *FakeLog) Root(n uint64) c2sp.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.root(n)
}

// Checkpoint signs and returns a checkpoint of the first n entries, with
// cosignatures from the given signers.
func (l *FakeLog) Checkpoint(t testing.TB, n uint64, cosigners ...note.Signer) []byte {
	t.Helper()
	body := c2sp.Checkpoint{Origin: l.Origin, Size: n, Hash: l.Root(n)}.Marshal()
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
	entries := append([][]byte(nil), l.entries[:n]...)
	l.mu.Unlock()
	f := &FakeLog{Origin: l.Origin, Signer: l.Signer, Verifier: l.Verifier, VKey: l.VKey}
	f.Append(entries...)
	return f
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

// Handler returns the log's tlog-tiles API (what URL serves).
func (l *FakeLog) Handler() http.Handler { return http.HandlerFunc(l.serveHTTP) }

func (l *FakeLog) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	l.mu.Lock()
	defer l.mu.Unlock()
	size := uint64(len(l.entries))
	if path == "checkpoint" {
		served := l.served
		if served == nil {
			body := c2sp.Checkpoint{Origin: l.Origin, Size: size, Hash: l.root(size)}.Marshal()
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
		if end > size {
			http.NotFound(w, r)
			return
		}
		b, _ := c2sp.MarshalEntryBundle(l.entries[start:end])
		w.Write(b)
		return
	}
	// A tile (any width, as a partial tile is a prefix of the full one)
	// exists once the tree has its hashes.
	level := int(ref.Level) * c2sp.TileHeight
	if ref.Index*c2sp.TileWidth+uint64(ref.Width) > size>>uint(level) {
		http.NotFound(w, r)
		return
	}
	data, err := tlog.ReadTileData(tlog.Tile{H: c2sp.TileHeight, L: int(ref.Level), N: int64(ref.Index), W: ref.Width}, l.reader())
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Write(data)
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
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := tlog.ProveTree(int64(to), int64(from), l.reader())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]c2sp.Hash, len(p))
	for i := range p {
		out[i] = c2sp.Hash(p[i])
	}
	return out
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
