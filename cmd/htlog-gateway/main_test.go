package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testonly.RepoRoot(), "gateway", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type capture struct {
	Captured []struct {
		EventID string `json:"event_id"`
	} `json:"captured"`
}

// TestExamplesThroughTheLog posts the published FHIR and BALP examples the
// gateway maps, the DSCSA shipping/receiving chain and a TRDS registration
// to a gateway in front of a real stack (htlog-server on Trillian and
// MariaDB, three witnesses), waits until each is logged with a verified
// receipt, and finds each again: the AuditEvents and Consents with the
// patient's key from the patient bundle (client.LookupPatient), the
// packages with their serial tag (client.Lookup), the trial by event id.
func TestExamplesThroughTheLog(t *testing.T) {
	s := testonly.StartStack(t)
	g := newGateway(t, s, "")
	now := time.Now().UTC().Add(-2 * time.Minute)
	type posted struct {
		id, patient string
	}
	var fhirPosted []posted
	for _, name := range []string{
		"fhir-r4/AuditEvent-example-rest.json", "fhir-r4/AuditEvent-example-disclosure.json",
		"fhir-r4/AuditEvent-example-media.json", "fhir-r4/AuditEvent-example-pixQuery.json",
		"fhir-r4/Consent-consent-example-basic.json", "fhir-r4/Consent-consent-example-smartonfhir.json",
		"fhir-r4/Consent-consent-example-pkb.json",
		"balp/AuditEvent-ex-auditBasicReadServer.json", "balp/AuditEvent-ex-auditBasicReadNoUser.json",
		"fhir-r5/AuditEvent-example-rest.json", "fhir-r5/AuditEvent-example-consent-permit-authz.json",
		"fhir-r5/Consent-consent-example-notThem.json",
	} {
		res := withTimes(t, testdata(t, name), now)
		var h struct {
			ResourceType string `json:"resourceType"`
		}
		json.Unmarshal(res, &h)
		code, body := g.post(t, "/fhir/"+h.ResourceType, res)
		if code != 201 {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		id := acceptedID(t, body)
		fhirPosted = append(fhirPosted, posted{id: id})
		// Posting the same resource again is the same item.
		if code, again := g.post(t, "/fhir/"+h.ResourceType, res); code != 201 || !strings.Contains(string(again), id) {
			t.Errorf("%s posted twice: %d %s", name, code, again)
		}
	}
	// Which patient each resource is about, as the examples say.
	patients := []string{"example", "example", "", "", "f001", "xcda", "example", "ex-patient", "ex-patient", "example", "example", "mom"}
	for i := range fhirPosted {
		fhirPosted[i].patient = patients[i]
	}

	// The EPCIS chain, with its times moved into the log's window.
	doc := string(testdata(t, "epcis/dscsa-commission-ship-receive.jsonld"))
	for i, ts := range []string{"2026-11-30T08:00:00.000Z", "2026-11-30T09:00:00.000Z", "2026-11-30T15:30:00.000Z"} {
		doc = strings.Replace(doc, ts, now.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 1)
	}
	code, body := g.post(t, "/epcis/events", []byte(doc))
	if code != 202 {
		t.Fatalf("EPCIS capture: %d %s", code, body)
	}
	var cap capture
	json.Unmarshal(body, &cap)
	if len(cap.Captured) != 3 {
		t.Fatalf("captured %s", body)
	}
	// The standard's class-level example (9.6.2: 200 kg of one lot
	// received, in_progress), its time moved into the window.
	classLevel := strings.Replace(string(testdata(t, "epcis/Example_9.6.2-ObjectEvent.jsonld")), "2013-06-08T14:58:56.591Z", now.Format(time.RFC3339), 1)
	code, body = g.post(t, "/epcis/events", []byte(classLevel))
	if code != 202 {
		t.Fatalf("EPCIS 9.6.2: %d %s", code, body)
	}
	var cl capture
	json.Unmarshal(body, &cl)
	code, body = g.post(t, "/trds/registrations", testdata(t, "trds/registration.json"))
	if code != 201 {
		t.Fatalf("TRDS: %d %s", code, body)
	}
	var trial struct {
		EventID string `json:"event_id"`
	}
	json.Unmarshal(body, &trial)

	var all []string
	for _, p := range fhirPosted {
		all = append(all, p.id)
	}
	for _, c := range cap.Captured {
		all = append(all, c.EventID)
	}
	all = append(all, trial.EventID, cl.Captured[0].EventID)
	logged := g.waitLogged(t, all, 60*time.Second)
	c := logClient(s)

	// Patients: the bundle's key finds their events on the log.
	for _, p := range fhirPosted {
		if p.patient == "" {
			continue
		}
		code, b := g.get(t, "/patients/"+p.patient+"/bundle", true)
		if code != 200 {
			t.Fatalf("bundle of %s: %d %s", p.patient, code, b)
		}
		bundle, err := client.ParsePatientBundle(b)
		if err != nil {
			t.Fatalf("the bundle of %s does not parse: %v", p.patient, err)
		}
		if bundle.Custodian != s.Org || bundle.Log != s.URL {
			t.Errorf("bundle %s", b)
		}
		key, _ := bundle.TagKey()
		evs, err := c.LookupPatient(ctx(t), key, s.Org)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs, func(e client.Event) bool { return e.ID == p.id && int64(e.Index) == *logged[p.id].Index }) {
			t.Errorf("patient %s: event %s (index %d) not found by the patient lookup", p.patient, p.id, *logged[p.id].Index)
		}
	}
	// Without the token the custodian's API is closed.
	if code, _ := g.get(t, "/patients/example/bundle", false); code != 401 {
		t.Errorf("bundle without a token: %d", code)
	}

	// Packages: the serial tag finds commissioning, shipping and receiving.
	code, b := g.get(t, "/packages/10614141073464/2018", true)
	if code != 200 {
		t.Fatalf("package: %d %s", code, b)
	}
	var pkg struct{ Tag string }
	json.Unmarshal(b, &pkg)
	evs, err := c.Lookup(ctx(t), pkg.Tag)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range evs {
		found = append(found, e.ID)
	}
	for _, cp := range cap.Captured {
		if !slices.Contains(found, cp.EventID) {
			t.Errorf("package lookup: %s not found (found %v)", cp.EventID, found)
		}
	}
	// The trial: its event is at the index the receipt says.
	idx, err := c.EventIndex(ctx(t), trial.EventID)
	if err != nil || int64(idx) != *logged[trial.EventID].Index {
		t.Errorf("trial at %d (%v), receipt says %d", idx, err, *logged[trial.EventID].Index)
	}
	// One package's events reach the log in the order they were accepted.
	for i := 1; i < len(cap.Captured); i++ {
		if *logged[cap.Captured[i].EventID].Index <= *logged[cap.Captured[i-1].EventID].Index {
			t.Errorf("EPCIS event %d logged at %d, before event %d (at %d)", i, *logged[cap.Captured[i].EventID].Index, i-1, *logged[cap.Captured[i-1].EventID].Index)
		}
	}
	// The R5 consent decision names the Consent this gateway logged (the
	// R4 basic example, posted before it): its access carries that
	// consent's event id as its authorization.
	var env struct {
		Envelope string `json:"envelope"`
	}
	_, raw := g.get(t, "/items/"+fhirPosted[10].id, false)
	json.Unmarshal(raw, &env)
	e, err := event.ParseEnvelope([]byte(env.Envelope))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := event.ParseEvent(e.Payload)
	var body10 struct {
		Authorization string `json:"authorization"`
	}
	json.Unmarshal(ev.Body, &body10)
	if body10.Authorization != fhirPosted[4].id {
		t.Errorf("the R5 consent decision's authorization is %q, want the Consent's event %s", body10.Authorization, fhirPosted[4].id)
	}
	// The class-level event carries no serial: found by its event id.
	if idx, err := c.EventIndex(ctx(t), cl.Captured[0].EventID); err != nil || int64(idx) != *logged[cl.Captured[0].EventID].Index {
		t.Errorf("9.6.2 at %d (%v)", idx, err)
	}
	// Metrics, as the other daemons export them.
	if code, m := g.get(t, "/metrics", false); code != 200 || !strings.Contains(string(m), `htlog_gateway_accepted_total{kind="access"}`) ||
		!strings.Contains(string(m), "htlog_gateway_logged_total") || !strings.Contains(string(m), "htlog_gateway_build_info{version=") {
		t.Errorf("/metrics: %d", code)
	}
	// Every stored receipt verifies against the policy and the envelope.
	for _, id := range all {
		st := g.item(t, id)
		var full struct {
			Envelope string `json:"envelope"`
			Receipt  string `json:"receipt"`
		}
		_, raw := g.get(t, "/items/"+id, false)
		json.Unmarshal(raw, &full)
		if _, err := client.VerifyProofFile(s.Policy, []byte(full.Receipt), []byte(full.Envelope)); err != nil {
			t.Errorf("%s (%s): stored receipt: %v", id, st.State, err)
		}
	}
}

