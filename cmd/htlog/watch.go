package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/smtp"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/atomicfile"
	"github.com/htlog/htlog/internal/filelock"
)

func init() {
	register("watch", subcommand{
		summary: "follow the log for one or many patients and notify them of every new event about them (webhook, e-mail)",
		run:     watchCmd,
	})
}

const watchHelp = `
Run by a patient, or by a patient-app provider for many patients: reads the
patient bundles (--bundle FILE, repeatable, or --bundles DIR for every *.json
in a folder; all must name the same log and policy), then follows the log:
each poll verifies the latest checkpoint against the policy and proves it
consistent with the one kept before (a split view stops the watch, exit 8,
with evidence), reads every new entry verified against that checkpoint
(which proves its inclusion), and picks those carrying a patient's tag. For
each it sends the same plain-language text as the patient page and htlog
lookup (organisation names from the log's signed registry, the words of the
value sets, local time --tz, what the bundle's monitors found, verified with
their keys):

  --webhook URL      HTTP POST of a JSON object per event, retried with
                     back-off; the "id" field (also the Idempotency-Key
                     header) is the same for the same event and patient
  --smtp HOST:PORT   e-mail from --mail-from to --mail-to, or to the address
                     in <bundle name>.mailto beside a bundle (one line)

A notification waits until every monitor of the bundle has checked the
event (so that it says what they found), at most --wait-for-monitors
(default 5m; 0 sends at once, with "not checked yet").

State (--state FILE, required) keeps how far the log was read and the
notifications not yet delivered; it is replaced atomically after every step
(the kept checkpoint is FILE.checkpoint), so a watch killed at any point
resumes without losing or repeating a notification; at worst one delivery in
flight when it was killed is sent again, with the same id and Message-ID.
A new state starts at the log's current size (events already logged are not
notified) unless --from-start. --once polls once, delivers and exits.`

// watchState is what htlog watch keeps between polls, in one JSON file.
type watchState struct {
	// Origin is the log's origin, once known.
	Origin string `json:"origin"`
	// Next is the first entry not yet read: entries before it were read
	// and their notifications are delivered or in Pending.
	Next uint64 `json:"next"`
	// Pending are notifications not yet delivered on every channel.
	Pending []notification `json:"pending"`
}

// notification is one new event for one patient.
type notification struct {
	ID         string `json:"id"`
	Patient    string `json:"patient"`
	Log        string `json:"log"`
	Entry      uint64 `json:"entry"`
	EventID    string `json:"event_id"`
	OccurredAt string `json:"occurred_at"`
	Kind       string `json:"kind"`
	BreakGlass bool   `json:"break_glass"`
	// Lines are the plain-language text, made once the monitors have
	// checked the entry or --wait-for-monitors has passed; until then
	// Envelope keeps the logged entry and FoundAt when it was read.
	Lines    []string  `json:"lines,omitempty"`
	Envelope []byte    `json:"envelope,omitempty"`
	FoundAt  time.Time `json:"found_at"`
	// WebhookDone and MailDone record delivery (kept in the state file,
	// not sent to the webhook).
	WebhookDone bool `json:"webhook_done,omitempty"`
	MailDone    bool `json:"mail_done,omitempty"`
}

// watchBackoff is the first wait before a failed delivery is retried; it
// doubles with each retry.
var watchBackoff = 500 * time.Millisecond

type watchedPatient struct {
	name   string
	bundle *client.PatientBundle
	mailTo string
}

type watcher struct {
	c        *client.Client
	keeper   *client.Keeper
	state    watchState
	file     string
	patients map[string][]watchedPatient // by tag
	byName   map[string]watchedPatient
	reg      *client.Registry // the log's registry, as of the last poll
	wait     time.Duration
	waiting  int // notifications waiting for the monitors after deliver
	loc      *time.Location
	webhook  string
	smtpAddr string
	mailFrom string
	http     *http.Client
	stderr   io.Writer
	retries  int
	backoff  time.Duration
}

func watchCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", "(--bundle FILE... | --bundles DIR) --state FILE [--webhook URL] [--smtp HOST:PORT --mail-from ADDR [--mail-to ADDR]] [--interval D] [--once]", watchHelp, stderr)
	bundles := fs.StringSlice("bundle", nil, "a patient bundle (repeatable)")
	dir := fs.String("bundles", "", "a folder of patient bundles (*.json), e.g. a provider's, one per patient")
	stateFile := fs.String("state", "", "where to keep the position and pending notifications (required)")
	webhook := fs.String("webhook", "", "POST a JSON object per new event to this URL")
	smtpAddr := fs.String("smtp", "", "send e-mail through this SMTP server (host:port)")
	mailFrom := fs.String("mail-from", "", "the e-mails' sender address")
	mailTo := fs.String("mail-to", "", "the address to notify (a <bundle name>.mailto file beside a bundle overrides it)")
	interval := fs.Duration("interval", 30*time.Second, "time between polls")
	once := fs.Bool("once", false, "poll once, deliver, and exit")
	fromStart := fs.Bool("from-start", false, "on a new state, notify every event already in the log too")
	tz := fs.String("tz", "Local", "times in notifications are in this time zone")
	wait := fs.Duration("wait-for-monitors", 5*time.Minute, "hold a notification back until the bundle's monitors have checked the event, at most this long")
	caFile := fs.String("ca-file", os.Getenv("HTLOG_CA_FILE"), "PEM CA certificates trusted for an https:// log")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *stateFile == "" || (len(*bundles) == 0) == (*dir == "") {
		return usageError{"usage: htlog watch (--bundle FILE... | --bundles DIR) --state FILE [--webhook URL] [--smtp HOST:PORT --mail-from ADDR]"}
	}
	if *webhook == "" && *smtpAddr == "" {
		return usageError{"give --webhook URL and/or --smtp HOST:PORT: with neither, nobody would be told"}
	}
	if *smtpAddr != "" && *mailFrom == "" {
		return usageError{"--smtp needs --mail-from"}
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{"--tz: " + err.Error()}
	}
	files := *bundles
	if *dir != "" {
		if files, err = filepath.Glob(filepath.Join(*dir, "*.json")); err != nil {
			return err
		}
		if len(files) == 0 {
			return usageError{"--bundles: no *.json files in " + *dir}
		}
	}
	w := &watcher{file: *stateFile, patients: map[string][]watchedPatient{}, byName: map[string]watchedPatient{}, wait: *wait, loc: loc, webhook: *webhook, smtpAddr: *smtpAddr,
		mailFrom: *mailFrom, stderr: stderr, retries: 5, backoff: watchBackoff, http: &http.Client{Timeout: 30 * time.Second}}
	var first *client.PatientBundle
	for _, f := range files {
		b, err := loadBundle(f)
		if err != nil {
			return err
		}
		if first == nil {
			first = b
		} else if b.Log != first.Log || b.Policy != first.Policy {
			return usageError{fmt.Sprintf("%s names another log or policy than %s: run one watch per log", f, files[0])}
		}
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		p := watchedPatient{name: name, bundle: b, mailTo: *mailTo}
		if m, err := os.ReadFile(strings.TrimSuffix(f, filepath.Ext(f)) + ".mailto"); err == nil {
			p.mailTo = strings.TrimSpace(string(m))
		}
		if *smtpAddr != "" && (p.mailTo == "" || strings.ContainsAny(p.mailTo, "\r\n<> ")) {
			return usageError{fmt.Sprintf("no e-mail address for %s: give --mail-to or write one line to %s.mailto", name, name)}
		}
		if _, dup := w.byName[name]; dup {
			return usageError{fmt.Sprintf("two bundles are called %s: each patient's bundle needs its own name", name)}
		}
		w.byName[name] = p
		tag, _ := b.Tag()
		w.patients[tag] = append(w.patients[tag], p)
	}
	policy, err := first.ParsedPolicy()
	if err != nil {
		return err
	}
	w.c = &client.Client{URL: first.Log, Policy: policy}
	if *caFile != "" {
		lf := logFlags{url: &first.Log, policy: new(string), caFile: caFile, timeout: interval}
		c, err := lf.client(false)
		if err != nil {
			return err
		}
		w.c.HTTP, w.http = c.HTTP, c.HTTP
	}
	unlock, err := lockFile(*stateFile + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if w.keeper, err = client.NewKeeper(w.c, *stateFile+".checkpoint"); err != nil {
		return classify(err)
	}
	fresh, err := w.load()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for {
		if err := w.poll(ctx, fresh && !*fromStart, stdout); err != nil {
			var fork *client.ForkError
			if errors.As(err, &fork) || errors.Is(err, client.ErrNotVerified) || *once {
				return classify(err)
			}
			fmt.Fprintf(stderr, "htlog watch: %v (retrying in %v)\n", err, *interval)
		}
		fresh = false
		w.deliver(ctx)
		if *once {
			if failed := len(w.state.Pending) - w.waiting; failed > 0 {
				return fmt.Errorf("%d notifications could not be delivered; they stay in %s for the next run", failed, w.file)
			}
			if w.waiting > 0 {
				fmt.Fprintf(stdout, "%d notifications wait for the monitors to check their events (at most %v): run again later\n", w.waiting, *wait)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// load reads the state file; fresh reports that there was none.
func (w *watcher) load() (fresh bool, err error) {
	b, err := os.ReadFile(w.file)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &w.state); err != nil {
		return false, fmt.Errorf("the state file %s is damaged (%v): move it aside to start again", w.file, err)
	}
	return false, nil
}

// save replaces the state file atomically and durably.
func (w *watcher) save() error {
	b, err := json.MarshalIndent(w.state, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(w.file, append(b, '\n'), 0o600)
}

// poll verifies the log's latest checkpoint, reads the entries added since
// the last poll, and queues a notification for each one about a patient.
func (w *watcher) poll(ctx context.Context, baseline bool, stdout io.Writer) error {
	cp, err := w.keeper.Update(ctx)
	if err != nil {
		return err
	}
	if w.state.Origin == "" {
		w.state.Origin = cp.Origin
	} else if w.state.Origin != cp.Origin {
		return fmt.Errorf("the state file follows %s, the bundles' log is %s", w.state.Origin, cp.Origin)
	}
	if baseline {
		w.state.Next = cp.Size
		fmt.Fprintf(stdout, "watching %s from entry %d for %d patients (events already logged are not notified)\n", cp.Origin, cp.Size, len(w.patients))
		return w.save()
	}
	if w.state.Next > cp.Size {
		return fmt.Errorf("%w: the state says %d entries were read, the verified checkpoint has %d", client.ErrNotVerified, w.state.Next, cp.Size)
	}
	reg, err := w.c.Registry(ctx)
	if err != nil {
		fmt.Fprintf(w.stderr, "htlog watch: organisation names are not shown (the log's registry did not verify): %v\n", err)
		reg = nil
	}
	w.reg = reg
	const chunk = 256
	for start := w.state.Next; start < cp.Size; start += chunk {
		end := min(start+chunk, cp.Size)
		entries, err := w.c.Entries(ctx, start, end, cp)
		if err != nil {
			return err
		}
		for i, entry := range entries {
			index := start + uint64(i)
			env, err := event.ParseEnvelope(entry)
			if err != nil {
				continue
			}
			ev, err := event.ParseEvent(env.Payload)
			if err != nil {
				continue
			}
			for _, tag := range event.Tags(ev.Body) {
				for _, p := range w.patients[tag] {
					w.state.Pending = append(w.state.Pending, w.notification(p, cp.Origin, index, entry, env, ev))
				}
			}
		}
		w.state.Next = end
		if err := w.save(); err != nil {
			return err
		}
	}
	return nil
}

// notification starts the notification of one event for one patient; its
// text is made when it is delivered.
func (w *watcher) notification(p watchedPatient, origin string, index uint64, entry []byte, env *event.Envelope, ev *event.Event) notification {
	id := event.IDOf(env.Payload)
	desc := client.Describe(index, ev, id, nil, p.bundle, w.loc)
	return notification{ID: origin + "#" + strconv.FormatUint(index, 10) + "#" + p.name, Patient: p.name, Log: origin,
		Entry: index, EventID: id, OccurredAt: ev.OccurredAt, Kind: ev.Kind, BreakGlass: desc.BreakGlass, Envelope: entry, FoundAt: time.Now().UTC()}
}

// tell makes n's text once the bundle's monitors have checked the event or
// w.wait has passed since it was found, and reports whether it did.
func (w *watcher) tell(ctx context.Context, n *notification) bool {
	if n.Lines != nil {
		return true
	}
	p, ok := w.byName[n.Patient]
	if !ok {
		return false // its bundle was removed: it waits for the bundle to come back
	}
	env, err := event.ParseEnvelope(n.Envelope)
	if err != nil {
		return false
	}
	ev, err := event.ParseEvent(env.Payload)
	if err != nil {
		return false
	}
	d := &client.Describer{Registry: w.reg, Bundle: p.bundle, Location: w.loc, HTTP: w.http}
	told := d.Tell(ctx, n.Log, []client.Event{{Index: n.Entry, ID: n.EventID, Entry: n.Envelope, Envelope: env, Event: ev}})[0]
	if !told.Settled && time.Since(n.FoundAt) < w.wait {
		return false
	}
	n.Lines, n.Envelope = told.Lines, nil
	w.saveOrWarn()
	return true
}

// deliver sends every pending notification on every channel, saving the
// state after each delivery; what fails stays pending for the next poll.
func (w *watcher) deliver(ctx context.Context) {
	w.waiting = 0
	for i := 0; i < len(w.state.Pending); i++ {
		n := &w.state.Pending[i]
		if !w.tell(ctx, n) {
			w.waiting++
			continue
		}
		if w.webhook != "" && !n.WebhookDone {
			if err := w.retry(ctx, func() error { return w.postWebhook(ctx, *n) }); err != nil {
				fmt.Fprintf(w.stderr, "htlog watch: webhook for entry %d: %v (kept for the next poll)\n", n.Entry, err)
			} else {
				n.WebhookDone = true
				w.saveOrWarn()
			}
		}
		if w.smtpAddr != "" && !n.MailDone {
			if err := w.retry(ctx, func() error { return w.sendMail(*n) }); err != nil {
				fmt.Fprintf(w.stderr, "htlog watch: e-mail for entry %d: %v (kept for the next poll)\n", n.Entry, err)
			} else {
				n.MailDone = true
				w.saveOrWarn()
			}
		}
	}
	w.state.Pending = slices.DeleteFunc(w.state.Pending, func(n notification) bool {
		return n.Lines != nil && (w.webhook == "" || n.WebhookDone) && (w.smtpAddr == "" || n.MailDone)
	})
	w.saveOrWarn()
}

func (w *watcher) saveOrWarn() {
	if err := w.save(); err != nil {
		fmt.Fprintf(w.stderr, "htlog watch: couldn't save the state: %v\n", err)
	}
}

// retry runs f up to w.retries times with doubling back-off.
func (w *watcher) retry(ctx context.Context, f func() error) error {
	wait := w.backoff
	var err error
	for i := 0; i < w.retries; i++ {
		if err = f(); err == nil {
			return nil
		}
		if i+1 < w.retries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
	}
	return err
}

func (w *watcher) postWebhook(ctx context.Context, n notification) error {
	body, err := json.Marshal(map[string]any{"id": n.ID, "patient": n.Patient, "log": n.Log, "entry": n.Entry,
		"event_id": n.EventID, "occurred_at": n.OccurredAt, "kind": n.Kind, "break_glass": n.BreakGlass,
		"lines": n.Lines, "text": strings.Join(n.Lines, "\n")})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.ID)
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

func (w *watcher) sendMail(n notification) error {
	var to string
	for _, ps := range w.patients {
		for _, p := range ps {
			if p.name == n.Patient {
				to = p.mailTo
			}
		}
	}
	if to == "" {
		return fmt.Errorf("no address for %s", n.Patient)
	}
	sum := sha256.Sum256([]byte(n.ID))
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: A new entry about you in the health transparency log\r\n", w.mailFrom, to)
	fmt.Fprintf(&msg, "Date: %s\r\nMessage-ID: <%s@htlog-watch>\r\nMIME-Version: 1.0\r\n", time.Now().Format(time.RFC1123Z), hex.EncodeToString(sum[:16]))
	msg.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for _, l := range n.Lines {
		msg.WriteString(l + "\r\n")
	}
	msg.WriteString("\r\nSent by htlog watch. The event's place in the log was verified against your witness policy;\r\n" +
		"the verdicts are those of the monitors in your patient bundle, checked with their keys.\r\n")
	return smtp.SendMail(w.smtpAddr, nil, w.mailFrom, []string{to}, []byte(msg.String()))
}

// lockFile takes an exclusive lock on path (released by the kernel if the
// process dies), so two watches never share one state file.
func lockFile(path string) (func(), error) {
	release, err := filelock.Lock(path, false)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("another htlog watch uses the state %s", strings.TrimSuffix(path, ".lock"))
	}
	return release, err
}
