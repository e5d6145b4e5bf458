package c2sp

import (
	"bytes"
	"strings"
	"testing"

	flog "github.com/transparency-dev/formats/log"
)

// FuzzCheckpointAgainstFormats compares ParseCheckpoint with
// github.com/transparency-dev/formats/log: htlog's parser is the stricter
// (canonical decimal, exactly 32 hash bytes, no empty lines, the empty-tree
// root at size 0), so whatever it accepts formats must accept too, with the
// same origin, size, hash and extension lines, and the body must round-trip
// through Marshal.
func FuzzCheckpointAgainstFormats(f *testing.F) {
	valid := Checkpoint{Origin: "example.com/log", Size: 5, Hash: LeafHash([]byte("x"))}
	f.Add(valid.Marshal())
	f.Add(Checkpoint{Origin: "example.com/log", Size: 0, Hash: EmptyRoot()}.Marshal())
	f.Add(Checkpoint{Origin: "o", Size: 18446744073709551615, Hash: valid.Hash, Extensions: []string{"ext one", "ext two"}}.Marshal())
	f.Add([]byte("example.com/log\n05\n" + valid.Hash.String() + "\n"))
	f.Add([]byte("example.com/log\n5\n" + valid.Hash.String() + "\n\n"))
	f.Add([]byte("example.com/log\n-5\n" + valid.Hash.String() + "\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ours, err := ParseCheckpoint(body)
		if err != nil {
			return
		}
		var theirs flog.Checkpoint
		rest, err := theirs.Unmarshal(body)
		if err != nil {
			t.Fatalf("htlog accepts %q, formats refuses it: %v", body, err)
		}
		if theirs.Origin != ours.Origin || theirs.Size != ours.Size || !bytes.Equal(theirs.Hash, ours.Hash[:]) {
			t.Fatalf("%q: htlog reads %q %d %x, formats %q %d %x", body, ours.Origin, ours.Size, ours.Hash, theirs.Origin, theirs.Size, theirs.Hash)
		}
		var ext []string
		if len(rest) > 0 {
			ext = strings.Split(strings.TrimSuffix(string(rest), "\n"), "\n")
		}
		if strings.Join(ext, "\n") != strings.Join(ours.Extensions, "\n") {
			t.Fatalf("%q: extension lines %q, formats leaves %q", body, ours.Extensions, rest)
		}
		if !bytes.Equal(ours.Marshal(), body) {
			t.Fatalf("%q does not round-trip: %q", body, ours.Marshal())
		}
	})
}
