package client_test

import (
	"fmt"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

// A patient's break-glass access, told in plain language with the name the
// log's verified registry gives the hospital and what a monitor found.
func ExampleDescribe() {
	ev := &event.Event{Kind: "access", Version: 2, OccurredAt: "2026-05-03T14:05:00+02:00",
		Submitter: event.Submitter{Org: "npi:1234567893"},
		Body: []byte(`{"action":"R","outcome":"0","purpose_of_use":"ETREAT",
			"agent":{"role":{"system":"http://terminology.hl7.org/CodeSystem/practitioner-role","code":"nurse"},"organization":"npi:1234567893"}}`)}
	reg := &client.Registry{Submitters: []client.RegistrySubmitter{{Org: "npi:1234567893", Name: "General Hospital"}}}
	paris, _ := time.LoadLocation("Europe/Paris")
	d := client.Describe(12, ev, "", reg, nil, paris)
	verdict := client.VerdictText(client.EntryVerdict{Status: client.VerdictUnderReview}, paris)
	for _, line := range d.Lines(client.InLogText(12), []string{"monitor.example"}, map[string]string{"monitor.example": verdict}) {
		fmt.Println(line)
	}
	// Output:
	// Sun 3 May 2026, 14:05: A nurse at General Hospital viewed your record, for emergency treatment (break-glass).
	//   ⚠ Emergency access (break-glass).
	//   ✓ In the log as entry 12 (proof checked): it is on the record for good. Whether it was allowed is what the monitors say.
	//   Monitor monitor.example: emergency access, under review
}
