package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

func init() {
	register("verify", subcommand{
		summary: "verify a receipt (tlog-proof) offline against a policy and the entry",
		run:     verifyCmd,
	})
}

const verifyHelp = `
Verifies a C2SP tlog-proof (the receipt htlog submit prints, or the proof
htlog lookup saves) with no network access: the checkpoint must be signed by
a log of the policy and cosigned by enough of its witnesses, and the
inclusion proof must lead from ENTRY's leaf hash to the checkpoint's root.
Prints which witnesses vouched. Exits 0 only if everything verifies.

ENTRY is the logged entry: an event envelope (re-encoded canonically, as the
log does) or, with --raw, any bytes taken as they are.

As signed-note, tlog-checkpoint and tlog-witness require, signatures from keys
the policy does not list are ignored (a witness your policy does not name may
have cosigned too), and the proof's optional "extra" line is accepted but
trusted for nothing (tlog-proof). --strict refuses both (exit 5): htlog's own
receipts carry neither when the policy names every witness of the log.`

func verifyCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "--policy FILE --entry FILE [--strict] [--json] PROOF", verifyHelp, stderr)
	policyFile := fs.String("policy", "", "tlog-policy file (required)")
	entryFile := fs.String("entry", "", "the logged entry: the event envelope the receipt is for (required)")
	raw := fs.Bool("raw", false, "take the entry's bytes as they are, not as an event envelope")
	strict := fs.Bool("strict", false, "refuse signatures from keys the policy does not list, and an extra line")
	fs.Bool("allow-unknown-signatures", false, "")
	fs.MarkDeprecated("allow-unknown-signatures", "unknown signatures are now ignored by default, as the specs require; --strict refuses them")
	asJSON := fs.Bool("json", false, `print {"verified","origin","index","tree_size","witnesses","ignored_signers","error"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *policyFile == "" || *entryFile == "" || fs.NArg() != 1 {
		return usageError{"usage: htlog verify --policy FILE --entry FILE PROOF"}
	}
	policy, err := loadPolicy(*policyFile)
	if err != nil {
		return err
	}
	proof, err := readFileArg(fs.Arg(0), c2sp.MaxProofSize+1)
	if err != nil {
		return err
	}
	entry, err := readFileArg(*entryFile, event.MaxEnvelopeSize+1)
	if err != nil {
		return err
	}
	if !*raw {
		env, err := event.ParseEnvelope(entry)
		if err != nil {
			return usageError{fmt.Sprintf("%s is not an event envelope (%v); use --raw for other entries", *entryFile, err)}
		}
		entry = env.Marshal()
	}
	res, err := client.VerifyProofFile(policy, proof, entry)
	if err == nil && *strict {
		err = res.Strict()
	}
	if *asJSON {
		out := map[string]any{"verified": err == nil}
		if res != nil {
			out["origin"], out["index"], out["tree_size"], out["witnesses"] = res.Checkpoint.Origin, res.Index, res.Checkpoint.Size, res.Checkpoint.Witnesses
			if len(res.Checkpoint.UnknownSigners) > 0 {
				out["ignored_signers"] = res.Checkpoint.UnknownSigners
			}
		}
		if err != nil {
			out["error"] = err.Error()
		}
		if perr := printJSON(stdout, out); perr != nil {
			return perr
		}
	} else if err == nil {
		fmt.Fprintf(stdout, "verified: entry %d of %s, in the checkpoint of size %d\nwitnesses that vouched: %s\n",
			res.Index, res.Checkpoint.Origin, res.Checkpoint.Size, strings.Join(res.Checkpoint.Witnesses, ", "))
		if len(res.Checkpoint.UnknownSigners) > 0 {
			fmt.Fprintf(stdout, "ignored signatures from keys the policy does not list: %s\n", strings.Join(res.Checkpoint.UnknownSigners, ", "))
		}
	}
	return classify(err)
}
