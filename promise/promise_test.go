package promise

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"golang.org/x/mod/sumdb/note"
)

func TestPromiseRoundTrip(t *testing.T) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "example.com/log")
	signer, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	p := Promise{Origin: "example.com/log", EventID: "sha256:" + strings.Repeat("ab", 32), LeafHash: c2sp.LeafHash([]byte("x")),
		Timestamp: time.Unix(1700000000, 0), MaxMergeDelay: time.Minute}
	signed, err := p.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(signed, v)
	if err != nil || *got != p {
		t.Fatalf("OpenPromise = %+v, %v", got, err)
	}
	// A promise is never a checkpoint.
	if _, err := c2sp.OpenCheckpoint(signed, v); err == nil {
		t.Fatal("a promise opened as a checkpoint")
	}
	tampered := bytes.Replace(signed, []byte("\n60\n"), []byte("\n6000\n"), 1)
	if _, err := Open(tampered, v); err == nil {
		t.Fatal("tampered promise verified")
	}
}
