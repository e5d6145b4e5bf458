package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/cmd/internal/tlsconfig"
	"github.com/spf13/pflag"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

// Exit codes beyond 0/1/2, shared by every command.
const (
	exitRejected    = 3 // the log refused the request (4xx)
	exitUnavailable = 4 // the log could not be reached or stayed overloaded (5xx, 429, network)
	exitNotVerified = 5 // a signature, proof, entry or commitment does not verify
	exitQuorum      = 6 // the checkpoint verified but too few witnesses cosigned it
	exitUnknownLog  = 7 // the checkpoint or proof is from a log the policy does not list
	exitFork        = 8 // the log presented a split view; evidence was written
)

// exitCodesHelp is the table printed at the end of every command's help.
const exitCodesHelp = `exit codes:
  0  success            2  usage error          3  rejected by the log (4xx)
  1  other failure      4  log unreachable      5  verification failed
  6  quorum not met     7  log not in policy    8  split view (fork evidence written)
`

// newFlags returns a flag set whose -h prints synopsis, description, flags
// and the exit codes.
func newFlags(name, synopsis, description string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: htlog %s %s\n\n%s\n\nflags:\n%s\n%s", name, synopsis, strings.TrimSpace(description), fs.FlagUsages(), exitCodesHelp)
	}
	return fs
}

// parseFlags parses args; -h has already printed the help and yields
// pflag.ErrHelp, which run turns into exit 0.
func parseFlags(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// logFlags are the flags of every command that talks to a log.
type logFlags struct {
	url, policy, caFile *string
	timeout             *time.Duration
}

func addLogFlags(fs *pflag.FlagSet, needPolicy bool) logFlags {
	desc := "tlog-policy file naming the log's key and the witness quorum"
	if needPolicy {
		desc += " (required)"
	}
	return logFlags{
		url:     fs.String("log", "", "the log's base URL (default: the policy's log URL, else http://127.0.0.1:8080)"),
		policy:  fs.String("policy", "", desc),
		timeout: fs.Duration("timeout", 30*time.Second, "give up after this long (retrying while the log is unreachable or overloaded)"),
		caFile:  fs.String("ca-file", os.Getenv("HTLOG_CA_FILE"), "PEM CA certificates trusted, beside the system's, for an https:// log (default $HTLOG_CA_FILE)"),
	}
}

// client builds a client.Client from the flags.
func (f logFlags) client(needPolicy bool) (*client.Client, error) {
	c := &client.Client{URL: *f.url}
	if *f.policy != "" {
		p, err := loadPolicy(*f.policy)
		if err != nil {
			return nil, err
		}
		c.Policy = p
	} else if needPolicy {
		return nil, usageError{"--policy is required: a tlog-policy file naming the log's key and its witnesses"}
	}
	if c.URL == "" && c.Policy != nil && len(c.Policy.Logs) == 1 {
		c.URL = c.Policy.Logs[0].URL
	}
	if c.URL == "" {
		c.URL = "http://127.0.0.1:8080"
	}
	if *f.caFile != "" {
		h, err := tlsconfig.HTTPClient(*f.caFile)
		if err != nil {
			return nil, usageError{"--ca-file: " + err.Error()}
		}
		c.HTTP = h
	}
	return c, nil
}

func (f logFlags) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), *f.timeout)
}

func loadPolicy(file string) (*c2sp.Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError{fmt.Sprintf("couldn't read the policy: %v", err)}
	}
	p, err := c2sp.ParsePolicy(b)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", file, err)}
	}
	return p, nil
}

// exitCode maps an error from the client package to the command's exit code.
func exitCode(err error) int {
	var httpErr *client.HTTPError
	var unavailable *client.UnavailableError
	var fork *client.ForkError
	switch {
	case errors.As(err, &fork):
		return exitFork
	case errors.Is(err, c2sp.ErrQuorumNotMet):
		return exitQuorum
	case errors.Is(err, c2sp.ErrUnknownLog):
		return exitUnknownLog
	case errors.Is(err, client.ErrNotVerified):
		return exitNotVerified
	case errors.As(err, &httpErr):
		return exitRejected
	case errors.As(err, &unavailable):
		return exitUnavailable
	}
	return exitFailure
}

// classify gives err the exit code its kind calls for.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ue usageError
	var ee exitError
	if errors.As(err, &ue) || errors.As(err, &ee) {
		return err
	}
	return exitError{exitCode(err), err.Error()}
}

// writeFork saves split-view evidence and returns the error to exit with.
func writeFork(err error, file string, stderr io.Writer) error {
	var fork *client.ForkError
	if !errors.As(err, &fork) {
		return classify(err)
	}
	if file == "" {
		file = "htlog-evidence-" + fork.Evidence.ID()[:16] + ".txt"
	}
	if werr := os.WriteFile(file, fork.Evidence.Marshal(), 0o644); werr != nil {
		fmt.Fprintf(stderr, "couldn't write the evidence: %v\n%s", werr, fork.Evidence.Marshal())
	}
	return exitError{exitFork, fmt.Sprintf("%v; evidence written to %s (verify it with the log's public key, then publish it)", err, file)}
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// readFileArg reads a file named on the command line ("-" is stdin),
// turning a missing file into a usage error.
func readFileArg(name string, limit int64) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, limit))
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageError{fmt.Sprintf("%s does not exist", name)}
	}
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, exitError{exitFailure, fmt.Sprintf("%s is larger than %d bytes", name, limit)}
	}
	return b, nil
}
