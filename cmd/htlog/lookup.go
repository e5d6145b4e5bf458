package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

func init() {
	register("lookup", subcommand{
		summary: "find and verify every event about a patient (or a package) by its tag",
		run:     lookupCmd,
	})
}

const lookupHelp = `
For patients: --bundle FILE, the patient bundle your provider gave you
(htlog-patient-bundle/v1: the log, your provider, your key, the witness
policy and the monitors you trust), is all it needs. It prints each event in
plain words: who (the organisation's name, from the log's signed registry,
verified with the log key of the policy), in what role, what they did and
why (the words of the value sets), when (in your time zone, --tz), with
emergency (break-glass) accesses and disclosures marked. "In the log" only
means the event is recorded for good; what each monitor of the bundle found
about it (checked with the monitor's key) says whether it was allowed:
"allowed under your consent of 3 May 2026", "emergency access, under
review", "no consent found".

Without a bundle: with your own tag key (the file your provider gave you) and
--custodian, the provider's organisation id (repeat it for every provider
that has your key), computes your tag at each (the key never leaves this
machine; the log only learns the tags), asks the log for every event
carrying them, and verifies each one's proof against --policy (log
signature, witness quorum, inclusion of exactly that entry). Lists when,
--save-dir keeps each event's envelope and
receipt so htlog verify can check them again later, offline.

With IDENTIFIER instead of --custodian it looks up the tag of IDENTIFIER
under the key (a custodian's own workforce or package keys); --tag looks up
one tag as given.

--table prints the old one-line-per-event table of codes instead.

What it cannot check: that the log returned every event about you (monitors
replay the whole log for that), and the hospital's signature (monitors check
it against the submitter registry's keys).`

func lookupCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lookup", "(--bundle FILE | --policy FILE [--log URL] ((--key-file FILE | --key-hex HEX) (--custodian ORG... | IDENTIFIER) | --tag TAG)) [--tz ZONE] [--table | --json]", lookupHelp, stderr)
	lf := addLogFlags(fs, false)
	bundleFile := fs.String("bundle", "", "your patient bundle (from your provider): log, provider, key, policy and monitors")
	tz := fs.String("tz", "Local", "show times in this time zone (an IANA name such as Europe/Paris, or Local)")
	table := fs.Bool("table", false, "print a table of codes, one line per event")
	keyFile := fs.String("key-file", "", "your tag key file (64 hex digits)")
	keyHex := fs.String("key-hex", "", "your tag key as hex")
	tag := fs.String("tag", "", "look up this tag instead of computing one")
	custodians := fs.StringSlice("custodian", nil, "a provider's organisation id: look up your patient tag there (repeatable)")
	saveDir := fs.String("save-dir", "", "write <event id hex>.envelope.json and .tlog-proof for each event here")
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{"--tz: " + err.Error()}
	}
	var tags []string
	var bundle *client.PatientBundle
	switch {
	case *bundleFile != "" && *tag == "" && fs.NArg() == 0 && *keyFile == "" && *keyHex == "" && len(*custodians) == 0 && *lf.policy == "":
		if bundle, err = loadBundle(*bundleFile); err != nil {
			return err
		}
		t, _ := bundle.Tag()
		tags = []string{t}
	case *bundleFile != "":
		return usageError{"--bundle gives the key, the provider and the policy: give none of --key-file, --key-hex, --custodian, --tag, --policy or IDENTIFIER with it"}
	case *tag != "" && fs.NArg() == 0 && *keyFile == "" && *keyHex == "" && len(*custodians) == 0:
		tags = []string{*tag}
	case *tag == "" && fs.NArg() == 0 && len(*custodians) > 0:
		key, err := loadTagKey(*keyFile, *keyHex)
		if err != nil {
			return err
		}
		for _, org := range *custodians {
			tags = append(tags, event.PatientTag(key, org))
		}
	case *tag == "" && fs.NArg() == 1 && len(*custodians) == 0:
		key, err := loadTagKey(*keyFile, *keyHex)
		if err != nil {
			return err
		}
		tags = []string{event.Tag(key, fs.Arg(0))}
	default:
		return usageError{"give --key-file FILE (or --key-hex) with --custodian ORG (your providers) or one IDENTIFIER, or --tag TAG"}
	}
	for _, t := range tags {
		if !event.IsTag(t) {
			return usageError{"--tag must be tag:v1:<64 lowercase hex digits>"}
		}
	}
	c, err := lf.client(bundle == nil)
	if err != nil {
		return err
	}
	if bundle != nil {
		if c.Policy, err = bundle.ParsedPolicy(); err != nil {
			return err
		}
		if *lf.url == "" {
			c.URL = bundle.Log
		}
	}
	ctx, cancel := lf.context()
	defer cancel()
	var events []client.Event
	for _, t := range tags {
		found, err := c.Lookup(ctx, t)
		if err != nil {
			return classify(err)
		}
		events = append(events, found...)
	}
	slices.SortFunc(events, func(a, b client.Event) int { return cmp.Compare(a.Index, b.Index) })
	if *saveDir != "" {
		if err := os.MkdirAll(*saveDir, 0o700); err != nil {
			return err
		}
		for _, e := range events {
			name := filepath.Join(*saveDir, strings.TrimPrefix(e.ID, "sha256:"))
			if err := os.WriteFile(name+".envelope.json", e.Entry, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(name+".tlog-proof", e.Proof, 0o600); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		for _, e := range events {
			if err := printJSON(stdout, map[string]any{"index": e.Index, "event_id": e.ID, "occurred_at": e.Event.OccurredAt,
				"kind": e.Event.Kind, "org": e.Event.Submitter.Org, "purpose": purposeOf(e.Event.Body),
				"tree_size": e.Checkpoint.Size, "witnesses": e.Checkpoint.Witnesses, "proof": string(e.Proof)}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(events) == 0 {
		fmt.Fprintln(stderr, "no published events carry your tags (a wrong key, provider or identifier finds nothing too)")
		return nil
	}
	last := events[len(events)-1].Checkpoint
	if *table {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tKIND\tORG\tPURPOSE\tINDEX\tEVENT")
		for _, e := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", e.Event.OccurredAt, e.Event.Kind, e.Event.Submitter.Org, purposeOf(e.Event.Body), e.Index, e.ID)
		}
		tw.Flush()
	} else {
		printPlain(ctx, c, bundle, loc, last.Origin, events, stdout, stderr)
	}
	fmt.Fprintf(stdout, "%d events, each verified: included in a checkpoint of %s cosigned by %s\n", len(events), last.Origin, strings.Join(last.Witnesses, ", "))
	return nil
}

// purposeOf picks the field of a body that says why: purpose_of_use
// (access), scope (consent), biz_step or action (custody), else "-".
func purposeOf(body json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return "-"
	}
	for _, k := range []string{"purpose_of_use", "scope", "biz_step", "action", "status"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return "-"
}

// printPlain prints events in plain language: organisation names from the
// log's registry (verified with the policy's log key; ids when it does not
// verify), and the verdicts of the bundle's monitors.
func printPlain(ctx context.Context, c *client.Client, bundle *client.PatientBundle, loc *time.Location, origin string, events []client.Event, stdout, stderr io.Writer) {
	reg, err := c.Registry(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "organisation names are not shown (the log's registry did not verify): %v\n", err)
	}
	d := &client.Describer{Registry: reg, Bundle: bundle, Location: loc, HTTP: c.HTTP}
	fmt.Fprintf(stdout, "Times are in %s.\n\n", loc)
	for _, told := range d.Tell(ctx, origin, events) {
		fmt.Fprintln(stdout, strings.Join(told.Lines, "\n"))
		fmt.Fprintln(stdout)
	}
}

// loadBundle reads and checks a patient bundle file.
func loadBundle(file string) (*client.PatientBundle, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError{fmt.Sprintf("couldn't read the patient bundle: %v", err)}
	}
	pb, err := client.ParsePatientBundle(b)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", file, err)}
	}
	return pb, nil
}
