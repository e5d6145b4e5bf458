package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/schemas"
)

const org = "npi:1234567893"

var workforceKey = []byte("0123456789abcdef0123456789abcdef")

func testMapper(t testing.TB) (*Mapper, *mapping.MemKeys) {
	keys := mapping.NewMemKeys()
	return New(mapping.Config{Org: org, WorkforceKey: workforceKey, SourceSystem: "ehr-fhir",
		SourceSystems: []string{"hl7connect.healthintersections.com.au"}, DefaultPurpose: "TREAT",
		DefaultAgentRole: "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor"}, keys), keys
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// body returns the item's body as the log would see it, validated against
// its schema.
func body(t *testing.T, v *schemas.Validator, it mapping.Item) map[string]any {
	t.Helper()
	b, err := json.Marshal(it.Body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v.ValidateDecoded(it.Kind, it.Version, b)
	if err != nil {
		t.Fatalf("%s: the mapped body is not valid under %s v%d: %v\n%s", it.Source, it.Kind, it.Version, err, b)
	}
	return m
}

// opens reports whether the item keeps an opening revealing value in commitment.
func opens(it mapping.Item, commitment any, patient, value string) bool {
	for _, o := range it.Openings {
		if o.Commitment == commitment && o.Patient == patient && o.Value == value && event.VerifyCommitment(o.Commitment, o.Opening, []byte(o.Value)) {
			return true
		}
	}
	return false
}

// TestPublishedExamples maps every AuditEvent, Consent and Bundle example
// published with FHIR R4 and R5 and the IHE BALP guide: each either maps to
// a body valid under its schema, or is refused at the field that cannot be
// mapped.
func TestPublishedExamples(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{
		// No patient: a login, a logout, an application start, a failed
		// transaction and a search with no patient are not accesses to a
		// patient's record.
		"fhir-r4/AuditEvent-example-login.json":  "AuditEvent.entity",
		"fhir-r4/AuditEvent-example-logout.json": "AuditEvent.entity",
		"fhir-r4/AuditEvent-example.json":        "AuditEvent.entity",
		"fhir-r4/AuditEvent-example-error.json":  "AuditEvent.entity",
		"fhir-r4/AuditEvent-example-search.json": "AuditEvent.entity",
		// The transaction example carries a Patient and other resources.
		"fhir-r4/Bundle-bundle-transaction.json": "Bundle.entry[0].resourceType",
	}
	files, _ := filepath.Glob("../testdata/fhir-r*/*.json")
	balp, _ := filepath.Glob("../testdata/balp/*.json")
	files = append(files, balp...)
	if len(files) < 28 {
		t.Fatalf("found %d example files, want the published set", len(files))
	}
	mapped := 0
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f), "../testdata/")
		m, _ := testMapper(t)
		items, err := m.Map(context.Background(), "", read(t, name))
		if path, ok := refused[name]; ok {
			me, isME := err.(*mapping.Error)
			if !isME || me.Path != path || me.Status/100 != 4 {
				t.Errorf("%s: got %v, want a 4xx refusal at %s", name, err, path)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, it := range items {
			b := body(t, v, it)
			if !event.IsTag(b["patient"].(string)) || !strings.HasPrefix(it.Subject, "patient:Patient") {
				t.Errorf("%s: patient %v, subject %q", name, b["patient"], it.Subject)
			}
			raw, _ := json.Marshal(it.Body)
			for _, clear := range []string{"Grahame", "Grieve", "John Smith", "van de Heuvel", "Patient/", "SomeIdiot", "Practitioner/"} {
				if strings.Contains(string(raw), clear) {
					t.Errorf("%s: the mapped body holds %q in clear", name, clear)
				}
			}
			mapped++
		}
	}
	if mapped < 15 {
		t.Errorf("only %d examples mapped", mapped)
	}
}

// TestAuditEventRest checks the R4 REST read example field by field.
func TestAuditEventRest(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, keys := testMapper(t)
	items, err := m.Map(context.Background(), "AuditEvent", read(t, "fhir-r4/AuditEvent-example-rest.json"))
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	b := body(t, v, it)
	pkey, _ := keys.PatientKey(context.Background(), "Patient/example")
	agents := b["agents"].([]any)
	agent := agents[0].(map[string]any)
	want := map[string]any{
		"action":         "R",
		"outcome":        "0",
		"purpose_of_use": "TREAT",                                 // no purposeOfEvent: the configured default
		"source_system":  "hl7connect.healthintersections.com.au", // a declared source system
		"patient":        event.PatientTag(pkey, org),             // the entity Patient/example/_history/1
	}
	for k, w := range want {
		if b[k] != w {
			t.Errorf("%s = %v, want %v", k, b[k], w)
		}
	}
	if et := b["event_type"].(map[string]any); et["code"] != "rest" || et["system"] != "http://terminology.hl7.org/CodeSystem/audit-event-type" {
		t.Errorf("event_type = %v", et)
	}
	if agent["who"] != event.Tag(workforceKey, "workforce:|95") || agent["organization"] != org {
		t.Errorf("agent = %v: want the requestor (identifier 95) tagged under the workforce key", agent)
	}
	if role := agent["role"].(map[string]any); role["code"] != "doctor" {
		t.Errorf("agent.role = %v: humanuser is not in agent-role, so the default", role)
	}
	if it.OccurredAt != "2013-06-20T23:42:00Z" || b["recorded"] != "2013-06-20T23:42:00Z" || it.Source != "AuditEvent/example-rest" || it.Version != 3 {
		t.Errorf("occurred_at %s recorded %v source %s version %d", it.OccurredAt, b["recorded"], it.Source, it.Version)
	}
	// Both agents: the user (requestor) and the source application.
	if len(agents) != 2 || agent["requestor"] != true || agent["kind"] != "user" {
		t.Fatalf("agents = %v", agents)
	}
	app := agents[1].(map[string]any)
	if app["kind"] != "application" || app["requestor"] != false || app["who"] != event.Tag(workforceKey, "workforce:urn:oid:2.16.840.1.113883.4.2|2.16.840.1.113883.4.2") {
		t.Errorf("second agent = %v", app)
	}
	if ty := agent["type"].(map[string]any); ty["code"] != "humanuser" {
		t.Errorf("requestor type = %v", ty)
	}
	if subs := b["subtypes"].([]any); len(subs) != 1 || subs[0].(map[string]any)["code"] != "vread" {
		t.Errorf("subtypes = %v", subs)
	}
	// The entity Patient/example/_history/1 (System Object, no role) has no
	// entity-role code: it stays in data_class only.
	if _, ok := b["entities"]; ok {
		t.Errorf("entities = %v", b["entities"])
	}
	if _, ok := b["disclosure"]; ok {
		t.Error("a read is not a disclosure")
	}
}

// TestAuditEventDisclosure checks the R4 disclosure example: a disclosure
// with its HIPAA basis, recipient and description committed, openings kept
// for the patient.
func TestAuditEventDisclosure(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, _ := testMapper(t)
	items, err := m.Map(context.Background(), "AuditEvent", read(t, "fhir-r4/AuditEvent-example-disclosure.json"))
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	b := body(t, v, it)
	d := b["disclosure"].(map[string]any)
	if d["flag"] != true || d["basis"] != "authorization" || b["purpose_of_use"] != "HMARKT" {
		t.Errorf("disclosure = %v, purpose %v: marketing needs the patient's authorization", d, b["purpose_of_use"])
	}
	if !opens(it, d["recipient"], "Patient/example", "Practitioner/example") {
		t.Error("no opening of the recipient (the Destination Role ID agent) for the patient")
	}
	if !opens(it, b["data_class"], "Patient/example", "2 Patient/example/_history/1") {
		t.Errorf("no opening of the data class; openings %v", it.Openings)
	}
	if role := b["agents"].([]any)[0].(map[string]any)["role"].(map[string]any); role["code"] != "110153" {
		t.Errorf("agent.role = %v, want the requestor's own type (DCM 110153)", role)
	}
	// The patient entity and the patient's record entity, typed and
	// committed.
	ents := b["entities"].([]any)
	if len(ents) != 2 || !opens(it, ents[0].(map[string]any)["what"], "Patient/example", "Patient/example") {
		t.Errorf("entities = %v", ents)
	}
}

// TestAuditEventR5: the R5 examples map as their R4 forms do: the R5 REST
// read gives the R4 one's fields, the break-glass start its ETREAT purpose,
// the consent decision its authorization.
func TestAuditEventR5(t *testing.T) {
	v, _ := schemas.NewValidator()
	ctx := context.Background()
	m, keys := testMapper(t)
	r4, err := m.Map(ctx, "AuditEvent", read(t, "fhir-r4/AuditEvent-example-rest.json"))
	if err != nil {
		t.Fatal(err)
	}
	r5, err := m.Map(ctx, "AuditEvent", read(t, "fhir-r5/AuditEvent-example-rest.json"))
	if err != nil {
		t.Fatal(err)
	}
	b4, b5 := body(t, v, r4[0]), body(t, v, r5[0])
	for _, k := range []string{"action", "outcome", "patient", "purpose_of_use", "recorded"} {
		if b4[k] != b5[k] {
			t.Errorf("%s: R4 %v, R5 %v", k, b4[k], b5[k])
		}
	}
	a4, a5 := b4["agents"].([]any), b5["agents"].([]any)
	if len(a4) != len(a5) || a4[0].(map[string]any)["who"] != a5[0].(map[string]any)["who"] || a4[1].(map[string]any)["who"] != a5[1].(map[string]any)["who"] {
		t.Errorf("agents: R4 %v, R5 %v", a4, a5)
	}
	if r5[0].OccurredAt != r4[0].OccurredAt || r5[0].Source != "AuditEvent/example-rest" {
		t.Errorf("R5 occurred_at %s source %s", r5[0].OccurredAt, r5[0].Source)
	}

	bg, err := m.Map(ctx, "AuditEvent", read(t, "fhir-r5/AuditEvent-example-breakglass-start.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, v, bg[0])
	req := b["agents"].([]any)[0].(map[string]any)
	if b["purpose_of_use"] != "ETREAT" || req["who"] != event.Tag(workforceKey, "workforce:Practitioner/f001") || req["kind"] != "user" {
		t.Errorf("break-glass: %v", b)
	}

	grant := "sha256:" + strings.Repeat("cd", 32)
	keys.SetEvent("Consent/consent-example-basic", grant)
	authz, err := m.Map(ctx, "AuditEvent", read(t, "fhir-r5/AuditEvent-example-consent-permit-authz.json"))
	if err != nil {
		t.Fatal(err)
	}
	b = body(t, v, authz[0])
	pkey, _ := keys.PatientKey(ctx, "Patient/example")
	if b["authorization"] != grant || b["purpose_of_use"] != "TREAT" || b["patient"] != event.PatientTag(pkey, org) {
		t.Errorf("consent-permit-authz: %v", b)
	}
}

// TestAuditEventV2 maps onto access version 2 (one agent) when configured.
func TestAuditEventV2(t *testing.T) {
	v, _ := schemas.NewValidator()
	m := New(mapping.Config{Org: org, WorkforceKey: workforceKey, SourceSystem: "ehr-fhir", DefaultPurpose: "TREAT",
		DefaultAgentRole: "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor", AccessVersion: 2}, mapping.NewMemKeys())
	items, err := m.Map(context.Background(), "AuditEvent", read(t, "balp/AuditEvent-ex-auditBasicReadServer.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, v, items[0])
	if items[0].Version != 2 || b["agent"].(map[string]any)["who"] != event.Tag(workforceKey, "workforce:John Smith") || b["recorded"] != nil {
		t.Errorf("version %d body %v", items[0].Version, b)
	}
}

// TestAuditEventRefusals: what cannot be mapped is refused at its field.
func TestAuditEventRefusals(t *testing.T) {
	base := string(read(t, "balp/AuditEvent-ex-auditBasicReadServer.json"))
	cases := []struct{ name, from, to, path string }{
		{"no action", `"action": "R",`, ``, "AuditEvent.action"},
		{"event type outside the value set", `"code": "rest"`, `"code": "batch"`, "AuditEvent.type"},
		{"no time zone", `"recorded": "2020-04-29T09:49:00.000Z"`, `"recorded": "2020-04-29T09:49:00"`, "AuditEvent"},
		{"not JSON", `{`, `[`, ""},
	}
	for _, c := range cases {
		m, _ := testMapper(t)
		_, err := m.Map(context.Background(), "AuditEvent", []byte(strings.Replace(base, c.from, c.to, 1)))
		me, ok := err.(*mapping.Error)
		if !ok || !strings.HasPrefix(me.Path, c.path) || me.Status/100 != 4 {
			t.Errorf("%s: got %v, want a refusal at %s", c.name, err, c.path)
		}
	}
	// Without defaults, an AuditEvent that states no purpose or role is refused.
	m := New(mapping.Config{Org: org, WorkforceKey: workforceKey, SourceSystem: "ehr-fhir"}, mapping.NewMemKeys())
	if _, err := m.Map(context.Background(), "AuditEvent", []byte(base)); err == nil || !strings.Contains(err.Error(), "default") {
		t.Errorf("no defaults: got %v", err)
	}
	if _, err := m.Map(context.Background(), "Consent", []byte(base)); err == nil {
		t.Error("an AuditEvent posted as a Consent was taken")
	}
}

// TestConsentBasic checks the R4 basic consent field by field.
func TestConsentBasic(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, keys := testMapper(t)
	items, err := m.Map(context.Background(), "Consent", read(t, "fhir-r4/Consent-consent-example-basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	b := body(t, v, it)
	pkey, _ := keys.PatientKey(context.Background(), "Patient/f001")
	tag := event.PatientTag(pkey, org)
	if b["status"] != "active" || b["scope"] != "patient-privacy" || b["decision"] != "permit" || b["patient"] != tag || b["grantor"] != tag {
		t.Errorf("body = %v", b)
	}
	if b["date_time"] != "2016-05-11T00:00:00Z" || it.OccurredAt != "2016-05-11T00:00:00Z" {
		t.Errorf("date_time %v occurred_at %s: a FHIR date is its midnight UTC", b["date_time"], it.OccurredAt)
	}
	per := b["period"].(map[string]any)
	if per["start"] != "1964-01-01T00:00:00Z" || per["end"] != "2016-01-01T00:00:00Z" {
		t.Errorf("period = %v", per)
	}
	if g := b["grantee"].(map[string]any); g["organization"] != org {
		t.Errorf("grantee = %v: an organization reference without NPI or GLN is the custodian", g)
	}
	if p := b["policy"].([]any); len(p) != 1 || p[0].(map[string]any)["code"] != "OPTIN" {
		t.Errorf("policy = %v", p)
	}
	if _, ok := b["source_document"].(string); !ok {
		t.Error("no source_document commitment for the sourceAttachment")
	}
	raw, _ := json.Marshal(it.Body)
	if strings.Contains(string(raw), "example.org") || strings.Contains(string(raw), "f001") {
		t.Errorf("identifiers in clear: %s", raw)
	}
}

// TestConsentRevocation: an inactive Consent revokes the grant of the same
// id that the gateway logged, and only that.
func TestConsentRevocation(t *testing.T) {
	m, keys := testMapper(t)
	inactive := strings.Replace(string(read(t, "fhir-r4/Consent-consent-example-basic.json")), `"status": "active"`, `"status": "inactive"`, 1)
	if _, err := m.Map(context.Background(), "Consent", []byte(inactive)); err == nil || !strings.Contains(err.Error(), "logged none") {
		t.Fatalf("revoking an unknown grant: %v", err)
	}
	grant := "sha256:" + strings.Repeat("ab", 32)
	keys.SetEvent("Consent/consent-example-basic", grant)
	items, err := m.Map(context.Background(), "Consent", []byte(inactive))
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Body["revokes"] != grant || len(items[0].Supersedes) != 1 || items[0].Supersedes[0] != grant {
		t.Errorf("revokes %v supersedes %v", items[0].Body["revokes"], items[0].Supersedes)
	}
}

// TestBundle maps a transaction Bundle of published examples, all or none.
func TestBundle(t *testing.T) {
	ae, cs := read(t, "balp/AuditEvent-ex-auditBasicReadServer.json"), read(t, "fhir-r4/Consent-consent-example-notThis.json")
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + string(ae) + `,"request":{"method":"POST","url":"AuditEvent"}},{"resource":` + string(cs) + `,"request":{"method":"POST","url":"Consent"}}]}`
	m, _ := testMapper(t)
	items, err := m.Map(context.Background(), "Bundle", []byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Kind != "access" || items[1].Kind != "consent" {
		t.Fatalf("items = %v", items)
	}
	bad := strings.Replace(bundle, `"resourceType": "Consent"`, `"resourceType": "Observation"`, 1)
	if _, err := m.Map(context.Background(), "Bundle", []byte(bad)); err == nil || !strings.HasPrefix(err.(*mapping.Error).Path, "Bundle.entry[1]") {
		t.Errorf("a Bundle with an unmappable entry: %v", err)
	}
	del := strings.Replace(bundle, `"method":"POST","url":"Consent"`, `"method":"DELETE","url":"Consent/x"`, 1)
	if _, err := m.Map(context.Background(), "Bundle", []byte(del)); err == nil {
		t.Error("a DELETE entry was taken")
	}
}

// FuzzMap: whatever the input, Map returns items valid under their schema
// (or a 4xx/5xx *mapping.Error) and never panics.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("../testdata/*/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Bundle"}}]}`))
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, _ := testMapper(t)
		m3, _ := testMapperV3(t) // consent v3
		var items []mapping.Item
		for _, m := range []*Mapper{m, m3} {
			its, err := m.Map(context.Background(), "", in)
			if err != nil {
				if _, ok := err.(*mapping.Error); !ok {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			items = append(items, its...)
		}
		for _, it := range items {
			b, _ := json.Marshal(it.Body)
			if _, err := v.ValidateDecoded(it.Kind, it.Version, b); err != nil {
				// The log would refuse it; the server's admission
				// pre-check refuses it before acceptance. What the
				// mapper must never do is put a name in clear.
				if strings.Contains(string(b), "Patient/") {
					t.Fatalf("a patient reference in clear: %s", b)
				}
			}
		}
	})
}

// BenchmarkMapAuditEvent measures decoding (samply's R4 model) and mapping
// of the BALP read example, keys in memory.
func BenchmarkMapAuditEvent(b *testing.B) {
	in := read(b, "balp/AuditEvent-ex-auditBasicReadServer.json")
	m, _ := testMapper(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Map(context.Background(), "AuditEvent", in); err != nil {
			b.Fatal(err)
		}
	}
}

func testMapperV3(t testing.TB) (*Mapper, *mapping.MemKeys) {
	keys := mapping.NewMemKeys()
	return New(mapping.Config{Org: org, WorkforceKey: workforceKey, SourceSystem: "ehr-fhir", ConsentVersion: 3}, keys), keys
}

var pseudonymRE = regexp.MustCompile(`(commit|tag):v1:[0-9a-f]{64}`)

// TestConsentV3 maps the FHIR R4 form of schema consent v3's treatment
// example back to it: controller, provision periods, actors by role (one
// named, as the tag its ACCESS events carry), purposes, security labels in
// clear and other data classes as commitments the gateway can open.
func TestConsentV3(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, keys := testMapperV3(t)
	items, err := m.Map(context.Background(), "Consent", read(t, "consent-v3/Consent-treatment-grant-deny-one-person.json"))
	if err != nil {
		t.Fatal(err)
	}
	it := items[0]
	if it.Version != 3 {
		t.Fatalf("version %d", it.Version)
	}
	b := body(t, v, it)
	want, err := os.ReadFile("../../schemas/examples/v3/consent/valid-treatment-grant-deny-one-person.json")
	if err != nil {
		t.Fatal(err)
	}
	var w map[string]any
	json.Unmarshal(want, &w)
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(b)
	if g, w := pseudonymRE.ReplaceAllString(string(gb), "P"), pseudonymRE.ReplaceAllString(string(wb), "P"); g != w {
		t.Errorf("mapped\n%s\nwant\n%s", g, w)
	}
	pkey, _ := keys.PatientKey(context.Background(), "Patient/p42")
	if b["patient"] != event.PatientTag(pkey, org) || b["grantor"] != b["patient"] || b["controller"] != org {
		t.Errorf("patient %v grantor %v controller %v", b["patient"], b["grantor"], b["controller"])
	}
	provs := b["provisions"].([]any)
	named := provs[1].(map[string]any)["actors"].([]any)[0].(map[string]any)["person"]
	if named != event.Tag(workforceKey, "workforce:Practitioner/dr-ex-partner") {
		t.Errorf("the denied doctor is %v, not the tag of their ACCESS events", named)
	}
	class := provs[2].(map[string]any)["data_class"].([]any)[0]
	if !opens(it, class, "Patient/p42", "http://hl7.org/fhir/resource-types|DiagnosticReport") {
		t.Errorf("no opening of the data class %v", class)
	}
	if !opens(it, b["source_document"], "Patient/p42", "https://ehr.example.org/consents/p42-2025-03-14.pdf|Privacy consent|") {
		t.Error("no opening of the source document")
	}
	if len(it.Openings) != 2 {
		t.Errorf("%d openings, want 2 (class, source document)", len(it.Openings))
	}
	if strings.Contains(string(gb), "dr-ex-partner") || strings.Contains(string(gb), "p42") {
		t.Errorf("identifiers in clear: %s", gb)
	}
}

// TestConsentV3Examples maps every published R4 Consent to version 3: each
// maps to a valid body, or is refused at an actor whose role is not of
// value set agent-role (the examples use v3-ParticipationType) rather than
// widened to every role.
func TestConsentV3Examples(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, keys := testMapperV3(t)
	keys.SetEvent("Consent/consent-example-basic", "sha256:"+strings.Repeat("ab", 32))
	files, _ := filepath.Glob("../testdata/fhir-r4/Consent-*.json")
	mapped := 0
	for _, f := range files {
		in, _ := os.ReadFile(f)
		var r map[string]any
		json.Unmarshal(in, &r)
		hasActors := strings.Contains(string(in), `"actor"`)
		items, err := m.Map(context.Background(), "Consent", in)
		if err != nil {
			me, ok := err.(*mapping.Error)
			if !ok || me.Status != 422 || !hasActors || !strings.HasSuffix(me.Path, ".role") || !strings.Contains(me.Reason, "agent-role") {
				t.Errorf("%s: %v", filepath.Base(f), err)
			}
			continue
		}
		if hasActors {
			t.Errorf("%s: mapped although its actors' roles are not of agent-role", filepath.Base(f))
		}
		body(t, v, items[0])
		mapped++
	}
	if mapped < 3 {
		t.Errorf("only %d examples mapped", mapped)
	}
	// The same refusal names the field; with an agent-role role the actor
	// (an organisation reference without an NPI or GLN) is refused too.
	in := read(t, "fhir-r4/Consent-consent-example-notThem.json")
	_, err := m.Map(context.Background(), "Consent", in)
	if me, ok := err.(*mapping.Error); !ok || me.Path != "Consent.provision.actor[0].role" {
		t.Errorf("notThem: %v", err)
	}
	fixed := strings.Replace(strings.Replace(string(in), `"http://terminology.hl7.org/CodeSystem/v3-ParticipationType"`,
		`"http://terminology.hl7.org/CodeSystem/practitioner-role"`, 1), `"code": "PRCP"`, `"code": "nurse"`, 1)
	if fixed == string(in) {
		t.Fatal("the role replacement did not apply")
	}
	items, err := m.Map(context.Background(), "Consent", []byte(fixed))
	if err != nil {
		t.Fatalf("notThem with a nurse role: %v", err)
	}
	b := body(t, v, items[0])
	a := b["provisions"].([]any)[0].(map[string]any)["actors"].([]any)[0].(map[string]any)
	if a["person"] != event.Tag(workforceKey, "workforce:Practitioner/f204") {
		t.Errorf("actor %v", a)
	}
	orgActor := strings.Replace(fixed, `"reference": "Practitioner/f204"`, `"reference": "Organization/f001"`, 1)
	if _, err := m.Map(context.Background(), "Consent", []byte(orgActor)); err == nil || !strings.HasSuffix(err.(*mapping.Error).Path, ".reference") {
		t.Errorf("an organisation actor without NPI or GLN: %v", err)
	}
}

// TestConsentV3Revocation: the v3 revocation example's shape.
func TestConsentV3Revocation(t *testing.T) {
	v, _ := schemas.NewValidator()
	m, keys := testMapperV3(t)
	grant := "sha256:" + strings.Repeat("cd", 32)
	keys.SetEvent("Consent/consent-example-basic", grant)
	inactive := strings.Replace(string(read(t, "fhir-r4/Consent-consent-example-basic.json")), `"status": "active"`, `"status": "inactive"`, 1)
	items, err := m.Map(context.Background(), "Consent", []byte(inactive))
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, v, items[0])
	if b["revokes"] != grant || b["status"] != "inactive" || items[0].Version != 3 {
		t.Errorf("body %v", b)
	}
}

// TestConsentR5: the R5 Consent examples map as R4 Consents would: scope
// from the category, decision and period from the root provision, nested
// provisions as exceptions (the Emergency example's ETREAT permit inside a
// deny), the same fields as the R4 example of the same name; a consent not
// done and one with no category htlog reads a scope from are refused at
// their field.
func TestConsentR5(t *testing.T) {
	v, _ := schemas.NewValidator()
	ctx := context.Background()
	m, _ := testMapper(t)
	one := func(name string) map[string]any {
		t.Helper()
		items, err := m.Map(ctx, "Consent", read(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return body(t, v, items[0])
	}
	basic := one("fhir-r5/Consent-consent-example-basic.json")
	period, _ := basic["period"].(map[string]any)
	if basic["scope"] != "patient-privacy" || basic["decision"] != "deny" || basic["status"] != "active" ||
		period["start"] != "1964-01-01T00:00:00Z" || period["end"] != "2019-01-01T00:00:00Z" || basic["date_time"] != "2018-12-28T00:00:00Z" {
		t.Errorf("basic: %v", basic)
	}
	emergency := one("fhir-r5/Consent-consent-example-Emergency.json")
	provs, _ := emergency["provisions"].([]any)
	if emergency["decision"] != "deny" || len(provs) != 1 {
		t.Fatalf("Emergency: %v", emergency)
	}
	if p := provs[0].(map[string]any); p["decision"] != "permit" || fmt.Sprint(p["purpose"]) != "[ETREAT]" {
		t.Errorf("Emergency's exception: %v", p)
	}
	r4, r5 := one("fhir-r4/Consent-consent-example-notThem.json"), one("fhir-r5/Consent-consent-example-notThem.json")
	// (R4's carries policyRule OPTIN, R5's only regulatoryBasis INFA: no
	// policy code either way to compare.)
	for _, k := range []string{"status", "scope", "decision", "category"} {
		if fmt.Sprint(r4[k]) != fmt.Sprint(r5[k]) {
			t.Errorf("notThem %s: R4 %v, R5 %v", k, r4[k], r5[k])
		}
	}
	base := string(read(t, "fhir-r5/Consent-consent-example-basic.json"))
	for _, c := range []struct{ from, to, path string }{
		{`"status":"active"`, `"status":"not-done"`, "Consent.status"},
		{`"status":"active"`, `"status":"unknown"`, "Consent.status"},
		{`"code":"59284-0"`, `"code":"11503-0"`, "Consent.category"},
		{`"decision":"deny"`, `"decision":"maybe"`, "Consent.decision"},
	} {
		doc := strings.Replace(base, c.from, c.to, 1)
		if doc == base {
			t.Fatalf("%q is not in the example", c.from)
		}
		_, err := m.Map(ctx, "Consent", []byte(doc))
		if me, ok := err.(*mapping.Error); !ok || me.Path != c.path || me.Status/100 != 4 {
			t.Errorf("%s: got %v, want a 4xx refusal at %s", c.to, err, c.path)
		}
	}
}
