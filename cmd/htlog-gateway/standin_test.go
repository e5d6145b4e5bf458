package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/promise"
	"golang.org/x/mod/sumdb/note"
)

// standInLog is a log that costs next to nothing, for measuring the
// gateway alone: it appends what it is sent to an in-memory tree (no
// admission check), answers with a signed promise, and serves checkpoints
// cosigned by one witness and the tree's tiles. It is not htlog-server and
// checks nothing: the real log is measured by `make bench`.
type standInLog struct {
	log     *testonly.FakeLog
	witness note.Signer
	mu      sync.Mutex
	known   map[string]bool
	// lastSize and last are the checkpoint served last, signed again only
	// when the tree has grown.
	lastSize uint64
	last     []byte
}

// startStandInLog starts the log and returns a Stack (URL, policy, the
// submitter's key and registry) for newGateway; it has no htlog-server and
// no Trillian.
func startStandInLog(t testing.TB) *testonly.Stack {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l := &standInLog{log: testonly.NewFakeLog(t, "standin.test/log"), known: map[string]bool{}}
	w, wvkey := testonly.NewWitnessKey(t, "w.test")
	l.witness = w
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	s := &testonly.Stack{URL: srv.URL, Origin: l.log.Origin, LogVKey: l.log.VKey, Org: "npi:1234567893"}
	policy := "log " + l.log.VKey + " " + srv.URL + "\nwitness w " + wvkey + "\nquorum w\n"
	var err error
	if s.Policy, err = c2sp.ParsePolicy([]byte(policy)); err != nil {
		t.Fatal(err)
	}
	s.PolicyFile = write("policy.txt", policy, 0o644)
	var pub string
	s.Key, s.KeyFile, pub = testonly.WriteSubmitterKey(t, dir)
	s.RegistryFile = write("submitters.yaml", "submitters:\n  - org: "+s.Org+"\n    kinds: [access, consent, custody, trial]\n    keys: [{public_key_file: "+pub+"}]\n"+
		testonly.ExampleRights(s.Org), 0o644)
	return s
}

func (l *standInLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/add-event":
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, event.MaxEnvelopeSize))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		env, err := event.ParseEnvelope(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		leaf, id := env.Marshal(), env.ID()
		l.mu.Lock()
		if !l.known[id] {
			l.known[id] = true
			l.log.Append(leaf)
		}
		l.mu.Unlock()
		p, err := promise.Promise{Origin: l.log.Origin, EventID: id, LeafHash: c2sp.LeafHash(leaf), Timestamp: time.Now(), MaxMergeDelay: time.Minute}.Sign(l.log.Signer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write(p)
	case r.URL.Path == "/checkpoint":
		l.mu.Lock()
		defer l.mu.Unlock()
		if size := l.log.Size(); l.last == nil || size != l.lastSize {
			body := c2sp.Checkpoint{Origin: l.log.Origin, Size: size, Hash: l.log.Root(size)}.Marshal()
			signed, err := note.Sign(&note.Note{Text: string(body)}, l.log.Signer, l.witness)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			l.last, l.lastSize = signed, size
		}
		w.Write(l.last)
	default:
		l.log.Handler().ServeHTTP(w, r)
	}
}
