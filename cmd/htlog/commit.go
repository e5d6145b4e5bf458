package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/htlog/htlog/event"
)

func init() {
	register("commit", subcommand{
		summary: "commit to a sensitive value (commitment + opening), or verify an opening",
		run:     commitCmd,
	})
}

const commitHelp = `
A commitment hides a sensitive value (a data class, a recipient, a document)
on the log: commit:v1:<hex HMAC-SHA-256 under a random opening>. Put the
commitment in the event body and keep the opening off the log: revealing
value and opening later proves what was committed; destroying the opening
makes the entry meaningless.

  htlog commit VALUE                  prints the commitment and the opening (hex)
  htlog commit --verify --commitment C --opening HEX VALUE
                                      exits 0 if the opening reveals VALUE in C, 5 if not

The value is the argument's bytes exactly, or --value-file's bytes exactly.`

func commitCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("commit", "[--verify --commitment C --opening HEX] [--json] (VALUE | --value-file FILE)", commitHelp, stderr)
	verify := fs.Bool("verify", false, "verify an opening instead of committing")
	commitment := fs.String("commitment", "", "with --verify: the commit:v1:... string")
	opening := fs.String("opening", "", "with --verify: the opening, 64 hex digits")
	valueFile := fs.String("value-file", "", "read the value from this file instead of the argument")
	asJSON := fs.Bool("json", false, `print {"commitment","opening"} (or {"valid"}) as JSON`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var value []byte
	switch {
	case *valueFile != "" && fs.NArg() == 0:
		b, err := readFileArg(*valueFile, 1<<20)
		if err != nil {
			return err
		}
		value = b
	case *valueFile == "" && fs.NArg() == 1:
		value = []byte(fs.Arg(0))
	default:
		return usageError{"give the value as one argument or with --value-file"}
	}
	if !*verify {
		c, o := event.Commit(value)
		if *asJSON {
			return printJSON(stdout, map[string]string{"commitment": c, "opening": hex.EncodeToString(o)})
		}
		fmt.Fprintf(stdout, "commitment %s\nopening    %s\n", c, hex.EncodeToString(o))
		return nil
	}
	if !event.IsCommitment(*commitment) {
		return usageError{"--verify needs --commitment commit:v1:<64 hex digits>"}
	}
	o, err := hex.DecodeString(strings.TrimSpace(*opening))
	if err != nil || len(o) != 32 {
		return usageError{"--opening must be 64 hex digits"}
	}
	ok := event.VerifyCommitment(*commitment, o, value)
	if *asJSON {
		if err := printJSON(stdout, map[string]bool{"valid": ok}); err != nil {
			return err
		}
	}
	if !ok {
		return exitError{exitNotVerified, "the opening does not reveal this value in the commitment"}
	}
	if !*asJSON {
		fmt.Fprintln(stdout, "valid: the opening reveals this value")
	}
	return nil
}
