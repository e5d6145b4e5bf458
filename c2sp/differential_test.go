package c2sp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	fproof "github.com/transparency-dev/formats/proof"
	fwitness "github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"
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
	// Found by this test: Go's base64 decoder skips carriage returns, so a
	// hash line "\r" + hash was read as the hash and could not round-trip.
	f.Add([]byte("0\n1\n\r0000000000000000000000000000000000000000000=\n"))
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

// FuzzProofAgainstFormats compares ParseProof with
// github.com/transparency-dev/formats/proof: whatever htlog's stricter
// parser accepts, formats must read the same index, hashes, extra data and
// checkpoint from, and the two encoders must write the input back.
func FuzzProofAgainstFormats(f *testing.F) {
	cp := Checkpoint{Origin: "example.com/log", Size: 5, Hash: LeafHash([]byte("x"))}.Marshal()
	f.Add(Proof{Index: 3, Hashes: []Hash{LeafHash([]byte("a")), LeafHash([]byte("b"))}, Checkpoint: cp}.Marshal())
	f.Add(Proof{Extra: []byte("extra data"), Index: 0, Checkpoint: cp}.Marshal())
	f.Add([]byte(ProofHeader + "\nindex 007\n\n" + string(cp)))
	f.Add([]byte(ProofHeader + "\nextra \nindex 1\n\n" + string(cp)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, err := ParseProof(data)
		if err != nil {
			return
		}
		var theirs fproof.TLogProof
		if err := theirs.Unmarshal(data); err != nil {
			t.Fatalf("htlog accepts %q, formats refuses it: %v", data, err)
		}
		if theirs.Index != ours.Index || !bytes.Equal(theirs.ExtraData, ours.Extra) || !bytes.Equal(theirs.Checkpoint, ours.Checkpoint) || len(theirs.Hashes) != len(ours.Hashes) {
			t.Fatalf("%q: htlog reads %+v, formats %+v", data, ours, theirs)
		}
		for i := range ours.Hashes {
			if theirs.Hashes[i] != ours.Hashes[i] {
				t.Fatalf("%q: hash %d differs", data, i)
			}
		}
		if !bytes.Equal(ours.Marshal(), data) || !bytes.Equal(theirs.Marshal(), data) {
			t.Fatalf("%q does not round-trip: htlog %q, formats %q", data, ours.Marshal(), theirs.Marshal())
		}
	})
}

// quorumKeySet holds the keys FuzzPolicyQuorumAgainstFormats builds
// policies and checkpoints from.
type quorumKeySet struct {
	logSigner  note.Signer
	logVKey    string
	witSigners []note.Signer
	witVKeys   []string
}

// quorumKeys makes the keys once.
var quorumKeys = sync.OnceValues(func() (*quorumKeySet, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		return nil, err
	}
	k := &quorumKeySet{logVKey: vkey}
	if k.logSigner, err = NewLogSigner(skey); err != nil {
		return nil, err
	}
	for i := range 5 {
		wskey, wvkey, err := GenerateWitnessKey(fmt.Sprintf("w%d.example", i), WitnessAlgEd25519)
		if err != nil {
			return nil, err
		}
		s, err := NewCosigner(wskey)
		if err != nil {
			return nil, err
		}
		k.witSigners, k.witVKeys = append(k.witSigners, s), append(k.witVKeys, wvkey)
	}
	return k, nil
})

// FuzzPolicyQuorumAgainstFormats compares htlog's quorum decision with
// github.com/transparency-dev/formats/witness on policies built from the
// fuzzer's bytes: up to five witnesses, groups over earlier names with any,
// all or k-of-n thresholds, and a checkpoint cosigned by a chosen subset.
// Whatever policy htlog accepts formats must accept, and the two must agree
// on whether the checkpoint meets the quorum.
func FuzzPolicyQuorumAgainstFormats(f *testing.F) {
	f.Add([]byte{2, 0x03, 1, 2, 0x03})
	f.Add([]byte{4, 0x0f, 2, 3, 0x0f, 1, 2, 0x30, 0x05})
	f.Add([]byte{0, 0x00})
	f.Add([]byte{4, 0x1f, 0, 5, 0x1f, 3, 2, 0x60})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := quorumKeys()
		if err != nil {
			t.Fatal(err)
		}
		logSigner, logVKey, witSigners, witVKeys := k.logSigner, k.logVKey, k.witSigners, k.witVKeys
		if len(data) < 2 {
			return
		}
		nw := 1 + int(data[0])%len(witVKeys)
		cosigned := data[1]
		var text strings.Builder
		fmt.Fprintf(&text, "log %s https://log.example\n", logVKey)
		var names []string
		for i := range nw {
			fmt.Fprintf(&text, "witness w%d %s https://w%d.example\n", i, witVKeys[i], i)
			names = append(names, fmt.Sprintf("w%d", i))
		}
		// Each further (threshold, member mask) pair of bytes is a group
		// over the names defined so far.
		for i, rest := 0, data[2:]; len(rest) >= 2 && i < 8; i, rest = i+1, rest[2:] {
			var members []string
			for j, n := range names {
				if j < 8 && rest[1]&(1<<j) != 0 {
					members = append(members, n)
				}
			}
			if len(members) == 0 {
				continue
			}
			threshold := []string{"any", "all", strconv.Itoa(1 + int(rest[0])%len(members))}[int(rest[0])%3]
			name := fmt.Sprintf("g%d", i)
			fmt.Fprintf(&text, "group %s %s %s\n", name, threshold, strings.Join(members, " "))
			names = append(names, name)
		}
		fmt.Fprintf(&text, "quorum %s\n", names[len(names)-1])
		ours, err := ParsePolicy([]byte(text.String()))
		if err != nil {
			return
		}
		theirs, err := fwitness.ParsePolicy([]byte(text.String()))
		if err != nil {
			t.Fatalf("htlog accepts the policy, formats refuses it: %v\n%s", err, text.String())
		}
		signers := []note.Signer{logSigner}
		for i := range nw {
			if cosigned&(1<<i) != 0 {
				signers = append(signers, witSigners[i])
			}
		}
		body := Checkpoint{Origin: "example.com/log", Size: 1, Hash: LeafHash([]byte("x"))}.Marshal()
		signed, err := note.Sign(&note.Note{Text: string(body)}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ours.VerifyCheckpoint(signed)
		if err != nil && !errors.Is(err, ErrQuorumNotMet) {
			t.Fatalf("VerifyCheckpoint: %v", err)
		}
		if met := err == nil; met != theirs.Satisfied(signed) {
			t.Fatalf("htlog says the quorum is met: %v, formats: %v\n%s(cosigned mask %08b)", met, !met, text.String(), cosigned)
		}
	})
}
