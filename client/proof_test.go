package client_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/testonly"
)

// proofFixture is a valid proof of entry 5 of 11, cosigned by all three witnesses.
func proofFixture(t *testing.T) (*testLog, []byte, []byte) {
	l := newTestLog(t, "2")
	l.AppendN("e", 11)
	entry := l.Entries()[5]
	cp := l.Checkpoint(t, 11, l.witnesses...)
	return l, c2sp.Proof{Index: 5, Hashes: inclusion(t, l, 5), Checkpoint: cp}.Marshal(), entry
}

func TestVerifyProofFile(t *testing.T) {
	l, proof, entry := proofFixture(t)
	res, err := client.VerifyProofFile(l.policy, proof, entry)
	if err != nil {
		t.Fatal(err)
	}
	if res.Index != 5 || strings.Join(res.Checkpoint.Witnesses, ",") != "w0,w1,w2" {
		t.Errorf("got index %d witnesses %v", res.Index, res.Checkpoint.Witnesses)
	}
	if _, err := client.VerifyProofFile(l.policy, proof, l.Entries()[4]); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("wrong entry: %v", err)
	}
	three, _ := c2sp.ParsePolicy([]byte(strings.Replace(l.text, "group g 2", "group g 3", 1)))
	p, _ := c2sp.ParseProof(proof)
	p.Checkpoint = l.Checkpoint(t, 11, l.witnesses[0], l.witnesses[1])
	if _, err := client.VerifyProofFile(three, p.Marshal(), entry); !errors.Is(err, c2sp.ErrQuorumNotMet) {
		t.Errorf("two of three cosignatures under a 3-of-3 policy: %v", err)
	}
}

// TestVerifyProofFileDetectsTampering changes every byte of a valid proof
// (several ways), deletes and duplicates every line, and expects every
// result to fail strict verification: no field of a receipt can be altered.
// The one change that keeps a proof valid is dropping a witness's
// cosignature while the rest still meet the quorum: what remains is still
// true, and the result then names only the witnesses left. Without --strict,
// a change that turns a cosignature into one from an unknown key, or adds an
// extra line, verifies as the specs require (the unknown signature and the
// extra data count for nothing), but the result never claims more than the
// untouched proof: same entry, same checkpoint, fewer or as many witnesses.
func TestVerifyProofFileDetectsTampering(t *testing.T) {
	l, proof, entry := proofFixture(t)
	orig, err := client.VerifyProofFile(l.policy, proof, entry)
	if err != nil {
		t.Fatal(err)
	}
	try := func(what string, tampered []byte) {
		t.Helper()
		if bytes.Equal(tampered, proof) {
			return
		}
		res, err := client.VerifyProofFile(l.policy, tampered, entry)
		if err != nil {
			return
		}
		if serr := res.Strict(); serr == nil {
			t.Errorf("%s: the tampered proof verified strictly:\n%s", what, tampered)
		}
		if res.Index != orig.Index || res.Checkpoint.Size != orig.Checkpoint.Size || res.Checkpoint.Hash != orig.Checkpoint.Hash ||
			len(res.Checkpoint.Witnesses) > len(orig.Checkpoint.Witnesses) {
			t.Errorf("%s: the tampered proof verified as something else (index %d, size %d, witnesses %v):\n%s",
				what, res.Index, res.Checkpoint.Size, res.Checkpoint.Witnesses, tampered)
		}
	}
	for i := range proof {
		for _, d := range []byte{0x01, 0x02, 0x04, 0x20, 0x80} {
			b := bytes.Clone(proof)
			b[i] ^= d
			try("flip byte", b)
		}
		try("delete byte", append(bytes.Clone(proof[:i]), proof[i+1:]...))
		try("insert byte", append(append(bytes.Clone(proof[:i]), ' '), proof[i:]...))
	}
	lines := bytes.SplitAfter(proof, []byte("\n"))
	for i := range lines {
		var del, dup [][]byte
		for j, l := range lines {
			if j != i {
				del = append(del, l)
			}
			dup = append(dup, l)
			if j == i {
				dup = append(dup, l)
			}
		}
		if bytes.HasPrefix(lines[i], []byte("— w")) {
			res, err := client.VerifyProofFile(l.policy, bytes.Join(del, nil), entry)
			if err != nil || len(res.Checkpoint.Witnesses) != 2 {
				t.Errorf("dropping cosignature %q: %v", lines[i], err)
			}
		} else {
			try("delete line", bytes.Join(del, nil))
		}
		try("duplicate line", bytes.Join(dup, nil))
	}
	try("trailing newline", append(bytes.Clone(proof), '\n'))
	try("extra line", bytes.Replace(proof, []byte("index"), []byte("extra AAAA\nindex"), 1))
}

