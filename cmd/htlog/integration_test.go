package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/promise"
	"golang.org/x/mod/sumdb/note"
)

// withPatient returns an example body with its patient replaced by tag.
func withPatient(t *testing.T, kind, name, tag string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(testonly.Example(t, kind, name), &m); err != nil {
		t.Fatal(err)
	}
	m["patient"] = tag
	b, _ := json.Marshal(m)
	return b
}

// TestCLIAgainstStack runs every log-facing subcommand against the real
// server, Trillian and witnesses, sharing one stack.
func TestCLIAgainstStack(t *testing.T) {
	s := testonly.StartStack(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	logArgs := []string{"--log", s.URL, "--policy", s.PolicyFile, "--timeout", "20s"}
	must := func(t *testing.T, want int, args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != want {
			t.Fatalf("htlog %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
		}
		return out, errOut
	}

	// The hospital keeps one key per patient and hands MRN-0042 theirs.
	store, patientKey := filepath.Join(dir, "keys"), filepath.Join(dir, "patient.key")
	out, _ := must(t, 0, "patient-key", "--store", store, "--patient", "MRN-0042", "--custodian", s.Org, "--export", patientKey)
	tag := strings.TrimSpace(out)
	if again, _ := must(t, 0, "patient-key", "--store", store, "--patient", "MRN-0042", "--custodian", s.Org); strings.TrimSpace(again) != tag {
		t.Fatalf("the stored key gave another tag: %s, want %s", again, tag)
	}

	consentReceipt, consentEnv := filepath.Join(dir, "consent.tlog-proof"), filepath.Join(dir, "consent.json")
	t.Run("submit", func(t *testing.T) {
		body := file("consent-body.json", withPatient(t, "consent", "valid-treatment-grant.json", tag))
		must(t, 0, append([]string{"submit", "--key", s.KeyFile, "--org", s.Org, "--kind", "consent",
			"--out", consentReceipt, "--envelope-out", consentEnv, body}, logArgs...)...)
	})
	t.Run("submit-async", func(t *testing.T) {
		other, _ := must(t, 0, "patient-key", "--store", store, "--patient", "MRN-0099", "--custodian", s.Org) // another patient: lookup below counts MRN-0042's
		body := file("async-body.json", withPatient(t, "access", "valid-routine-read.json", strings.TrimSpace(other)))
		promiseFile := filepath.Join(dir, "access.promise")
		out, _ := must(t, 0, append([]string{"submit", "--async", "--promise-out", promiseFile, "--key", s.KeyFile, "--org", s.Org,
			"--kind", "access", "--occurred-at", testonly.Minute(-time.Hour), body}, logArgs...)...)
		signed, err := os.ReadFile(promiseFile)
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(s.LogVKey)
		if err != nil {
			t.Fatal(err)
		}
		p, err := promise.Open(signed, v)
		if err != nil || p.EventID != strings.TrimSpace(out) {
			t.Fatalf("promise %+v, %v for event %s", p, err, out)
		}
		must(t, exitUsage, append([]string{"submit", "--promise-out", promiseFile, "--key", s.KeyFile, "--org", s.Org,
			"--kind", "access", body}, logArgs...)...)
	})
	t.Run("submit-batch", func(t *testing.T) {
		var lines bytes.Buffer
		for i, name := range []string{"valid-routine-read.json", "valid-break-glass.json"} {
			fmt.Fprintf(&lines, `{"kind":"access","occurred_at":%q,"body":%s}`+"\n", testonly.Minute(-time.Duration(i+2)*time.Hour), withPatient(t, "access", name, tag))
		}
		lines.WriteString("\n") // blank lines are skipped
		events := file("events.jsonl", lines.Bytes())
		outDir := filepath.Join(dir, "receipts")
		out, errOut := must(t, 0, append([]string{"submit", "--key", s.KeyFile, "--org", s.Org, "--events", events, "--out-dir", outDir, "--json"}, logArgs...)...)
		if strings.Count(out, `"status":"accepted"`) != 2 || !strings.Contains(errOut, "submitted 2 events: 2 accepted") {
			t.Errorf("stdout %s\nstderr %s", out, errOut)
		}
		proofs, _ := filepath.Glob(filepath.Join(outDir, "*.tlog-proof"))
		if len(proofs) != 2 {
			t.Fatalf("%d receipts in --out-dir", len(proofs))
		}
		must(t, 0, "verify", "--policy", s.PolicyFile, "--entry", strings.TrimSuffix(proofs[0], ".tlog-proof")+".envelope.json", proofs[0])
		// Resubmitting is safe: same receipts.
		must(t, 0, append([]string{"submit", "--key", s.KeyFile, "--org", s.Org, "--events", events, "--out-dir", outDir}, logArgs...)...)
		// One bad line among good ones: exit 3, the good ones still go in.
		bad := file("bad.jsonl", append(lines.Bytes(), []byte(`{"kind":"access","body":{"patient":"MRN-0042"}}`+"\n")...))
		_, errOut = must(t, exitRejected, append([]string{"submit", "--key", s.KeyFile, "--org", s.Org, "--events", bad}, logArgs...)...)
		if !strings.Contains(errOut, "line 4") || !strings.Contains(errOut, "2 accepted, 1 rejected") {
			t.Errorf("stderr %s", errOut)
		}
	})
	t.Run("verify", func(t *testing.T) {
		out, _ := must(t, 0, "verify", "--policy", s.PolicyFile, "--entry", consentEnv, consentReceipt)
		if !strings.Contains(out, "verified: entry") || !strings.Contains(out, "w0") {
			t.Errorf("output %q", out)
		}
		out, _ = must(t, 0, "verify", "--policy", s.PolicyFile, "--entry", consentEnv, "--json", consentReceipt)
		var j struct {
			Verified  bool
			Witnesses []string
		}
		if json.Unmarshal([]byte(out), &j) != nil || !j.Verified || len(j.Witnesses) < 2 {
			t.Errorf("json %q", out)
		}
	})
	t.Run("lookup", func(t *testing.T) {
		out, _ := must(t, 0, append([]string{"lookup", "--key-file", patientKey, "--custodian", s.Org, "--save-dir", filepath.Join(dir, "mine"), "--table"}, logArgs...)...)
		if !strings.Contains(out, "consent") || strings.Count(out, "access") != 2 || !strings.Contains(out, "ETREAT") || !strings.Contains(out, "3 events, each verified") {
			t.Errorf("lookup --table output:\n%s", out)
		}
		// The plain-language output: words of the value sets, marks, and
		// "in the log" apart from any verdict.
		out, _ = must(t, 0, append([]string{"lookup", "--key-file", patientKey, "--custodian", s.Org, "--tz", "UTC"}, logArgs...)...)
		for _, want := range []string{"Times are in UTC.", "recorded your consent", "for emergency treatment (break-glass).",
			"⚠ Emergency access (break-glass).", "✓ In the log as entry", "3 events, each verified"} {
			if !strings.Contains(out, want) {
				t.Errorf("lookup output lacks %q:\n%s", want, out)
			}
		}
		saved, _ := filepath.Glob(filepath.Join(dir, "mine", "*.tlog-proof"))
		if len(saved) != 3 {
			t.Errorf("%d saved proofs", len(saved))
		}
		// With the patient bundle: the monitor's signed verdicts too.
		keyHex, _ := os.ReadFile(patientKey)
		policy, _ := os.ReadFile(s.PolicyFile)
		mon := testonly.NewFakeMonitor(t, "monitor.example", s.Origin)
		pb := &client.PatientBundle{Type: client.BundleType, Log: s.URL, Custodian: s.Org, Key: strings.TrimSpace(string(keyHex)), Policy: string(policy),
			Monitors: []client.BundleMonitor{{URL: mon.URL, VKey: mon.VKey}}}
		j, err := pb.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		bundleFile := file("bundle.json", j)
		out, _ = must(t, 0, "lookup", "--bundle", bundleFile, "--tz", "UTC")
		if strings.Count(out, "Monitor monitor.example: not checked yet") != 3 || strings.Count(out, "✓ In the log as entry") != 3 || mon.Asked() != 1 {
			t.Errorf("lookup --bundle (monitor asked %d times):\n%s", mon.Asked(), out)
		}
		must(t, exitUsage, "lookup", "--bundle", bundleFile, "--custodian", s.Org)
		out, _ = must(t, 0, append([]string{"lookup", "--tag", tag, "--json"}, logArgs...)...)
		if strings.Count(out, "\n") != 3 {
			t.Errorf("--json: %s", out)
		}
		other := filepath.Join(dir, "other.key")
		must(t, 0, "patient-key", "--store", store, "--patient", "MRN-0099", "--custodian", s.Org, "--export", other)
		// Another patient's key finds that patient's one event, at any
		// number of providers, and none of MRN-0042's.
		out, _ = must(t, 0, append([]string{"lookup", "--key-file", other, "--custodian", s.Org, "--custodian", "npi:1245319599"}, logArgs...)...)
		if !strings.Contains(out, "1 events, each verified") {
			t.Errorf("another patient's key: %s", out)
		}
	})
	t.Run("checkpoint", func(t *testing.T) {
		state := filepath.Join(dir, "state")
		for range 2 {
			out, _ := must(t, 0, append([]string{"checkpoint", "--state", state}, logArgs...)...)
			if !strings.Contains(out, "verified: size") {
				t.Errorf("output %q", out)
			}
		}
	})
	t.Run("inclusion", func(t *testing.T) {
		out, _ := must(t, 0, append([]string{"inclusion", "--index", "0"}, logArgs...)...)
		if !strings.Contains(out, "included: entry 0") {
			t.Errorf("output %q", out)
		}
		must(t, 0, append([]string{"inclusion", "--proof", consentReceipt, "--entry", consentEnv}, logArgs...)...)
		out, _ = must(t, 0, append([]string{"inclusion", "--index", "1", "--json"}, logArgs...)...)
		var j struct {
			EventID string `json:"event_id"`
		}
		json.Unmarshal([]byte(out), &j)
		must(t, 0, append([]string{"inclusion", "--event-id", j.EventID}, logArgs...)...)
		must(t, exitNotVerified, append([]string{"inclusion", "--index", "1", "--entry", consentEnv}, logArgs...)...)
	})
	t.Run("consistency", func(t *testing.T) {
		out, _ := must(t, 0, append([]string{"consistency", consentReceipt}, logArgs...)...)
		if !strings.Contains(out, "consistent: the tree of size") {
			t.Errorf("output %q", out)
		}
	})
	t.Run("tail", func(t *testing.T) {
		out, _ := must(t, 0, append([]string{"tail", "--from", "0", "--count", "3", "--json", "--interval", "100ms"}, logArgs...)...)
		if strings.Count(out, `"kind"`) != 3 {
			t.Errorf("tail output:\n%s", out)
		}
	})

	// Each failure has its own exit code and says what went wrong.
	t.Run("unregistered-key", func(t *testing.T) {
		key := filepath.Join(dir, "stranger.key")
		must(t, 0, "keygen", "--kind", "submitter", "--name", "stranger", "--out", key)
		body := file("b.json", withPatient(t, "access", "valid-routine-read.json", tag))
		_, errOut := must(t, exitRejected, append([]string{"submit", "--key", key, "--org", s.Org, "--kind", "access", body}, logArgs...)...)
		if !strings.Contains(errOut, "401") {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("tampered-proof", func(t *testing.T) {
		proof, _ := os.ReadFile(consentReceipt)
		lines := strings.SplitAfter(string(proof), "\n")
		originLine := -1
		for i, l := range lines {
			if l == "\n" && originLine < 0 {
				originLine = i + 1
			}
		}
		for i, l := range lines {
			if len(l) < 3 {
				continue
			}
			// Change one character in the middle of the line.
			j := len(l) / 2
			c := byte('A')
			if l[j] == 'A' {
				c = 'B'
			}
			tampered := append(append(append([]string{}, lines[:i]...), l[:j]+string(c)+l[j+1:]), lines[i+1:]...)
			p := file("tampered.proof", []byte(strings.Join(tampered, "")))
			code, _, errOut := runCLI(t, "verify", "--policy", s.PolicyFile, "--entry", consentEnv, p)
			want := exitNotVerified
			if i == originLine {
				want = exitUnknownLog // the checkpoint now names no log of the policy
			}
			if code != want {
				t.Errorf("line %d %q tampered: exit %d, want %d: %s", i, strings.TrimSpace(l), code, want, errOut)
			}
		}
	})
	t.Run("another-log", func(t *testing.T) {
		other := testonly.NewFakeLog(t, "other.example/log")
		other.AppendN("x", 4)
		p := c2sp.Proof{Index: 0, Checkpoint: other.Checkpoint(t, 1)}
		proof := file("other.proof", p.Marshal())
		entry := file("other.entry", other.Entries()[0])
		_, errOut := must(t, exitUnknownLog, "verify", "--policy", s.PolicyFile, "--raw", "--entry", entry, proof)
		if !strings.Contains(errOut, "does not list") {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("quorum-not-met", func(t *testing.T) {
		policy3, _ := os.ReadFile(s.PolicyFile)
		strict := file("policy3.txt", bytes.Replace(policy3, []byte("group two 2"), []byte("group two 3"), 1))
		s.WitnessDown[0].Store(true)
		defer s.WitnessDown[0].Store(false)
		body := file("q.json", withPatient(t, "access", "valid-disclosure-to-public-health.json", tag))
		receipt, env := filepath.Join(dir, "q.proof"), filepath.Join(dir, "q.env")
		must(t, 0, append([]string{"submit", "--key", s.KeyFile, "--org", s.Org, "--kind", "access", "--out", receipt, "--envelope-out", env, body}, logArgs...)...)
		_, errOut := must(t, exitQuorum, "verify", "--policy", strict, "--entry", env, receipt)
		if !strings.Contains(errOut, "quorum not met") {
			t.Errorf("stderr %q", errOut)
		}
		must(t, exitQuorum, "checkpoint", "--log", s.URL, "--policy", strict)
	})
	t.Run("unreachable", func(t *testing.T) {
		_, errOut := must(t, exitUnavailable, "checkpoint", "--log", "http://127.0.0.1:1", "--policy", s.PolicyFile, "--timeout", "1s")
		if !strings.Contains(errOut, "unreachable") {
			t.Errorf("stderr %q", errOut)
		}
		body := file("u.json", withPatient(t, "access", "valid-routine-read.json", tag))
		must(t, exitUnavailable, "submit", "--log", "http://127.0.0.1:1", "--timeout", "1s", "--key", s.KeyFile, "--org", s.Org, "--kind", "access", body)
	})
}
