package server

import (
	"encoding/json"
	"testing"

	"github.com/htlog/htlog/c2sp"
)

// TestProofResponseJSON: /proof/inclusion and /proof/consistency answer
// with the proof as base64 strings, as docs/api.md says, not as arrays of
// 32 numbers.
func TestProofResponseJSON(t *testing.T) {
	h := c2sp.LeafHash([]byte("entry"))
	index := uint64(3)
	b, err := json.Marshal(ProofResponse{Index: &index, TreeSize: 8, Proof: []c2sp.Hash{h, h}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":3,"tree_size":8,"proof":["` + h.String() + `","` + h.String() + `"]}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	if b, _ := json.Marshal(ProofResponse{TreeSize: 0, Proof: nonNil(nil)}); string(b) != `{"tree_size":0,"proof":[]}` {
		t.Errorf("empty proof: %s", b)
	}
}
