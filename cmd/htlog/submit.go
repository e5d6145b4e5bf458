package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/internal/event"
	"github.com/spf13/pflag"
)

func init() {
	register("submit", subcommand{
		summary: "sign an event body with a submitter key and submit it; prints the receipt (tlog-proof)",
		run:     submitCmd,
	})
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
func (e exitError) ExitCode() int { return e.code }

// Exit codes of submit beyond 0/1/2.
const (
	exitRejected    = 3 // the log refused the event (4xx)
	exitUnavailable = 4 // the log could not be reached or is overloaded (5xx, 429)
)

func submitCmd(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("submit", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	logURL := fs.String("log", "http://127.0.0.1:8080", "the log's base URL")
	keyFile := fs.String("key", "", "submitter private key (PEM, from htlog keygen --kind submitter)")
	org := fs.String("org", "", "submitting organisation id, such as npi:1234567893")
	kind := fs.String("kind", "", "access | consent | custody | trial")
	version := fs.Int("version", 1, "schema version of the body")
	occurred := fs.String("occurred-at", "", "RFC 3339 time the event happened (default now)")
	supersedes := fs.StringSlice("supersedes", nil, "event ids this event corrects or revokes")
	out := fs.String("out", "", "write the receipt here instead of stdout")
	async := fs.Bool("async", false, "do not wait for the cosigned checkpoint; print the event id")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *keyFile == "" || *org == "" || *kind == "" || fs.NArg() != 1 {
		return usageError{"usage: htlog submit --key FILE --org ORG --kind KIND [flags] BODY.json ('-' reads stdin)"}
	}
	body, err := readArg(fs.Arg(0))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("couldn't read the key: %w", err)
	}
	signer, err := event.ParsePrivateKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	keyID, err := event.KeyID(signer.Public())
	if err != nil {
		return err
	}
	if *occurred == "" {
		*occurred = time.Now().UTC().Format(time.RFC3339)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	payload, err := json.Marshal(event.Event{Kind: *kind, Version: *version, Submitter: event.Submitter{Org: *org, KeyID: keyID},
		OccurredAt: *occurred, Supersedes: *supersedes, Body: compact.Bytes()})
	if err != nil {
		return err
	}
	if _, err := event.ParseEvent(payload); err != nil {
		return usageError{err.Error()}
	}
	env, err := event.Sign(payload, signer)
	if err != nil {
		return err
	}
	receipt, err := postEvent(*logURL, env.Marshal(), *async, *timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "event %s\n", env.ID())
	if *out != "" {
		return os.WriteFile(*out, receipt, 0o644)
	}
	_, err = stdout.Write(receipt)
	return err
}

// postEvent submits an envelope. Resubmitting is safe (the log dedups), so
// on 503/429 and network errors it retries until the timeout.
func postEvent(logURL string, envelope []byte, async bool, timeout time.Duration) ([]byte, error) {
	url := strings.TrimSuffix(logURL, "/") + "/add-event"
	if async {
		url += "?async=1"
	}
	client := &http.Client{Timeout: timeout}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Post(url, "application/json", bytes.NewReader(envelope))
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, c2sp.MaxProofSize))
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusAccepted:
				return b, nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				err = fmt.Errorf("the log answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
			default:
				return nil, exitError{exitRejected, fmt.Sprintf("the log refused the event (%d): %s", resp.StatusCode, strings.TrimSpace(string(b)))}
			}
		}
		if time.Now().After(deadline) {
			return nil, exitError{exitUnavailable, err.Error()}
		}
		time.Sleep(time.Second)
	}
}

func readArg(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, event.MaxEnvelopeSize))
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageError{fmt.Sprintf("%s does not exist", name)}
	}
	return b, err
}
