package server

import (
	"bytes"
	"encoding/json"
	"github.com/htlog/htlog/client"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, h http.Handler, method, path string, body []byte, token string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, b
}

// TestAPI: the answers of each endpoint, for accepted and refused input.
func TestAPI(t *testing.T) {
	s := newTestServer(t)
	h := s.Handler()
	now := time.Now().Add(-time.Minute)

	// A FHIR AuditEvent: 201, Location, an informational OperationOutcome.
	doc := accessDoc(t, 7, 1, now)
	code, hdr, b := do(t, h, "POST", "/fhir/AuditEvent", doc, "")
	if code != 201 || !strings.HasPrefix(hdr.Get("Location"), "/items/sha256:") || !strings.Contains(string(b), `"severity":"information"`) {
		t.Fatalf("POST AuditEvent: %d %v %s", code, hdr, b)
	}
	id := strings.TrimPrefix(hdr.Get("Location"), "/items/")
	code, _, b = do(t, h, "GET", "/items/"+id, nil, "")
	var it struct {
		State, Kind, Envelope string
	}
	json.Unmarshal(b, &it)
	if code != 200 || it.State != "pending" || it.Kind != "access" || !strings.Contains(it.Envelope, "payload") {
		t.Errorf("GET item: %d %s", code, b)
	}
	if code, _, _ := do(t, h, "GET", "/items/"+id+"/receipt", nil, ""); code != 404 {
		t.Errorf("receipt of a pending item: %d", code)
	}
	if code, _, b := do(t, h, "GET", "/fhir/AuditEvent/ex-auditBasicReadServer", nil, ""); code != 200 || !strings.Contains(string(b), id) {
		t.Errorf("GET by resource: %d %s", code, b)
	}

	// Refusals: an OperationOutcome with the field, a problem for EPCIS.
	code, hdr, b = do(t, h, "POST", "/fhir/AuditEvent", []byte(`{"resourceType":"Observation"}`), "")
	if code != 400 || hdr.Get("Content-Type") != "application/fhir+json" || !strings.Contains(string(b), `"expression":["resourceType"]`) {
		t.Errorf("an Observation: %d %s", code, b)
	}
	code, hdr, b = do(t, h, "POST", "/epcis/events", []byte(`{"type":"EPCISDocument","@context":"https://example.com/x"}`), "")
	if code != 422 || hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), "epcisException:ValidationException") {
		t.Errorf("a foreign context: %d %s", code, b)
	}
	code, _, b = do(t, h, "POST", "/fhir/AuditEvent", bytes.Repeat([]byte(" "), MaxBodySize+1), "")
	if code != 413 {
		t.Errorf("a body over the bound: %d %s", code, b)
	}
	// An access the log would refuse (outside its time window) is refused
	// before anything is stored.
	code, _, b = do(t, h, "POST", "/fhir/AuditEvent", accessDoc(t, 7, 2, now.Add(-100*time.Hour)), "")
	if code != 422 || !strings.Contains(string(b), "the log would refuse") || !strings.Contains(string(b), "occurred_at") {
		t.Errorf("an old access: %d %s", code, b)
	}

	// A Bundle: a transaction-response.
	cs, _ := os.ReadFile("../testdata/fhir-r4/Consent-consent-example-notThis.json")
	var c map[string]any
	json.Unmarshal(cs, &c)
	c["dateTime"] = now.UTC().Format(time.RFC3339)
	cb, _ := json.Marshal(c)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(accessDoc(t, 8, 3, now)) + `,"request":{"method":"POST","url":"AuditEvent"}},{"resource":` + string(cb) + `,"request":{"method":"POST","url":"Consent"}}]}`
	code, _, b = do(t, h, "POST", "/fhir", []byte(bundle), "")
	if code != 200 || strings.Count(string(b), `"201 Created"`) != 2 || !strings.Contains(string(b), `"transaction-response"`) {
		t.Errorf("a Bundle: %d %s", code, b)
	}

	// EPCIS in two captures: the commissioning tells the lots, the later
	// shipping finds them; a refused capture records no lot.
	var doc2 map[string]any
	raw, _ := os.ReadFile("../testdata/epcis/dscsa-commission-ship-receive.jsonld")
	json.Unmarshal(raw, &doc2)
	events := doc2["epcisBody"].(map[string]any)["eventList"].([]any)
	for _, e := range events {
		e.(map[string]any)["eventTime"] = now.UTC().Format(time.RFC3339)
	}
	capture := func(evs ...any) (int, []byte) {
		doc2["epcisBody"] = map[string]any{"eventList": evs}
		b, _ := json.Marshal(doc2)
		code, _, out := do(t, h, "POST", "/epcis/events", b, "")
		return code, out
	}
	// A commissioning at a location not the submitter's is refused by the
	// pre-check: its lots are not recorded.
	bad := map[string]any{}
	for k, v := range events[0].(map[string]any) {
		bad[k] = v
	}
	bad["bizLocation"] = map[string]any{"id": "urn:epc:id:sgln:0012345.11111.0"}
	if code, out := capture(bad); code != 422 {
		t.Fatalf("a commissioning elsewhere: %d %s", code, out)
	}
	if code, out := capture(events[1]); code != 422 || !strings.Contains(string(out), "lot and expiry") {
		t.Errorf("a shipping of packages never commissioned here: %d %s", code, out)
	}
	if code, out := capture(events[0]); code != 202 {
		t.Fatalf("commissioning: %d %s", code, out)
	}
	if code, out := capture(events[1]); code != 202 {
		t.Errorf("shipping after commissioning: %d %s", code, out)
	}

	// The patient bundle: only with the token; the key and openings.
	if code, _, _ := do(t, h, "GET", "/patients/p7/bundle", nil, ""); code != 401 {
		t.Errorf("bundle without a token: %d", code)
	}
	if code, _, _ := do(t, h, "GET", "/patients/p7/bundle", nil, "wrong-token-0123456789"); code != 401 {
		t.Errorf("bundle with a wrong token: %d", code)
	}
	code, hdr, b = do(t, h, "GET", "/patients/p7/bundle", nil, "0123456789abcdef0123")
	pb, err := client.ParsePatientBundle(b)
	if err != nil {
		t.Fatalf("the bundle does not parse: %v\n%s", err, b)
	}
	if code != 200 || pb.Type != "htlog-patient-bundle/v1" || len(pb.Key) != 64 || pb.Custodian != org || len(pb.Openings) == 0 || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("bundle: %d %s", code, b)
	}
	if code, _, b := do(t, h, "GET", "/patients/p7/bundle?openings=0", nil, "0123456789abcdef0123"); code != 200 || strings.Contains(string(b), "openings") {
		t.Errorf("bundle without openings: %d %s", code, b)
	}
	if code, _, _ := do(t, h, "GET", "/patients/nobody/bundle", nil, "0123456789abcdef0123"); code != 404 {
		t.Errorf("bundle of an unknown patient: %d", code)
	}
}
