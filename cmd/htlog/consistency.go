package main

import (
	"fmt"
	"io"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
)

func init() {
	register("consistency", subcommand{
		summary: "prove an older checkpoint is a prefix of a newer one, from tiles",
		run:     consistencyCmd,
	})
}

const consistencyHelp = `
Verifies OLD (a signed checkpoint you kept, such as the one in a receipt)
and NEW (a signed checkpoint file, or by default the log's latest) against
--policy, then proves from the log's hash tiles that the tree of OLD is a
prefix of the tree of NEW: the log rewrote nothing in between. If it did, the
two checkpoints prove a split view: the evidence is written to --evidence
(default htlog-evidence-<id>.txt) and the exit code is 8.

OLD may also be a receipt (tlog-proof): its checkpoint is used.`

func consistencyCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("consistency", "--policy FILE [--log URL] [--json] OLD [NEW]", consistencyHelp, stderr)
	lf := addLogFlags(fs, true)
	evidence := fs.String("evidence", "", "where to write split-view evidence")
	asJSON := fs.Bool("json", false, `print {"origin","old_size","size","consistent"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usageError{"usage: htlog consistency --policy FILE OLD [NEW]"}
	}
	c, err := lf.client(true)
	if err != nil {
		return err
	}
	var files [][]byte
	for _, name := range fs.Args() {
		b, err := readFileArg(name, c2sp.MaxProofSize+1)
		if err != nil {
			return err
		}
		if p, err := c2sp.ParseProof(b); err == nil {
			b = p.Checkpoint
		}
		files = append(files, b)
	}
	ctx, cancel := lf.context()
	defer cancel()
	k, _ := client.NewKeeper(c, "")
	old, err := k.Advance(ctx, files[0])
	if err != nil {
		return classify(fmt.Errorf("OLD: %w", err))
	}
	var cp *client.Checkpoint
	newSize := uint64(0)
	if len(files) == 2 {
		second, verr := client.VerifyCheckpoint(c.Policy, c.Origin, files[1])
		if verr != nil {
			return classify(fmt.Errorf("NEW: %w", verr))
		}
		newSize = second.Size
		cp, err = k.Advance(ctx, files[1])
	} else {
		cp, err = k.Update(ctx)
		if err == nil {
			newSize = cp.Size
		}
	}
	if err != nil {
		return writeFork(err, *evidence, stderr)
	}
	small, large := min(old.Size, newSize), max(old.Size, newSize)
	if *asJSON {
		return printJSON(stdout, map[string]any{"origin": cp.Origin, "old_size": small, "size": large, "consistent": true})
	}
	fmt.Fprintf(stdout, "consistent: the tree of size %d is a prefix of the tree of size %d of %s\n", small, large, cp.Origin)
	return nil
}
