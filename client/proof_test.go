package client_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/c2sp"
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
// result to fail verification: no field of a receipt can be altered. The one
// change that keeps a proof valid is dropping a witness's cosignature while
// the rest still meet the quorum: what remains is still true, and the
// result then names only the witnesses left.
func TestVerifyProofFileDetectsTampering(t *testing.T) {
	l, proof, entry := proofFixture(t)
	try := func(what string, tampered []byte) {
		t.Helper()
		if bytes.Equal(tampered, proof) {
			return
		}
		if _, err := client.VerifyProofFile(l.policy, tampered, entry); err == nil {
			t.Errorf("%s: the tampered proof verified:\n%s", what, tampered)
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
