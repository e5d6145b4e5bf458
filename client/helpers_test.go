package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
)

// testEnvelope returns a fresh signed, canonical envelope.
func testEnvelope(t testing.TB) []byte {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b, err := event.NewBuilder("npi:1234567893", key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := b.Build(event.Draft{Kind: "access", Version: 1, OccurredAt: "2026-01-02T03:04:05Z",
		Body: map[string]string{"patient": event.Tag([]byte("k"), rand.Text())}})
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}

// inclusion returns the inclusion proof of entry i in the whole tree.
func inclusion(t testing.TB, l *testLog, i uint64) []c2sp.Hash {
	t.Helper()
	hs := l.LeafHashes(l.Size())
	tiles, err := c2sp.TileHashes(hs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c2sp.InclusionProofFromTiles(context.Background(), func(_ context.Context, path string) ([]byte, error) {
		return tiles[path], nil
	}, i, l.Size(), c2sp.RootFromLeafHashes(hs))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
