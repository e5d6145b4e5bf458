package witness_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/witness"
	"golang.org/x/mod/sumdb/note"
)

// TestMLDSA44Cosignature runs add-checkpoint against a witness with an
// ML-DSA-44 key, as tlog-witness recommends: the answer is one cosignature
// line of the whole tree with a non-zero timestamp (tlog-witness forbids
// omitting it), the next checkpoint is cosigned from a consistency proof,
// and the monitoring endpoint serves the note with the cosignature.
func TestMLDSA44Cosignature(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			l := testonly.NewFakeLog(t, origin)
			l.AppendN("a", 20)
			signer, vkey := testonly.NewWitnessKeyOf(t, "pq.example/w1", c2sp.WitnessAlgMLDSA44)
			cosign, err := c2sp.NewCosignatureVerifier(vkey)
			if err != nil {
				t.Fatal(err)
			}
			w, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: l.Verifier}},
				Signers: []note.Signer{signer}, Store: newStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(w.Handler(nil))
			t.Cleanup(srv.Close)
			e := &env{w: w, log: l, srv: srv, cosign: cosign}

			cp10 := l.Checkpoint(t, 10)
			before := time.Now().Add(-time.Second)
			code, _, body := e.add(t, 0, nil, cp10)
			if code != 200 {
				t.Fatalf("add-checkpoint: %d %s", code, body)
			}
			e.checkCosignature(t, cp10, body)
			if strings.Count(body, "\n") != 1 || !strings.HasPrefix(body, "\u2014 pq.example/w1 ") {
				t.Fatalf("answer %q, want one cosignature line", body)
			}
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(body, "\u2014 pq.example/w1 ")))
			if err != nil || len(sig) != 4+8+2420 || binary.BigEndian.Uint32(sig) != cosign.KeyHash() {
				t.Fatalf("cosignature of %d bytes (%v), want key ID, timestamp and 2420 bytes", len(sig), err)
			}
			if ts := time.Unix(int64(binary.BigEndian.Uint64(sig[4:])), 0); ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
				t.Errorf("cosignature timestamp %v, want now", ts)
			}

			cp15 := l.Checkpoint(t, 15)
			if code, _, body := e.add(t, 10, l.ConsistencyProof(t, 10, 15), cp15); code != 200 {
				t.Fatalf("advance: %d %s", code, body)
			} else {
				e.checkCosignature(t, cp15, body)
			}
			resp, err := http.Get(srv.URL + "/" + witness.OriginID(origin) + "/checkpoint")
			if err != nil {
				t.Fatal(err)
			}
			served, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n, err := note.Open(served, note.VerifierList(l.Verifier, cosign))
			if err != nil || !c2sp.HasSignature(n, cosign) || !strings.Contains(n.Text, "\n15\n") {
				t.Errorf("monitoring endpoint served %q: %v", served, err)
			}
		})
	}
}

// TestMLDSA44Rotation cosigns with an Ed25519 and an ML-DSA-44 key at once,
// the way an operator moves a witness to ML-DSA-44: each line verifies with
// its own vkey.
func TestMLDSA44Rotation(t *testing.T) {
	l := testonly.NewFakeLog(t, origin)
	l.AppendN("a", 3)
	oldKey, oldVKey := testonly.NewWitnessKey(t, "w.example")
	newKey, newVKey := testonly.NewWitnessKeyOf(t, "w.example", c2sp.WitnessAlgMLDSA44)
	w, err := witness.New(witness.Config{Logs: []witness.Log{{Origin: origin, Verifier: l.Verifier}},
		Signers: []note.Signer{oldKey, newKey}, Store: witness.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	cp := l.Checkpoint(t, 3)
	lines, err := w.AddCheckpoint(context.Background(), c2sp.AddCheckpointRequest{Checkpoint: cp}.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(lines), "\n"); n != 2 {
		t.Fatalf("%d cosignature lines, want 2: %q", n, lines)
	}
	for _, vkey := range []string{oldVKey, newVKey} {
		v, err := c2sp.NewCosignatureVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(append(append([]byte{}, cp...), lines...), note.VerifierList(l.Verifier, v))
		if err != nil || !c2sp.HasSignature(n, v) {
			t.Fatalf("no valid cosignature for %.40s: %v", vkey, err)
		}
	}
}
