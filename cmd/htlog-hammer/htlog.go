package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
)

// htlogTarget submits signed events to htlog-server.
type htlogTarget struct {
	url        string
	async      bool
	client     *http.Client
	submitters []*event.Builder
	bodies     []template
	// ready are envelopes signed in advance; ready[i-1] is request i.
	ready [][]byte
	// merge, if set, samples accepted async events to time their inclusion.
	merge *mergeWatch
}

type template struct {
	kind string
	body string
}

var tagRE = regexp.MustCompile(`tag:v1:[0-9a-f]{64}`)

func newHTLogTarget(url string, specs []string, examples string, async bool) (*htlogTarget, error) {
	if len(specs) == 0 {
		return nil, errors.New("--submitter ORG=KEYFILE is required (a submitter registered with the log)")
	}
	t := &htlogTarget{url: strings.TrimSuffix(url, "/"), async: async,
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}}
	for _, spec := range specs {
		org, file, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("--submitter %q: want ORG=KEYFILE", spec)
		}
		pemText, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		signer, err := event.ParsePrivateKey(pemText)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		b, err := event.NewBuilder(org, signer)
		if err != nil {
			return nil, fmt.Errorf("--submitter %q: %w", spec, err)
		}
		t.submitters = append(t.submitters, b)
	}
	for _, kind := range event.Kinds {
		files, _ := filepath.Glob(filepath.Join(examples, kind, "valid-*.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			t.bodies = append(t.bodies, template{kind: kind, body: compact.String()})
		}
	}
	if len(t.bodies) == 0 {
		return nil, fmt.Errorf("no example bodies in %s/<kind>/valid-*.json (run from the repository root or set --examples)", examples)
	}
	return t, nil
}

// envelope makes the i-th event: a template of the next kind with fresh
// pseudonymous tags, signed by one of the submitters.
func (t *htlogTarget) envelope(i int) ([]byte, error) {
	tpl := t.bodies[i%len(t.bodies)]
	s := t.submitters[i%len(t.submitters)]
	body := tagRE.ReplaceAllStringFunc(tpl.body, func(string) string {
		var b [32]byte
		rand.Read(b[:])
		return "tag:v1:" + hex.EncodeToString(b[:])
	})
	return t.sign(s, tpl.kind, body)
}

// sign signs body as the latest schema version of kind, occurring now:
// to the minute for the kinds whose times must be whole minutes, to the
// nanosecond for trials (their bodies have no tags, so the time is what
// keeps two generated events apart).
func (t *htlogTarget) sign(s *event.Builder, kind, body string) ([]byte, error) {
	occurred := "" // the builder's default: now, to the minute
	if kind == "trial" {
		occurred = time.Now().UTC().Format(time.RFC3339Nano)
	}
	env, err := s.Build(event.Draft{Kind: kind, OccurredAt: occurred, Body: json.RawMessage(body)})
	if err != nil {
		return nil, err
	}
	return env.Marshal(), nil
}

// prime registers the example trial before the load, so that the trial
// examples that follow a registration (amendments, results) are admitted
// whichever worker sends them first.
func (t *htlogTarget) prime(ctx context.Context) error {
	for _, tpl := range t.bodies {
		if tpl.kind != "trial" || !strings.Contains(tpl.body, `"subtype":"registration"`) {
			continue
		}
		env, err := t.sign(t.submitters[0], tpl.kind, tpl.body)
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/add-event?async=1", bytes.NewReader(env))
		resp, err := t.client.Do(req)
		if err != nil {
			return fmt.Errorf("couldn't register the example trial: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("couldn't register the example trial: %s: %s", resp.Status, bytes.TrimSpace(msg))
		}
	}
	return nil
}

func (t *htlogTarget) send(ctx context.Context, _, i int) result {
	var env []byte
	if i-1 < len(t.ready) {
		env = t.ready[i-1]
	} else {
		var err error
		if env, err = t.envelope(i); err != nil {
			return result{}
		}
	}
	url := t.url + "/add-event"
	if t.async {
		url += "?async=1"
	}
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(env))
	resp, err := t.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start)}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	acked := time.Now()
	latency := acked.Sub(start)
	if t.async && resp.StatusCode == http.StatusAccepted {
		t.merge.note(i, env, acked)
	}
	return result{status: resp.StatusCode, latency: latency}
}
