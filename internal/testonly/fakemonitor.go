package testonly

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FakeMonitor answers GET /verdicts as htlog-monitor does (a note signed by
// the monitor's Ed25519 key: "htlog-monitor verdicts v1", the log origin,
// one JSON line), with verdicts a test sets. Entries without one are
// "not_checked_yet". Patient-side tests use it until they run against the
// real monitor.
type FakeMonitor struct {
	// URL is the monitor's base URL; VKey its verifier key.
	URL, VKey string
	origin    string
	signer    note.Signer

	mu          sync.Mutex
	verdicts    map[uint64]map[string]any
	checkedSize uint64
	asked       int
}

// NewFakeMonitor starts a fake monitor of the log origin whose key is named name.
func NewFakeMonitor(t testing.TB, name, origin string) *FakeMonitor {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	m := &FakeMonitor{VKey: vkey, origin: origin, signer: s, verdicts: map[uint64]map[string]any{}}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	return m
}

// Set sets the verdict on entry (the fields of contract 2 but "entry"),
// and makes the monitor's checked size cover it.
func (m *FakeMonitor) Set(entry uint64, verdict map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verdicts[entry] = verdict
	m.checkedSize = max(m.checkedSize, entry+1)
}

// Asked returns how many GET /verdicts requests the monitor answered.
func (m *FakeMonitor) Asked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.asked
}

func (m *FakeMonitor) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.URL.Path != "/verdicts" {
		http.NotFound(w, r)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	out := []map[string]any{}
	for _, s := range strings.Split(r.URL.Query().Get("entries"), ",") {
		e, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			http.Error(w, "entries: not a leaf index", http.StatusBadRequest)
			return
		}
		v := map[string]any{"status": "not_checked_yet", "findings": []any{}}
		if set, ok := m.verdicts[e]; ok {
			v = map[string]any{}
			for k, x := range set {
				v[k] = x
			}
		}
		v["entry"] = e
		out = append(out, v)
	}
	j, _ := json.Marshal(map[string]any{"checked_size": m.checkedSize, "verdicts": out})
	signed, err := note.Sign(&note.Note{Text: "htlog-monitor verdicts v1\n" + m.origin + "\n" + string(j) + "\n"}, m.signer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signed)
}
