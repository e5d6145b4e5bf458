// Command htlog is the command line for everyone who uses an htlog log:
// submitters (hospitals, pharma, trial sponsors), patients, witnesses and
// auditors. Each job is a subcommand: run `htlog help` for the list.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 rejected by the log,
// 4 log unreachable, 5 verification failed, 6 witness quorum not met, 7 log
// not in the policy, 8 split view detected (evidence written).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/pflag"
)

// subcommand is one job of the CLI. Each lives in its own file and registers
// itself in init.
type subcommand struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var subcommands = map[string]subcommand{}

func register(name string, s subcommand) { subcommands[name] = s }

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	s, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "htlog: unknown command %q; run `htlog help`\n", args[0])
		return exitUsage
	}
	if err := s.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "htlog %s: %v\n", args[0], err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		var ce interface{ ExitCode() int }
		if errors.As(err, &ce) {
			return ce.ExitCode()
		}
		return exitFailure
	}
	return exitOK
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: htlog <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprint(w, "\nrun `htlog <command> -h` for a command's flags\n\n")
	fmt.Fprint(w, exitCodesHelp)
}
