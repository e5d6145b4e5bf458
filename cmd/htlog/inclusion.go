package main

import (
	"fmt"
	"io"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
)

func init() {
	register("inclusion", subcommand{
		summary: "prove an entry is in the log's latest verified checkpoint, from tiles",
		run:     inclusionCmd,
	})
}

const inclusionHelp = `
Fetches and verifies the log's latest checkpoint (--policy), then proves from
the log's hash tiles (never trusting a server-computed proof) that an entry
is in it. Say which entry with one of:

  --index N                 the entry at N, read from the log's entry bundles
  --index N --entry FILE    FILE is the entry at N
  --event-id sha256:...     the event with this id (the log says where it is)
  --proof FILE --entry FILE the entry a receipt is for, still in today's tree

Prints the index, event id, kind and organisation of the entry.`

func inclusionCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inclusion", "--policy FILE [--log URL] (--index N [--entry FILE] | --event-id ID | --proof FILE --entry FILE) [--json]", inclusionHelp, stderr)
	lf := addLogFlags(fs, true)
	index := fs.Int64("index", -1, "the entry's index")
	entryFile := fs.String("entry", "", "the entry (an event envelope, re-encoded canonically)")
	eventID := fs.String("event-id", "", "the event id, sha256:<hex>")
	proofFile := fs.String("proof", "", "a receipt whose index to use")
	asJSON := fs.Bool("json", false, `print {"index","event_id","kind","org","tree_size","root"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	modes := 0
	for _, set := range []bool{*index >= 0, *eventID != "", *proofFile != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 || fs.NArg() != 0 || (*proofFile != "" && *entryFile == "") || (*eventID != "" && *entryFile != "") {
		return usageError{"give one of --index N [--entry FILE], --event-id ID, or --proof FILE --entry FILE"}
	}
	c, err := lf.client(true)
	if err != nil {
		return err
	}
	var entry []byte
	if *entryFile != "" {
		b, err := readFileArg(*entryFile, event.MaxEnvelopeSize+1)
		if err != nil {
			return err
		}
		env, err := event.ParseEnvelope(b)
		if err != nil {
			return usageError{fmt.Sprintf("%s: %v", *entryFile, err)}
		}
		entry = env.Marshal()
	}
	if *proofFile != "" {
		b, err := readFileArg(*proofFile, c2sp.MaxProofSize+1)
		if err != nil {
			return err
		}
		p, err := c2sp.ParseProof(b)
		if err != nil {
			return exitError{exitNotVerified, fmt.Sprintf("%s: %v", *proofFile, err)}
		}
		*index = int64(p.Index)
	}
	ctx, cancel := lf.context()
	defer cancel()
	if *eventID != "" {
		i, err := c.EventIndex(ctx, *eventID)
		if err != nil {
			return classify(err)
		}
		*index = int64(i)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil {
		return classify(err)
	}
	idx := uint64(*index)
	if entry != nil {
		err = c.VerifyInclusion(ctx, entry, idx, cp)
	} else {
		entry, err = c.Entry(ctx, idx, cp)
	}
	if err != nil {
		return classify(err)
	}
	out := map[string]any{"index": idx, "tree_size": cp.Size, "root": cp.Hash.String()}
	if env, err := event.ParseEnvelope(entry); err == nil {
		out["event_id"] = env.ID()
		if *eventID != "" && env.ID() != *eventID {
			return exitError{exitNotVerified, fmt.Sprintf("the log said event %s is at %d, but that entry is %s", *eventID, idx, env.ID())}
		}
		if ev, err := event.ParseEvent(env.Payload); err == nil {
			out["kind"], out["org"] = ev.Kind, ev.Submitter.Org
		}
	}
	if *asJSON {
		return printJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "included: entry %d (%v, %v by %v) is in the checkpoint of size %d of %s, cosigned by %v\n",
		idx, out["event_id"], out["kind"], out["org"], cp.Size, cp.Origin, cp.Witnesses)
	return nil
}
