package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/internal/event"
)

// A receipt verifies offline with the policy and the entry alone.
func ExampleVerifyProofFile() {
	t := &testing.T{}
	l := newTestLog(t, "2") // a log with witnesses w0, w1, w2 and a 2-of-3 policy
	l.AppendN("entry", 8)
	entry := l.Entries()[3]
	receipt := c2sp.Proof{Index: 3, Hashes: inclusion(t, l, 3), Checkpoint: l.Checkpoint(t, 8, l.witnesses[0], l.witnesses[2])}.Marshal()

	res, err := client.VerifyProofFile(l.policy, receipt, entry)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry %d of %s, tree size %d, vouched for by %s\n", res.Index, res.Checkpoint.Origin, res.Checkpoint.Size, strings.Join(res.Checkpoint.Witnesses, " and "))

	_, err = client.VerifyProofFile(l.policy, receipt, l.Entries()[4])
	fmt.Println("another entry verifies:", err == nil, errors.Is(err, client.ErrNotVerified))
	// Output:
	// entry 3 of example.test/log, tree size 8, vouched for by w0 and w2
	// another entry verifies: false true
}

// A hospital submits a signed event and keeps the receipt.
func ExampleClient_Submit() {
	policyText, _ := os.ReadFile("policy.txt")
	policy, err := c2sp.ParsePolicy(policyText)
	if err != nil {
		log.Fatal(err)
	}
	keyPEM, _ := os.ReadFile("hospital.key")
	signer, err := event.ParsePrivateKey(keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	payload := []byte(`{"kind":"access","version":1,...}`) // an event.Event, JSON-encoded
	env, err := event.Sign(payload, signer)
	if err != nil {
		log.Fatal(err)
	}
	c := &client.Client{URL: "http://127.0.0.1:8080", Policy: policy}
	receipt, err := c.Submit(context.Background(), env.Marshal())
	var refused *client.HTTPError
	if errors.As(err, &refused) {
		log.Fatalf("the log refused the event: %s", refused.Reason)
	} else if err != nil {
		log.Fatal(err)
	}
	os.WriteFile(strings.TrimPrefix(env.ID(), "sha256:")+".tlog-proof", receipt.Marshal(), 0o644)
}

// A Keeper follows the log and proves every new checkpoint consistent with
// the last one it verified.
func ExampleKeeper() {
	t := &testing.T{}
	l := newTestLog(t, "2")
	c := &client.Client{URL: l.URL(t), Policy: l.policy}
	k, _ := client.NewKeeper(c, "") // or a file, to remember across runs
	for _, n := range []int{3, 300} {
		l.AppendN("entry", n)
		l.publish(t, 0, 1)
		cp, err := k.Update(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("verified size", cp.Size)
	}

	// The log later serves another history, signed with the same key: a
	// keeper that remembers what it verified (here, seeded with it) notices.
	fork := l.Fork(100)
	fork.AppendN("rewritten", 300)
	fork.Serve(fork.Checkpoint(t, fork.Size(), l.witnesses[0], l.witnesses[1]))
	k2, _ := client.NewKeeper(&client.Client{URL: fork.URL(t), Policy: l.policy}, "")
	k2.Advance(context.Background(), k.Latest().Bytes)
	_, err := k2.Update(context.Background())
	var split *client.ForkError
	if errors.As(err, &split) {
		_, _, verr := c2sp.VerifyEvidence(split.Evidence, l.Verifier)
		fmt.Println("split view; evidence verifies:", verr == nil)
	}
	// Output:
	// verified size 3
	// verified size 303
	// split view; evidence verifies: true
}
