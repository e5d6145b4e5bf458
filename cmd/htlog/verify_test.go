package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/testonly"
	"golang.org/x/mod/sumdb/note"
)

// TestVerifyFollowsTheSpecs: htlog verify ignores cosignatures from keys the
// policy does not list (signed-note, tlog-checkpoint, tlog-witness) and
// accepts a tlog-proof extra line; --strict refuses both.
func TestVerifyFollowsTheSpecs(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l := testonly.NewFakeLog(t, "example.test/log")
	l.AppendN("e", 2)
	var signers []note.Signer
	var vkeys []string
	for _, name := range []string{"w0.example", "w1.example"} {
		s, vkey := testonly.NewWitnessKey(t, name)
		signers, vkeys = append(signers, s), append(vkeys, vkey)
	}
	p := c2sp.Proof{Index: 0, Hashes: []c2sp.Hash{c2sp.LeafHash(l.Entries()[1])}, Checkpoint: l.Checkpoint(t, 2, signers...)}
	receipt := file("r.tlog-proof", p.Marshal())
	p.Extra = []byte("context")
	withExtra := file("extra.tlog-proof", p.Marshal())
	entry := file("entry", l.Entries()[0])
	none := file("none.txt", []byte("log "+l.VKey+"\nquorum none\n"))
	some := file("some.txt", []byte("log "+l.VKey+"\nwitness w1 "+vkeys[1]+"\nquorum w1\n"))
	all := file("all.txt", []byte("log "+l.VKey+"\nwitness w0 "+vkeys[0]+"\nwitness w1 "+vkeys[1]+"\ngroup g all w0 w1\nquorum g\n"))

	for _, tc := range []struct {
		policy, proof string
		strict        bool
		want          int
	}{
		{none, receipt, false, exitOK},
		{some, receipt, false, exitOK},
		{all, receipt, false, exitOK},
		{all, withExtra, false, exitOK},
		{none, receipt, true, exitNotVerified},
		{some, receipt, true, exitNotVerified},
		{all, receipt, true, exitOK},
		{all, withExtra, true, exitNotVerified},
	} {
		args := []string{"verify", "--policy", tc.policy, "--raw", "--entry", entry, "--json", tc.proof}
		if tc.strict {
			args = append(args, "--strict")
		}
		code, out, errOut := runCLI(t, args...)
		if code != tc.want {
			t.Errorf("%s with %s (strict %v): exit %d, want %d: %s %s", filepath.Base(tc.proof), filepath.Base(tc.policy), tc.strict, code, tc.want, out, errOut)
		}
		var j struct {
			Witnesses []string `json:"witnesses"`
			Ignored   []string `json:"ignored_signers"`
		}
		json.Unmarshal([]byte(out), &j)
		if code == exitOK && tc.policy == some && (strings.Join(j.Witnesses, ",") != "w1" || strings.Join(j.Ignored, ",") != "w0.example") {
			t.Errorf("partial policy: witnesses %v, ignored %v", j.Witnesses, j.Ignored)
		}
	}
}
