package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/htlog/htlog/client"
)

func init() {
	register("checkpoint", subcommand{
		summary: "fetch the log's checkpoint and verify it against a witness policy",
		run:     checkpointCmd,
	})
}

const checkpointHelp = `
Fetches the log's latest checkpoint and verifies the log's signature and the
witness quorum of --policy; prints the checkpoint and the witnesses that
cosigned it.

With --state FILE it also remembers the newest verified checkpoint in FILE
and refuses to go backwards: a new checkpoint must be proved consistent with
the remembered one from the log's hash tiles. If it is not, the log showed
two different histories: the evidence is written to --evidence (default
htlog-evidence-<id>.txt) and the exit code is 8.`

func checkpointCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("checkpoint", "--policy FILE [--log URL] [--state FILE] [--json]", checkpointHelp, stderr)
	lf := addLogFlags(fs, true)
	state := fs.String("state", "", "file remembering the newest verified checkpoint")
	evidence := fs.String("evidence", "", "where to write split-view evidence")
	asJSON := fs.Bool("json", false, `print {"origin","size","root","witnesses","checkpoint"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"checkpoint takes no arguments"}
	}
	c, err := lf.client(true)
	if err != nil {
		return err
	}
	ctx, cancel := lf.context()
	defer cancel()
	var cp *client.Checkpoint
	if *state != "" {
		k, kerr := client.NewKeeper(c, *state)
		if kerr != nil {
			return classify(kerr)
		}
		cp, err = k.Update(ctx)
	} else {
		cp, err = c.Checkpoint(ctx)
	}
	if err != nil {
		return writeFork(err, *evidence, stderr)
	}
	if *asJSON {
		return printJSON(stdout, map[string]any{"origin": cp.Origin, "size": cp.Size, "root": cp.Hash.String(),
			"witnesses": cp.Witnesses, "checkpoint": string(cp.Bytes)})
	}
	fmt.Fprintf(stdout, "%s\nverified: size %d of %s, cosigned by %s\n", cp.Bytes, cp.Size, cp.Origin, strings.Join(cp.Witnesses, ", "))
	return nil
}
