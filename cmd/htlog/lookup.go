package main

import (
	"cmp"
	"slices"

	"encoding/json"
	"fmt"
	"github.com/htlog/htlog/client"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/htlog/htlog/event"
)

func init() {
	register("lookup", subcommand{
		summary: "find and verify every event about a patient (or a package) by its tag",
		run:     lookupCmd,
	})
}

const lookupHelp = `
For patients: with your own tag key (the file your provider gave you) and
--custodian, the provider's organisation id (repeat it for every provider
that has your key), computes your tag at each (the key never leaves this
machine; the log only learns the tags), asks the log for every event
carrying them, and verifies each one's proof against --policy (log
signature, witness quorum, inclusion of exactly that entry). Lists when,
kind, organisation and purpose. --save-dir keeps each event's envelope and
receipt so htlog verify can check them again later, offline.

With IDENTIFIER instead of --custodian it looks up the tag of IDENTIFIER
under the key (a custodian's own workforce or package keys); --tag looks up
one tag as given.

What it cannot check: that the log returned every event about you (monitors
replay the whole log for that), and the hospital's signature (that needs the
submitter registry).`

func lookupCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lookup", "--policy FILE [--log URL] ((--key-file FILE | --key-hex HEX) (--custodian ORG... | IDENTIFIER) | --tag TAG) [--json]", lookupHelp, stderr)
	lf := addLogFlags(fs, true)
	keyFile := fs.String("key-file", "", "your tag key file (64 hex digits)")
	keyHex := fs.String("key-hex", "", "your tag key as hex")
	tag := fs.String("tag", "", "look up this tag instead of computing one")
	custodians := fs.StringSlice("custodian", nil, "a provider's organisation id: look up your patient tag there (repeatable)")
	saveDir := fs.String("save-dir", "", "write <event id hex>.envelope.json and .tlog-proof for each event here")
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var tags []string
	switch {
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
	c, err := lf.client(true)
	if err != nil {
		return err
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
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tKIND\tORG\tPURPOSE\tINDEX\tEVENT")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", e.Event.OccurredAt, e.Event.Kind, e.Event.Submitter.Org, purposeOf(e.Event.Body), e.Index, e.ID)
	}
	tw.Flush()
	last := events[len(events)-1].Checkpoint
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
