package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// TestMain lets a test run this binary as the htlog command (to kill it).
func TestMain(m *testing.M) {
	if os.Getenv("HTLOG_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// watchWorld is a fake log with a registry, a fake monitor, two patients'
// bundles in a folder, a webhook receiver and an SMTP server.
type watchWorld struct {
	log      *testonly.FakeLog
	url      string
	monitor  *testonly.FakeMonitor
	dir      string
	keys     map[string][]byte // patient name -> tag key
	builder  *event.Builder
	hooks    *receiver
	mail     *smtpServer
	webhook  *httptest.Server
	onHook   func(body map[string]any) // called before answering
	failNext int                       // answer 500 this many times first
	mu       sync.Mutex
}

type receiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	keys   []string
}

func (r *receiver) all() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...), append([]string(nil), r.keys...)
}

func newWatchWorld(t *testing.T) *watchWorld {
	w := &watchWorld{log: testonly.NewFakeLog(t, "example.test/log"), dir: t.TempDir(), keys: map[string][]byte{}, hooks: &receiver{}}
	w.url = testonly.RegistryFront(t, w.log, []client.RegistrySubmitter{{Org: "npi:1234567893", Name: "General Hospital", Kinds: []string{"access", "consent"}}})
	w.monitor = testonly.NewFakeMonitor(t, "monitor.example", w.log.Origin)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	var err error
	if w.builder, err = event.NewBuilder("npi:1234567893", key); err != nil {
		t.Fatal(err)
	}
	policy := "log " + w.log.VKey + "\nquorum none\n"
	os.MkdirAll(filepath.Join(w.dir, "bundles"), 0o700)
	for _, name := range []string{"alice", "bob"} {
		w.keys[name] = event.NewTagKey()
		b := &client.PatientBundle{Type: client.BundleType, Log: w.url, Custodian: "npi:1234567893", Key: hex.EncodeToString(w.keys[name]),
			Policy: policy, Monitors: []client.BundleMonitor{{URL: w.monitor.URL, VKey: w.monitor.VKey}}}
		j, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(w.dir, "bundles", name+".json"), j, 0o600)
	}
	os.WriteFile(filepath.Join(w.dir, "bundles", "bob.mailto"), []byte("bob@example.org\n"), 0o600)
	w.webhook = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.mu.Lock()
		fail := w.failNext > 0
		if fail {
			w.failNext--
		}
		hook := w.onHook
		w.mu.Unlock()
		if fail {
			http.Error(rw, "try again", http.StatusServiceUnavailable)
			return
		}
		w.hooks.mu.Lock()
		w.hooks.bodies = append(w.hooks.bodies, body)
		w.hooks.keys = append(w.hooks.keys, r.Header.Get("Idempotency-Key"))
		w.hooks.mu.Unlock()
		if hook != nil {
			hook(body)
		}
	}))
	t.Cleanup(w.webhook.Close)
	w.mail = startSMTP(t)
	return w
}