// TestVerifyProofFileIgnoresUnknownSignatures: signed-note, tlog-checkpoint
// and tlog-witness tell verifiers to ignore signatures from keys they do not
// know, so a "quorum none" policy, or one naming only some of the witnesses,
// accepts a receipt cosigned by more; Strict refuses it.
func TestVerifyProofFileIgnoresUnknownSignatures(t *testing.T) {
	l, proof, entry := proofFixture(t)
	lines := strings.SplitAfter(l.text, "\n")
	policies := map[string]string{
		"quorum none":      lines[0] + "quorum none\n",
		"two of three":     lines[0] + lines[1] + lines[2] + "group g all w0 w1\nquorum g\n",
		"one of the three": lines[0] + lines[3] + "quorum w2\n",
	}
	for name, text := range policies {
		policy, err := c2sp.ParsePolicy([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.VerifyProofFile(policy, proof, entry)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if res.Index != 5 || len(res.Checkpoint.Witnesses)+len(res.Checkpoint.UnknownSigners) != 3 {
			t.Errorf("%s: index %d, witnesses %v, ignored %v", name, res.Index, res.Checkpoint.Witnesses, res.Checkpoint.UnknownSigners)
		}
		if err := res.Strict(); !errors.Is(err, client.ErrUnknownSignature) || !errors.Is(err, client.ErrNotVerified) {
			t.Errorf("%s: Strict() = %v, want ErrUnknownSignature", name, err)
		}
	}
	// A cosignature from a stranger is ignored under the full policy too.
	stranger, _ := testonly.NewWitnessKey(t, "stranger.example")
	p, _ := c2sp.ParseProof(proof)
	p.Checkpoint = l.Checkpoint(t, 11, append(l.witnesses, stranger)...)
	res, err := client.VerifyProofFile(l.policy, p.Marshal(), entry)
	if err != nil || strings.Join(res.Checkpoint.Witnesses, ",") != "w0,w1,w2" || strings.Join(res.Checkpoint.UnknownSigners, ",") != "stranger.example" {
		t.Fatalf("stranger's cosignature: %v %+v", err, res)
	}
	// A known key's line repeated with another signature is refused:
	// note.Open verifies only the first line of a key.
	marshalled := p.Marshal()
	start := bytes.Index(marshalled, []byte("\n— w1.example ")) + 1
	line := bytes.Clone(marshalled[start : start+bytes.IndexByte(marshalled[start:], '\n')+1])
	forged := bytes.Clone(line)
	forged[len("— w1.example ")+20] ^= 1 // in the signature, past the key ID
	for _, tampered := range [][]byte{
		slices.Concat(marshalled[:start], line, forged, marshalled[start+len(line):]),
		slices.Concat(marshalled[:start], line, line, marshalled[start+len(line):]),
	} {
		if _, err := client.VerifyProofFile(l.policy, tampered, entry); !errors.Is(err, client.ErrNotVerified) {
			t.Errorf("a second line for w1's key: %v\n%s", err, tampered)
		}
	}
}

// TestVerifyProofFileExtra: tlog-proof allows an "extra" line of opaque,
// unauthenticated data; it is returned and trusted for nothing, and Strict
// refuses it.
func TestVerifyProofFileExtra(t *testing.T) {
	l, proof, entry := proofFixture(t)
	p, _ := c2sp.ParseProof(proof)
	p.Extra = []byte("out-of-band context")
	res, err := client.VerifyProofFile(l.policy, p.Marshal(), entry)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Extra) != "out-of-band context" || res.Index != 5 {
		t.Errorf("extra %q index %d", res.Extra, res.Index)
	}
	if err := res.Strict(); !errors.Is(err, client.ErrNotVerified) {
		t.Errorf("Strict() = %v", err)
	}
}
