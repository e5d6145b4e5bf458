package client_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// TestWebPage runs web/htlog.js under node (skipped without it): the tag it
// computes must equal event.Tag, it must accept a valid lookup result under
// the witness policy, and reject one whose proof was changed, whose
// checkpoint lacks the quorum, carries a forged cosignature or is signed by
// another key than the policy's log, and policies Go's parser rejects.
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
	proofWith := func(cp []byte) map[string]any {
		proof := c2sp.Proof{Index: 6, Hashes: inclusion(t, l, 6), Checkpoint: cp}.Marshal()
		return map[string]any{"index": 6, "envelope": json.RawMessage(entry), "proof": string(proof)}
	}
	good := proofWith(l.Checkpoint(t, 10, l.witnesses...))
	tampered := map[string]any{"index": 6, "envelope": json.RawMessage(entry), "proof": strings.Replace(good["proof"].(string), "index 6", "index 5", 1)}
	// A cosignature whose Ed25519 signature bytes were changed.
	forged := regexp.MustCompile(`(?m)^(— w1\.example \S{40})(.)`).ReplaceAllStringFunc(good["proof"].(string), func(s string) string {
		if s[len(s)-1] == 'A' {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	})
	if forged == good["proof"] {
		t.Fatal("did not forge a cosignature")
	}
	otherLog := testonly.NewFakeLog(t, l.Origin)
	type check struct {
		Event  map[string]any `json:"event"`
		Policy string         `json:"policy"`
		OK     bool           `json:"ok"`
		Why    string         `json:"why"` // a substring of the reason
	}
	cases := map[string]check{
		"valid":               {Event: good, Policy: l.text, OK: true, Why: "cosigned by w0, w1, w2"},
		"quorum any":          {Event: proofWith(l.Checkpoint(t, 10, l.witnesses[2])), Policy: strings.Replace(l.text, "group g 2", "group g any", 1), OK: true},
		"quorum none":         {Event: proofWith(l.Checkpoint(t, 10)), Policy: strings.Replace(l.text, "quorum g", "quorum none", 1), OK: true},
		"nested groups":       {Event: proofWith(l.Checkpoint(t, 10, l.witnesses[0], l.witnesses[2])), Policy: strings.Replace(l.text, "quorum g", "group h all g w2\nquorum h", 1), OK: true},
		"tampered proof":      {Event: tampered, Policy: l.text, Why: "another index"},
		"one cosigner":        {Event: proofWith(l.Checkpoint(t, 10, l.witnesses[1])), Policy: l.text, Why: "quorum not met"},
		"nested groups unmet": {Event: proofWith(l.Checkpoint(t, 10, l.witnesses[0], l.witnesses[1])), Policy: strings.Replace(l.text, "quorum g", "group h all g w2\nquorum h", 1), Why: "quorum not met"},
		"forged cosignature":  {Event: map[string]any{"index": 6, "envelope": json.RawMessage(entry), "proof": forged}, Policy: l.text, Why: "w1's cosignature is invalid"},
		"other log key":       {Event: good, Policy: strings.Replace(l.text, l.VKey, otherLog.VKey, 1), Why: "no valid signature"},
		"other origin":        {Event: good, Policy: strings.Replace(l.text, l.VKey, testonly.NewFakeLog(t, "other.test/log").VKey, 1), Why: "does not list"},
		"wrong tree":          {Event: proofWith(l.Checkpoint(t, 9, l.witnesses...)), Policy: l.text, Why: "does not verify"},
	}
	// Policies Go's parser rejects must be rejected in the browser too.
	var badPolicies []string
	for _, p := range []string{
		strings.Replace(l.text, "quorum g\n", "", 1),
		strings.Replace(l.text, "quorum g", "quorum nosuch", 1),
		strings.Replace(l.text, "group g 2", "group g 4", 1),
		strings.Replace(l.text, "w0 w1 w2", "w0 w1 w1", 1),
		l.text + "quorum none\n",
		"fish\n" + l.text,
	} {
		if _, err := c2sp.ParsePolicy([]byte(p)); err == nil {
			t.Fatalf("Go accepts the bad policy\n%s", p)
		}
		badPolicies = append(badPolicies, p)
	}
	fixture, _ := json.Marshal(map[string]any{"tag": patient, "cases": cases, "badPolicies": badPolicies})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "fixture.json"), fixture, 0o644)
	abs, _ := filepath.Abs("web/htlog.js")
	script := `
const h = require(` + "`" + abs + "`" + `);
const f = require(process.argv[1]);
(async () => {
  const out = {tag: await h.tag("000102030405060708090a0b0c0d0e0f", "MRN-1"), cases: {}, badPolicies: []};
  for (const [name, c] of Object.entries(f.cases)) {
    const r = await h.checkEvent(c.event, f.tag, await h.parsePolicy(c.policy));
    out.cases[name] = {ok: r.ok, why: r.why};
  }
  for (const p of f.badPolicies) {
    out.badPolicies.push(await h.parsePolicy(p).then(() => "accepted", (e) => e.message));
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });`
	out, err := exec.Command(node, "-e", script, filepath.Join(dir, "fixture.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Tag   string
		Cases map[string]struct {
			OK  bool
			Why string
		}
		BadPolicies []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node printed %s", out)
	}
	want := event.Tag([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "MRN-1")
	if got.Tag != want {
		t.Errorf("JS tag %s, Go tag %s", got.Tag, want)
	}
	for name, c := range cases {
		g := got.Cases[name]
		if g.OK != c.OK || !strings.Contains(g.Why, c.Why) {
			t.Errorf("%s: ok=%v (%s), want ok=%v (%q)", name, g.OK, g.Why, c.OK, c.Why)
		}
	}
	for i, msg := range got.BadPolicies {
		if msg == "accepted" {
			t.Errorf("htlog.js accepts the bad policy\n%s", badPolicies[i])
		}
	}
}

// TestWebFiles checks the embedded page can run under htlog-server's
// Content-Security-Policy: no inline script, style or event handler.
func TestWebFiles(t *testing.T) {
	for _, name := range []string{"index.html", "htlog.js", "app.js", "style.css"} {
		if _, err := fs.Stat(client.Web, name); err != nil {
			t.Errorf("client.Web lacks %s: %v", name, err)
		}
	}
	html, err := fs.ReadFile(client.Web, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`<script(\s[^>]*)?>[^<]`, `<script>`, `<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`} {
		if m := regexp.MustCompile(`(?i)` + re).Find(html); m != nil {
			t.Errorf("index.html has inline code (%q) that the CSP would block", m)
		}
	}
}