// TestRefusedInputStoresNothing: unmappable input gets an OperationOutcome
// or an RFC 7807 problem with its reason, and nothing reaches the log.
func TestRefusedInputStoresNothing(t *testing.T) {
	s := testonly.StartStack(t)
	g := newGateway(t, s, "")
	for _, c := range []struct {
		path, file, ctype string
		status            int
	}{
		{"/fhir/AuditEvent", "fhir-r4/AuditEvent-example-login.json", "application/fhir+json", 422},
		// An R5 Consent whose category gives no scope.
		{"/fhir/Consent", "fhir-r5/Consent-consent-example-basic.json#no-scope", "application/fhir+json", 422},
		{"/fhir", "fhir-r4/Bundle-bundle-transaction.json", "application/fhir+json", 422},
		{"/epcis/events", "epcis/Example_9.6.4-TransformationEvent.jsonld", "application/problem+json", 422},
		// An access 2013 is outside the log's window: the gateway's
		// pre-check refuses it rather than store what the log would refuse.
		{"/fhir/AuditEvent", "fhir-r4/AuditEvent-example-rest.json", "application/fhir+json", 422},
	} {
		doc := testdata(t, strings.TrimSuffix(c.file, "#no-scope"))
		if strings.HasSuffix(c.file, "#no-scope") {
			doc = bytes.Replace(withTimes(t, doc, time.Now()), []byte(`"code":"59284-0"`), []byte(`"code":"11503-0"`), 1)
		}
		code, b := g.post(t, c.path, doc)
		if code != c.status || !strings.Contains(string(b), `"diagnostics"`) && !strings.Contains(string(b), `"detail"`) {
			t.Errorf("%s: %d %s", c.file, code, b)
		}
	}
	code, b := g.post(t, "/fhir/AuditEvent", []byte(strings.Repeat(" ", 5<<20)))
	if code != 413 {
		t.Errorf("a 5 MiB body: %d %s", code, b)
	}
	cp, err := logClient(s).Checkpoint(ctx(t))
	if err == nil && cp.Size != 0 {
		t.Errorf("the log has %d entries after refused input", cp.Size)
	}
}