// add logs an access event about patient (or about nobody, with "").
func (w *watchWorld) add(t *testing.T, patient, purpose string) uint64 {
	tag := event.Tag([]byte("someone else"), rand.Text())
	if patient != "" {
		tag = event.PatientTag(w.keys[patient], "npi:1234567893")
	}
	env, err := w.builder.Build(event.Draft{Kind: "access", Version: 2, OccurredAt: "2026-05-03T12:30:00Z", Body: map[string]any{
		"action": "R", "outcome": "0", "purpose_of_use": purpose, "patient": tag,
		"agent": map[string]any{"role": map[string]string{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "nurse"}, "organization": "npi:1234567893"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.log.Append(env.Marshal())
	return w.log.Size() - 1
}

func (w *watchWorld) args(extra ...string) []string {
	return append([]string{"watch", "--bundles", filepath.Join(w.dir, "bundles"), "--state", filepath.Join(w.dir, "state.json"),
		"--webhook", w.webhook.URL, "--smtp", w.mail.addr, "--mail-from", "watch@example.org", "--mail-to", "alice@example.org", "--tz", "UTC", "--wait-for-monitors", "0"}, extra...)
}

// TestWatch: a new state starts at the log's size; then each new event
// about a patient is notified once by webhook (after a failed attempt,
// retried) and once by e-mail, to that patient's address, in plain
// language with the monitor's verdict; a second run notifies nothing again.
func TestWatch(t *testing.T) {
	w := newWatchWorld(t)
	w.add(t, "alice", "TREAT") // before the watch started: not notified
	if code, out, errOut := runCLI(t, w.args("--once")...); code != 0 || !strings.Contains(out, "watching example.test/log from entry 1 for 2 patients") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	a1 := w.add(t, "alice", "TREAT")
	w.add(t, "", "TREAT")
	b1 := w.add(t, "bob", "ETREAT")
	w.monitor.Set(a1, map[string]any{"status": "allowed", "consent_entry": 0, "consent_at": "2026-05-03T09:00:00Z", "findings": []any{}})
	w.monitor.Set(b1, map[string]any{"status": "under_review", "findings": []any{map[string]any{"id": "f1", "rule": "break_glass_review", "severity": "low", "state": "open", "summary": "Emergency access."}}})
	w.failNext = 1
	w.backoffForTest(t)
	if code, out, errOut := runCLI(t, w.args("--once")...); code != 0 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errOut)
	}
	bodies, keys := w.hooks.all()
	if len(bodies) != 2 {
		t.Fatalf("%d webhook calls, want 2: %v", len(bodies), bodies)
	}
	want := map[string][]string{
		"alice": {"Sun 3 May 2026, 12:30: A nurse at General Hospital viewed your record, for treatment.", "✓ In the log as entry 1",
			"Monitor monitor.example: allowed under your consent of 3 May 2026"},
		"bob": {"A nurse at General Hospital viewed your record, for emergency treatment (break-glass).", "⚠ Emergency access (break-glass).",
			"Monitor monitor.example: emergency access, under review"},
	}
	for i, b := range bodies {
		p, _ := b["patient"].(string)
		text, _ := b["text"].(string)
		for _, s := range want[p] {
			if !strings.Contains(text, s) {
				t.Errorf("webhook for %s lacks %q:\n%s", p, s, text)
			}
		}
		if keys[i] != b["id"] || !strings.HasPrefix(keys[i], "example.test/log#") {
			t.Errorf("Idempotency-Key %q, id %v", keys[i], b["id"])
		}
	}
	mails := w.mail.all()
	if len(mails) != 2 {
		t.Fatalf("%d e-mails, want 2", len(mails))
	}
	for _, m := range mails {
		switch {
		case m.to == "alice@example.org" && strings.Contains(m.data, "allowed under your consent of 3 May 2026"):
		case m.to == "bob@example.org" && strings.Contains(m.data, "emergency access, under review"):
		default:
			t.Errorf("e-mail to %s:\n%s", m.to, m.data)
		}
	}
	// Nothing new: nothing sent.
	if code, _, errOut := runCLI(t, w.args("--once")...); code != 0 {
		t.Fatalf("third run: exit %d %s", code, errOut)
	}
	if bodies, _ := w.hooks.all(); len(bodies) != 2 || len(w.mail.all()) != 2 {
		t.Errorf("a run with no new event sent %d webhooks and %d e-mails", len(bodies), len(w.mail.all()))
	}
}

// backoffForTest keeps the retry back-off of the in-process runs short.
func (w *watchWorld) backoffForTest(t *testing.T) {
	old := watchBackoff
	watchBackoff = 10 * time.Millisecond
	t.Cleanup(func() { watchBackoff = old })
}

// TestWatchUndeliverable: a webhook that keeps failing leaves the
// notification pending in the state (exit 1), and the next run delivers it.
func TestWatchUndeliverable(t *testing.T) {
	w := newWatchWorld(t)
	w.backoffForTest(t)
	runCLI(t, w.args("--once")...)
	w.add(t, "alice", "TREAT")
	w.failNext = 100
	if code, _, errOut := runCLI(t, w.args("--once")...); code != 1 || !strings.Contains(errOut, "1 notifications could not be delivered") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	w.failNext = 0
	if code, _, errOut := runCLI(t, w.args("--once")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if bodies, _ := w.hooks.all(); len(bodies) != 1 || len(w.mail.all()) != 1 {
		t.Errorf("%d webhooks, %d e-mails; want one each", len(bodies), len(w.mail.all()))
	}
}

// TestWatchKilled runs htlog watch as a process and kills it with SIGKILL
// twice: once between polls (nothing may be sent twice) and once while the
// webhook is receiving a notification, before it answers (that one
// notification is sent again after the restart, with the same id; nothing
// else is). Every event is notified.
func TestWatchKilled(t *testing.T) {
	w := newWatchWorld(t)
	runCLI(t, w.args("--once")...)
	var cmd *exec.Cmd
	var procMu sync.Mutex
	var proc *os.Process // the running watch, for the webhook's handler
	start := func() {
		cmd = exec.Command(os.Args[0], w.args("--interval", "50ms")...)
		cmd.Env = append(os.Environ(), "HTLOG_TEST_AS_CLI=1")
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procMu.Lock()
		proc = cmd.Process
		procMu.Unlock()
	}
	kill := func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			kill()
		}
	})
	waitFor := func(hooks, mails int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if b, _ := w.hooks.all(); len(b) >= hooks && len(w.mail.all()) >= mails {
				return
			}
			if time.Now().After(deadline) {
				b, _ := w.hooks.all()
				t.Fatalf("timed out waiting for %d webhooks and %d e-mails: got %d and %d", hooks, mails, len(b), len(w.mail.all()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var entries []uint64
	for range 3 {
		entries = append(entries, w.add(t, "alice", "TREAT"))
	}
	start()
	waitFor(3, 3)
	time.Sleep(300 * time.Millisecond) // several idle polls: the state has caught up
	kill()

	// Killed while the webhook holds the next notification.
	inFlight := w.add(t, "bob", "TREAT")
	entries = append(entries, inFlight)
	var once sync.Once
	w.mu.Lock()
	w.onHook = func(b map[string]any) {
		if b["entry"] == float64(inFlight) {
			once.Do(func() {
				procMu.Lock()
				proc.Signal(syscall.SIGKILL)
				procMu.Unlock()
			})
		}
	}
	w.mu.Unlock()
	start()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the watch was never killed by the webhook")
	}
	entries = append(entries, w.add(t, "alice", "TREAT"))
	start()
	waitFor(6, 5) // 5 events, one webhook call twice
	time.Sleep(300 * time.Millisecond)
	kill()

	bodies, keys := w.hooks.all()
	count := map[float64]int{}
	ids := map[float64]map[string]bool{}
	for i, b := range bodies {
		e := b["entry"].(float64)
		count[e]++
		if ids[e] == nil {
			ids[e] = map[string]bool{}
		}
		ids[e][keys[i]] = true
	}
	for _, e := range entries {
		want := 1
		if e == inFlight {
			want = 2
		}
		if count[float64(e)] != want || len(ids[float64(e)]) != 1 {
			t.Errorf("entry %d: %d webhook calls with ids %v, want %d with one id", e, count[float64(e)], ids[float64(e)], want)
		}
	}
	if len(bodies) != len(entries)+1 {
		t.Errorf("%d webhook calls for %d events", len(bodies), len(entries))
	}
	mails := map[string]int{}
	for _, m := range w.mail.all() {
		mails[m.messageID]++
	}
	if len(mails) != len(entries) {
		t.Errorf("%d distinct e-mails for %d events", len(mails), len(entries))
	}
	for id, n := range mails {
		if n != 1 {
			t.Errorf("e-mail %s sent %d times", id, n)
		}
	}
}

// smtpServer is a minimal in-process SMTP server (RFC 5321's commands that
// net/smtp's SendMail uses, no extensions) that keeps what it receives.
type smtpServer struct {
	addr string
	mu   sync.Mutex
	got  []mail
}

type mail struct{ from, to, data, messageID string }

func (s *smtpServer) all() []mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mail(nil), s.got...)
}

func startSMTP(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &smtpServer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	reply("220 test ESMTP")
	var m mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			reply("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = mail{from: strings.TrimSpace(line[len("MAIL FROM:"):])}
			reply("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = strings.Trim(strings.TrimSpace(line[len("RCPT TO:"):]), "<>")
			reply("250 ok")
		case cmd == "DATA":
			reply("354 go on")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = data.String()
			for _, h := range strings.Split(m.data, "\r\n") {
				if id, ok := strings.CutPrefix(h, "Message-ID: "); ok {
					m.messageID = id
				}
			}
			s.mu.Lock()
			s.got = append(s.got, m)
			s.mu.Unlock()
			reply("250 queued")
		case cmd == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// TestWatchRefusesUnverified: a checkpoint the policy's log key did not
// sign stops the watch (exit 5) and nothing is notified.
func TestWatchRefusesUnverified(t *testing.T) {
	w := newWatchWorld(t)
	runCLI(t, w.args("--once")...)
	w.add(t, "alice", "TREAT")
	other := testonly.NewFakeLog(t, w.log.Origin)
	other.Append(w.log.Entries()...)
	w.log.Serve(other.Checkpoint(t, other.Size()))
	if code, _, errOut := runCLI(t, w.args("--once")...); code != exitNotVerified {
		t.Fatalf("exit %d, want %d: %s", code, exitNotVerified, errOut)
	}
	if b, _ := w.hooks.all(); len(b) != 0 || len(w.mail.all()) != 0 {
		t.Errorf("notified %d webhooks, %d e-mails from an unverified checkpoint", len(b), len(w.mail.all()))
	}
	w.log.Serve(nil)
	if code, _, errOut := runCLI(t, w.args("--once")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if b, _ := w.hooks.all(); len(b) != 1 {
		t.Errorf("%d webhooks once the log's checkpoint verifies, want 1", len(b))
	}
}

// TestWatchWaitsForMonitors: a notification waits until the bundle's
// monitor has checked the event, so that it says what the monitor found,
// and is sent with "not checked yet" once --wait-for-monitors has passed.
func TestWatchWaitsForMonitors(t *testing.T) {
	w := newWatchWorld(t)
	runCLI(t, w.args("--once")...)
	e := w.add(t, "alice", "ETREAT")
	for range 2 {
		code, out, errOut := runCLI(t, w.args("--once", "--wait-for-monitors", "1h")...)
		if code != 0 || !strings.Contains(out, "1 notifications wait for the monitors") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
	}
	if b, _ := w.hooks.all(); len(b) != 0 || len(w.mail.all()) != 0 {
		t.Fatalf("sent before the monitor checked the event")
	}
	w.monitor.Set(e, map[string]any{"status": "under_review", "findings": []any{}})
	if code, _, errOut := runCLI(t, w.args("--once", "--wait-for-monitors", "1h")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ := w.hooks.all()
	if len(b) != 1 || !strings.Contains(b[0]["text"].(string), "Monitor monitor.example: emergency access, under review") {
		t.Fatalf("webhooks: %v", b)
	}
	// Another event the monitor never checks: sent once the wait is over.
	w.add(t, "bob", "TREAT")
	runCLI(t, w.args("--once", "--wait-for-monitors", "1h")...)
	time.Sleep(50 * time.Millisecond)
	if code, _, errOut := runCLI(t, w.args("--once", "--wait-for-monitors", "40ms")...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _ = w.hooks.all()
	if len(b) != 2 || !strings.Contains(b[1]["text"].(string), "Monitor monitor.example: not checked yet") {
		t.Fatalf("webhooks: %v", b)
	}
}
