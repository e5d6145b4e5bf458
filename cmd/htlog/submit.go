package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
)

func init() {
	register("submit", subcommand{
		summary: "sign event bodies with a submitter key and submit them; prints the receipt (tlog-proof)",
		run:     submitCmd,
	})
}

const submitHelp = `
Signs BODY.json (the kind-specific body, schemas/<kind>/v2.json) as an event
of --kind by --org with --key, submits it, waits (about a second) for the
event to be in a witness-cosigned checkpoint and prints the receipt: a C2SP
tlog-proof that verifies offline with htlog verify. Keep the envelope too
(--envelope-out): it is the entry the receipt proves.

Retrying is safe: the log deduplicates, so on 429, 503 or a network error the
same bytes are resent after Retry-After until --timeout.

With --events FILE, every line of FILE is one event, submitted --parallel at
a time, with a progress line on stderr and a summary at the end. A line is
either a signed envelope ({"payloadType":...}, submitted as is) or
{"kind":...,"occurred_at":...,"supersedes":[...],"body":{...}} (kind defaults
to --kind, occurred_at to now), signed with --key as --org. Receipts and
envelopes go to --out-dir as <event id hex>.tlog-proof and .envelope.json; --json
prints one result per line. The exit code is 4 if any event could not be
delivered, else 3 if any was refused, else 5 if any receipt failed to verify.

With --policy the receipt is verified against the witness policy before it
is printed.`

func submitCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("submit", "--key FILE --org ORG --kind KIND [flags] (BODY.json | - | --events FILE.jsonl)", submitHelp, stderr)
	lf := addLogFlags(fs, false)
	keyFile := fs.String("key", "", "submitter private key (PEM, from htlog keygen --kind submitter)")
	org := fs.String("org", "", "submitting organisation id, such as npi:1234567893")
	kind := fs.String("kind", "", "access | consent | custody | trial")
	version := fs.Int("version", 0, "schema version of the body (default: the latest, schemas/<kind>/v<N>.json)")
	occurred := fs.String("occurred-at", "", "RFC 3339 time the event happened (default now)")
	supersedes := fs.StringSlice("supersedes", nil, "event ids this event corrects or revokes")
	out := fs.String("out", "", "write the receipt here instead of stdout")
	envOut := fs.String("envelope-out", "", "write the signed envelope (the logged entry) here")
	async := fs.Bool("async", false, "do not wait for the cosigned checkpoint; print the event id")
	promiseOut := fs.String("promise-out", "", "with --async: write the log's signed inclusion promise here (hand it to a monitor's POST /promise)")
	events := fs.String("events", "", "submit every event of this JSON-lines file")
	outDir := fs.String("out-dir", "", "with --events: write receipts and envelopes to this folder")
	parallel := fs.Int("parallel", 8, "with --events: events in flight at once")
	asJSON := fs.Bool("json", false, "with --events: print one JSON result per event")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := lf.client(false)
	if err != nil {
		return err
	}
	if *events != "" {
		if fs.NArg() != 0 || *out != "" || *envOut != "" || *async || *promiseOut != "" {
			return usageError{"--events takes no BODY argument, --out, --envelope-out or --async (use --out-dir)"}
		}
		var builder *event.Builder
		if *keyFile != "" && *org != "" {
			if builder, err = loadBuilder(*keyFile, *org); err != nil {
				return err
			}
		}
		b := &batch{c: c, builder: builder, kind: *kind, version: *version, outDir: *outDir,
			timeout: *lf.timeout, asJSON: *asJSON, stdout: stdout, stderr: stderr}
		return b.run(*events, max(*parallel, 1))
	}
	if *keyFile == "" || *org == "" || *kind == "" || fs.NArg() != 1 {
		return usageError{"usage: htlog submit --key FILE --org ORG --kind KIND [flags] BODY.json ('-' reads stdin)"}
	}
	body, err := readArg(fs.Arg(0))
	if err != nil {
		return err
	}
	builder, err := loadBuilder(*keyFile, *org)
	if err != nil {
		return err
	}
	env, err := buildEvent(builder, event.Draft{Kind: *kind, Version: *version, OccurredAt: *occurred, Supersedes: *supersedes, Body: body})
	if err != nil {
		return err
	}
	entry := env.Marshal()
	if *envOut != "" {
		if err := os.WriteFile(*envOut, entry, 0o644); err != nil {
			return err
		}
	}
	if *promiseOut != "" && !*async {
		return usageError{"--promise-out needs --async"}
	}
	ctx, cancel := lf.context()
	defer cancel()
	fmt.Fprintf(stderr, "event %s\n", env.ID())
	if *async {
		id, promise, err := c.SubmitAsync(ctx, entry)
		if err != nil {
			return classify(err)
		}
		if *promiseOut != "" {
			if promise == nil {
				return fmt.Errorf("the log answered with no promise (was the event logged already?); fetch the receipt with the event id")
			}
			if err := os.WriteFile(*promiseOut, promise, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, id)
		return nil
	}
	p, err := c.Submit(ctx, entry)
	if err != nil {
		return classify(err)
	}
	receipt := p.Marshal()
	if *out != "" {
		return os.WriteFile(*out, receipt, 0o644)
	}
	_, err = stdout.Write(receipt)
	return err
}

