package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/gateway/store"
	"github.com/htlog/htlog/internal/admission"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/schemas"
	"golang.org/x/mod/sumdb/note"
)

const org = "npi:1234567893"

// newTestServer returns a Server on a real MariaDB store (a fresh database)
// whose admission check knows only its own submitter.
func newTestServer(t testing.TB) *Server {
	t.Helper()
	testonly.RequireIntegration(t)
	db := testonly.OpenDB(t, testonly.NewDatabase(t, "gwserver"))
	db.SetMaxOpenConns(32)
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b, err := event.NewBuilder(org, key)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := strings.ReplaceAll(strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "\n", "\n          ")
	reg, err := registry.Parse([]byte("submitters:\n  - org: "+org+"\n    kinds: [access, consent, custody, trial]\n"+testonly.ExampleRights(org)+
		"    keys:\n      - public_key: |\n          "+pub+"\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := schemas.NewValidator()
	checker, err := admission.New(admission.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	_, logVKey, err := note.GenerateKey(rand.Reader, "htlog.test/gwserver")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{LogURL: "http://127.0.0.1:8080", Policy: "log " + logVKey + " http://127.0.0.1:8080\nquorum none\n", Mapping: mapping.Config{Org: org, WorkforceKey: make([]byte, 32), SourceSystem: "ehr-fhir", DefaultPurpose: "TREAT",
		DefaultAgentRole: "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor"}, Store: st, Builder: b, Checker: checker, Token: "0123456789abcdef0123"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// accessDoc is the BALP read example about patient p with a request id of
// its own, recorded at.
func accessDoc(t testing.TB, p, req int, at time.Time) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/balp/AuditEvent-ex-auditBasicReadServer.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	m["recorded"] = at.UTC().Format(time.RFC3339)
	ents := m["entity"].([]any)
	ents[0].(map[string]any)["what"] = map[string]any{"reference": fmt.Sprintf("Patient/p%d", p)}
	ents[2].(map[string]any)["what"] = map[string]any{"identifier": map[string]any{"value": fmt.Sprintf("req-%d", req)}}
	out, _ := json.Marshal(m)
	return out
}

// BenchmarkAccept measures the accept path alone (map, sign, admission
// pre-check, group-committed store in MariaDB), 64 concurrent clients, no
// log: the rate the gateway answers 201s at.
//
//	HTLOG_INTEGRATION=1 go test ./gateway/server -run '^$' -bench Accept -benchtime 5000x
func BenchmarkAccept(b *testing.B) {
	s := newTestServer(b)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	at := time.Now().Add(-time.Minute)
	docs := make([][]byte, b.N)
	for i := range docs {
		docs[i] = accessDoc(b, i%1000, i, at)
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(docs)) {
					return
				}
				resp, err := hc.Post(srv.URL+"/fhir/AuditEvent", "application/fhir+json", bytes.NewReader(docs[i]))
				if err != nil || resp.StatusCode != 201 {
					failed.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d posts failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accepted/s")
}
