// Command hospital is a hospital's own program, in a module of its own: it
// imports only htlog's public packages. TestExternalModule builds and runs
// it against a real log; if a public API handed out or required a type of
// htlog's internal packages, this would not compile.
//
// It signs an access event about a new patient, submits it, verifies the
// receipt offline against the witness policy, finds the event again by
// the patient's tag, and proves it included with a Keeper.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/splitview"
)

func main() {
	logURL := flag.String("log", "", "the log's URL")
	policyFile := flag.String("policy", "", "the witness policy (C2SP tlog-policy)")
	keyFile := flag.String("key", "", "the submitter's private key (PEM)")
	org := flag.String("org", "", "the submitting organisation")
	bodyFile := flag.String("body", "", "an access body (JSON object)")
	flag.Parse()

	policyText, err := os.ReadFile(*policyFile)
	check(err)
	var policy *c2sp.Policy
	policy, err = c2sp.ParsePolicy(policyText)
	check(err)
	keyPEM, err := os.ReadFile(*keyFile)
	check(err)
	key, err := event.ParsePrivateKey(keyPEM)
	check(err)
	var b *event.Builder
	b, err = event.NewBuilder(*org, key)
	check(err)

	// A new patient: a key of their own, and their tag at this hospital.
	patientKey := event.NewTagKey()
	bodyJSON, err := os.ReadFile(*bodyFile)
	check(err)
	var body map[string]any
	check(json.Unmarshal(bodyJSON, &body))
	body["patient"] = b.PatientTag(patientKey)
	var env *event.Envelope
	env, err = b.Build(event.Draft{Kind: "access", Body: body})
	check(err)
	entry := env.Marshal()
	fmt.Println("signed:", env.ID() == event.IDOf(env.Payload), "key", b.KeyID() == env.Signatures[0].KeyID)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &client.Client{URL: *logURL, Policy: policy}
	var receipt *c2sp.Proof
	receipt, err = c.Submit(ctx, entry)
	check(err)

	// Offline: the policy and the entry alone.
	var res *client.ProofResult
	res, err = client.VerifyProofFile(policy, receipt.Marshal(), entry)
	check(err)
	check(res.Strict())
	var cp *c2sp.SignedCheckpoint = res.Checkpoint.SignedCheckpoint
	fmt.Println("receipt verified: index matches", res.Index == receipt.Index, "size covers it", cp.Size > res.Index, "witnesses", len(res.Checkpoint.Witnesses) >= 2)

	// The patient, with nothing but their key and the hospital's id.
	var found []client.Event
	found, err = c.LookupPatient(ctx, patientKey, *org)
	check(err)
	for _, e := range found {
		var ev *event.Event = e.Event
		fmt.Println("found:", e.ID == env.ID(), ev.Kind, ev.Submitter.Org == *org, e.Index == receipt.Index)
	}

	// An auditor follows the log with a Keeper, which proves each new
	// checkpoint consistent with the last and, if the log ever shows a
	// split view, hands over evidence anyone can verify.
	k, err := client.NewKeeper(c, "")
	check(err)
	var latest *client.Checkpoint
	latest, err = k.Update(ctx)
	if fork, ok := err.(*client.ForkError); ok {
		var evidence *splitview.Evidence = fork.Evidence
		log.Fatalf("split view: %s", evidence.Marshal())
	}
	check(err)
	check(c.VerifyInclusion(ctx, entry, receipt.Index, latest))
	fmt.Println("keeper: included in size", latest.Size >= cp.Size)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
