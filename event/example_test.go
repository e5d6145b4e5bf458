package event_test

import (
	"crypto/ed25519"
	"fmt"
	"log"

	"github.com/htlog/htlog/event"
)

// A hospital builds and signs an access event. The patient appears as the
// tag under the patient's own key, which nobody without the key can link to
// the patient. (The body is abridged: the log validates the whole body
// against schemas/access/v<Version>.json.)
func ExampleBuilder_Build() {
	// In production: key, _ := event.ParsePrivateKey(pemBytes) with the
	// key `htlog keygen --kind submitter` wrote, and the patient's key kept
	// with their record (`htlog patient-key`).
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	patientKey := make([]byte, event.TagKeySize)

	b, err := event.NewBuilder("npi:1234567893", key)
	if err != nil {
		log.Fatal(err)
	}
	env, err := b.Build(event.Draft{
		Kind:       "access",
		Version:    1,
		OccurredAt: "2026-11-23T10:00:00Z",
		Body: map[string]any{
			"action":         "R",
			"patient":        b.PatientTag(patientKey),
			"purpose_of_use": "TREAT",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	entry := env.Marshal() // the bytes to submit: client.Client.Submit(ctx, entry)

	// Anyone holding the entry checks it with the submitter's public key.
	logged, _ := event.ParseEnvelope(entry)
	ev, _ := event.ParseEvent(logged.Payload)
	fmt.Println("event", logged.ID())
	fmt.Println("kind", ev.Kind, "version", ev.Version, "by", ev.Submitter.Org)
	fmt.Println("signature verifies:", logged.Verify(key.Public()) == nil)
	fmt.Println("tags:", event.Tags(ev.Body))
	// Output:
	// event sha256:6db5334aba566254899a1cbaa3d256c71a7aef64c87555dd265b24b5094cca55
	// kind access version 1 by npi:1234567893
	// signature verifies: true
	// tags: [tag:v1:e02dc64a755df9c34c63c558c3dffbf976e5893f75cab42dc3b3d61929774014]
}

// A sensitive value goes on the log as a commitment; the opening stays with
// the submitter, who can later prove the value (or destroy the opening).
func ExampleCommit() {
	commitment, opening := event.Commit([]byte("psychotherapy-notes"))
	fmt.Println(event.IsCommitment(commitment))
	fmt.Println(event.VerifyCommitment(commitment, opening, []byte("psychotherapy-notes")))
	fmt.Println(event.VerifyCommitment(commitment, opening, []byte("routine-notes")))
	// Output:
	// true
	// true
	// false
}

// A patient's tag differs at each custodian even under one key, and anyone
// who holds the key computes it: the patient's app, or the browser page.
func ExamplePatientTag() {
	patientKey := make([]byte, event.TagKeySize) // in production: event.NewTagKey()
	fmt.Println(event.PatientTag(patientKey, "npi:1234567893"))
	fmt.Println(event.PatientTag(patientKey, "gln:0614141000005"))
	fmt.Println(event.PatientTag(patientKey, "npi:1234567893") == event.Tag(patientKey, "patient:npi:1234567893"))
	// Output:
	// tag:v1:e02dc64a755df9c34c63c558c3dffbf976e5893f75cab42dc3b3d61929774014
	// tag:v1:706061e376aeac3ac1c6c7aae743db9972a5ba627939abbb4fcc6c6c9f230d13
	// true
}
