package c2sp

import (
	"bytes"
	"testing"
)

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("example.com/log\n5\n" + LeafHash(nil).String() + "\n"))
	f.Add([]byte("example.com/log\n0\n" + EmptyRoot().String() + "\next\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCheckpoint(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), data) {
			t.Fatalf("accepted %q but it re-marshals as %q", data, c.Marshal())
		}
	})
}

func FuzzParseAddCheckpointRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nexample.com/log\n1\n" + LeafHash(nil).String() + "\n\n— x AAAA\n"))
	f.Add([]byte("old 3\n" + LeafHash(nil).String() + "\n\ncp"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseAddCheckpointRequest(data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Marshal(), data) {
			t.Fatalf("accepted %q but it re-marshals as %q", data, r.Marshal())
		}
	})
}

func FuzzParseTilePath(f *testing.F) {
	f.Add("tile/0/x001/x234/067")
	f.Add("tile/entries/000.p/5")
	f.Fuzz(func(t *testing.T, path string) {
		ref, err := ParseTilePath(path)
		if err != nil {
			return
		}
		if ref.Path() != path {
			t.Fatalf("accepted %q but it prints as %q", path, ref.Path())
		}
	})
}

func FuzzParseEntryBundle(f *testing.F) {
	b, _ := MarshalEntryBundle([][]byte{[]byte("a"), []byte("bc")})
	f.Add(b, 2)
	f.Fuzz(func(t *testing.T, data []byte, want int) {
		entries, err := ParseEntryBundle(data, want)
		if err != nil {
			return
		}
		again, err := MarshalEntryBundle(entries)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("bundle does not round trip: %v", err)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	f.Add([]byte(ProofHeader + "\nextra eA==\nindex 4\n" + LeafHash(nil).String() + "\n\ncp\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(data)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), data) {
			t.Fatalf("accepted %q but it re-marshals as %q", data, p.Marshal())
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte("quorum none\n"))
	f.Add([]byte("witness A example+12345678+AAAA\ngroup g any A\nquorum g\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		// Every accepted policy can be evaluated without panicking.
		p.QuorumMet(map[string]bool{})
	})
}