func loadSigner(keyFile string) (crypto.Signer, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, usageError{fmt.Sprintf("couldn't read the key: %v", err)}
	}
	signer, err := event.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, usageError{fmt.Sprintf("%s: %v", keyFile, err)}
	}
	return signer, nil
}

// loadBuilder reads a submitter key and returns the builder of org's events.
func loadBuilder(keyFile, org string) (*event.Builder, error) {
	signer, err := loadSigner(keyFile)
	if err != nil {
		return nil, err
	}
	b, err := event.NewBuilder(org, signer)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--org %s, --key %s: %v", org, keyFile, err)}
	}
	return b, nil
}

// buildEvent builds and signs an event; a malformed one is a usage error.
func buildEvent(b *event.Builder, d event.Draft) (*event.Envelope, error) {
	env, err := b.Build(d)
	if errors.Is(err, event.ErrMalformed) {
		return nil, usageError{err.Error()}
	}
	return env, err
}

// batch submits a JSON-lines file of events.
type batch struct {
	c               *client.Client
	builder         *event.Builder // nil without --key and --org
	kind            string
	version         int
	outDir          string
	timeout         time.Duration
	asJSON          bool
	stdout, stderr  io.Writer
	mu              sync.Mutex
	done, total     int
	counts          map[string]int
	lastProgress    time.Time
	progressWritten bool
}

// batchLine is an unsigned event in a JSON-lines file.
type batchLine struct {
	Kind       string          `json:"kind"`
	Version    int             `json:"version"`
	OccurredAt string          `json:"occurred_at"`
	Supersedes []string        `json:"supersedes"`
	Body       json.RawMessage `json:"body"`
}

// batchResult is one line of --json output.
type batchResult struct {
	Line    int     `json:"line"`
	EventID string  `json:"event_id,omitempty"`
	Index   *uint64 `json:"index,omitempty"`
	Status  string  `json:"status"` // accepted | rejected | unavailable | invalid | unverified
	Error   string  `json:"error,omitempty"`
}

