package client_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/internal/c2sp"
	"github.com/htlog/htlog/internal/event"
)

// TestWebPage runs web/htlog.js under node (skipped without it): the tag it
// computes must equal event.Tag, and it must accept a valid lookup result
// and reject one whose envelope or proof was changed.
func TestWebPage(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	l := newTestLog(t, "2")
	l.AppendN("e", 6)
	entry := testEnvelope(t)
	l.Append(entry)
	l.AppendN("f", 3)
	env, _ := event.ParseEnvelope(entry)
	ev, _ := event.ParseEvent(env.Payload)
	patient := event.Tags(ev.Body)[0]
	proof := c2sp.Proof{Index: 6, Hashes: inclusion(t, l, 6), Checkpoint: l.Checkpoint(t, 10, l.witnesses...)}.Marshal()
	good := map[string]any{"index": 6, "envelope": json.RawMessage(entry), "proof": string(proof)}
	tampered := map[string]any{"index": 6, "envelope": json.RawMessage(entry), "proof": strings.Replace(string(proof), "index 6", "index 5", 1)}
	fixture, _ := json.Marshal(map[string]any{"tag": patient, "good": good, "tampered": tampered})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fixture.json"), fixture, 0o644)
	abs, _ := filepath.Abs("web/htlog.js")
	script := `
const h = require(` + "`" + abs + "`" + `);
const f = require(process.argv[1]);
(async () => {
  const t = await h.tag("000102030405060708090a0b0c0d0e0f", "MRN-1");
  const good = await h.checkEvent(f.good, f.tag);
  const bad = await h.checkEvent(f.tampered, f.tag);
  console.log(JSON.stringify({tag: t, good: good.ok, bad: bad.ok, why: good.why}));
})().catch((e) => { console.error(e); process.exit(1); });`
	out, err := exec.Command(node, "-e", script, filepath.Join(dir, "fixture.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Tag       string
		Good, Bad bool
		Why       string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %s", out)
	}
	want := event.Tag([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "MRN-1")
	if got.Tag != want {
		t.Errorf("JS tag %s, Go tag %s", got.Tag, want)
	}
	if !got.Good || got.Bad {
		t.Errorf("valid event ok=%v (%s), tampered ok=%v", got.Good, got.Why, got.Bad)
	}
}