func (b *batch) run(file string, parallel int) error {
	data, err := readFileArg(file, 1<<30)
	if err != nil {
		return err
	}
	if b.outDir != "" {
		if err := os.MkdirAll(b.outDir, 0o755); err != nil {
			return err
		}
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, event.MaxEnvelopeSize*2)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("couldn't read %s: %w", file, err)
	}
	b.counts = map[string]int{}
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			b.total++
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range work {
				b.report(b.one(i+1, lines[i]))
			}
		})
	}
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	if b.progressWritten {
		fmt.Fprintln(b.stderr)
	}
	fmt.Fprintf(b.stderr, "submitted %d events: %d accepted, %d rejected, %d invalid, %d unverified, %d undelivered\n",
		b.total, b.counts["accepted"], b.counts["rejected"], b.counts["invalid"], b.counts["unverified"], b.counts["unavailable"])
	switch {
	case b.counts["unavailable"] > 0:
		return exitError{exitUnavailable, fmt.Sprintf("%d events could not be delivered; resubmitting the file is safe", b.counts["unavailable"])}
	case b.counts["rejected"]+b.counts["invalid"] > 0:
		return exitError{exitRejected, fmt.Sprintf("%d events were refused", b.counts["rejected"]+b.counts["invalid"])}
	case b.counts["unverified"] > 0:
		return exitError{exitNotVerified, fmt.Sprintf("%d receipts did not verify", b.counts["unverified"])}
	}
	return nil
}

// one submits line n and says what happened.
func (b *batch) one(n int, line []byte) batchResult {
	res := batchResult{Line: n}
	entry, err := b.envelope(line)
	if err != nil {
		res.Status, res.Error = "invalid", err.Error()
		return res
	}
	env, _ := event.ParseEnvelope(entry)
	res.EventID = env.ID()
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	p, err := b.c.Submit(ctx, entry)
	if err != nil {
		res.Error = err.Error()
		switch exitCode(err) {
		case exitRejected:
			res.Status = "rejected"
		case exitUnavailable:
			res.Status = "unavailable"
		default:
			res.Status = "unverified"
		}
		return res
	}
	res.Status, res.Index = "accepted", &p.Index
	if b.outDir != "" {
		name := filepath.Join(b.outDir, strings.TrimPrefix(env.ID(), "sha256:"))
		if err := errors.Join(os.WriteFile(name+".tlog-proof", p.Marshal(), 0o644), os.WriteFile(name+".envelope.json", entry, 0o644)); err != nil {
			res.Status, res.Error = "unavailable", err.Error()
		}
	}
	return res
}

// envelope turns one line into a canonical signed envelope.
func (b *batch) envelope(line []byte) ([]byte, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if _, ok := probe["payloadType"]; ok {
		env, err := event.ParseEnvelope(line)
		if err != nil {
			return nil, err
		}
		return env.Marshal(), nil
	}
	if b.builder == nil {
		return nil, errors.New("an unsigned event needs --key and --org")
	}
	var l batchLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("want {\"kind\",\"version\",\"occurred_at\",\"supersedes\",\"body\"}: %v", err)
	}
	if l.Kind == "" {
		l.Kind = b.kind
	}
	if l.Version == 0 {
		l.Version = b.version
	}
	if len(l.Body) == 0 {
		return nil, errors.New("no body")
	}
	env, err := buildEvent(b.builder, event.Draft{Kind: l.Kind, Version: l.Version, OccurredAt: l.OccurredAt, Supersedes: l.Supersedes, Body: l.Body})
	if err != nil {
		return nil, err
	}
	return env.Marshal(), nil
}

// report records a result, prints it with --json (or a refusal on stderr)
// and refreshes the progress line at most ten times a second.
func (b *batch) report(r batchResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done++
	b.counts[r.Status]++
	if b.asJSON {
		printJSON(b.stdout, r)
	}
	if r.Status != "accepted" {
		if b.progressWritten {
			fmt.Fprintln(b.stderr)
			b.progressWritten = false
		}
		id := r.EventID
		if len(id) > 19 {
			id = id[:19] + "..."
		}
		fmt.Fprintf(b.stderr, "line %d %s: %s: %s\n", r.Line, id, r.Status, r.Error)
	}
	if b.done == b.total || time.Since(b.lastProgress) > 100*time.Millisecond {
		b.lastProgress = time.Now()
		b.progressWritten = true
		fmt.Fprintf(b.stderr, "\r%d/%d submitted: %d accepted, %d not", b.done, b.total, b.counts["accepted"], b.done-b.counts["accepted"])
	}
}

func readArg(name string) ([]byte, error) {
	return readFileArg(name, event.MaxEnvelopeSize)
}
