// Package montest holds the monitor's test helpers: submitters with keys
// and a registry file, signed canonical envelopes of the four kinds, and
// bodies that pass their schemas, so every monitor test builds its log from
// the same realistic events.
package montest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/registry"
	"github.com/htlog/htlog/internal/testonly"
	"github.com/htlog/htlog/monitor/entrycheck"
	"github.com/htlog/htlog/schemas"
)

// Submitter is a registered organisation with its signing key.
type Submitter struct {
	Org   string
	Kinds []string
	Key   crypto.Signer
	KeyID string
}

// NewSubmitter returns a submitter with a fresh Ed25519 key.
func NewSubmitter(t testing.TB, org string, kinds ...string) *Submitter {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := event.KeyID(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(kinds) == 0 {
		kinds = event.Kinds
	}
	return &Submitter{Org: org, Kinds: kinds, Key: priv, KeyID: id}
}

// NewECDSASubmitter returns a submitter with a fresh ECDSA P-256 key.
func NewECDSASubmitter(t testing.TB, org string) *Submitter {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := event.KeyID(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &Submitter{Org: org, Kinds: event.Kinds, Key: priv, KeyID: id}
}

// RegistryFile writes a registry YAML listing subs and returns its path.
func RegistryFile(t testing.TB, subs ...*Submitter) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("submitters:\n")
	for _, s := range subs {
		der, err := x509.MarshalPKIXPublicKey(s.Key.Public())
		if err != nil {
			t.Fatal(err)
		}
		p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		fmt.Fprintf(&b, "  - org: %q\n    name: test\n    kinds: [%s]\n%s    keys:\n      - public_key: |\n", s.Org, strings.Join(s.Kinds, ", "), testonly.ExampleRights(s.Org))
		for _, l := range strings.Split(strings.TrimSpace(string(p)), "\n") {
			b.WriteString("          " + l + "\n")
		}
	}
	path := filepath.Join(t.TempDir(), "submitters.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Registry writes and loads a registry of subs.
func Registry(t testing.TB, subs ...*Submitter) *registry.Registry {
	t.Helper()
	r, err := registry.Load(RegistryFile(t, subs...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Sign returns the canonical envelope of an event of kind with body,
// occurring at at (truncated to the minute, as the log requires, except
// for trials), superseding supersedes; and its event id.
func (s *Submitter) Sign(t testing.TB, kind string, at time.Time, body any, supersedes ...string) ([]byte, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if kind != "trial" {
		at = at.Truncate(time.Minute) // whole minutes, as the log requires
	}
	ev := event.Event{Kind: kind, Version: schemas.Default(kind), Submitter: event.Submitter{Org: s.Org, KeyID: s.KeyID},
		OccurredAt: at.UTC().Format(time.RFC3339), Supersedes: supersedes, Body: raw}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	env, err := event.Sign(payload, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal(), env.ID()
}

// Tag returns a deterministic tag for name (a patient, agent or serial).
func Tag(name string) string { return event.Tag([]byte("montest"), name) }

// Commit returns a commitment to value.
func Commit(value string) string {
	c, _ := event.Commit([]byte(value))
	return c
}

// Access returns a valid ACCESS body by agent about patient for purpose,
// citing consent (if not empty).
func Access(org, agent, patient, purpose, consent string) map[string]any {
	b := map[string]any{
		"action":         "R",
		"event_type":     map[string]any{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
		"outcome":        "0",
		"purpose_of_use": purpose,
		"agent": map[string]any{
			"role":         map[string]any{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role", "code": "doctor"},
			"organization": org,
			"who":          Tag(agent),
		},
		"source_system": "ehr-fhir",
		"patient":       Tag(patient),
	}
	if consent != "" {
		b["authorization"] = consent
	}
	return b
}

// Consent returns a valid active permit CONSENT by patient to org from
// start on (open-ended).
func Consent(patient, org string, start time.Time) map[string]any {
	return map[string]any{
		"status": "active", "scope": "patient-privacy", "patient": Tag(patient),
		"date_time": start.UTC().Format(time.RFC3339),
		"period":    map[string]any{"start": start.UTC().Format(time.RFC3339)},
		"grantor":   Tag(patient), "grantee": map[string]any{"organization": org}, "decision": "permit",
	}
}

// Revocation returns a CONSENT body revoking grant.
func Revocation(patient, org string, at time.Time, grant string) map[string]any {
	b := Consent(patient, org, at)
	b["status"], b["revokes"] = "inactive", grant
	return b
}

// Custody returns a valid CUSTODY body for one package.
func Custody(step, disposition, serial, expiry string, destinations ...string) map[string]any {
	b := map[string]any{
		"event_type": "ObjectEvent", "epcis_event_id": "urn:uuid:" + uuidLike(serial+step+disposition+strings.Join(destinations, ",")),
		"action": "OBSERVE", "biz_step": step, "disposition": disposition,
		"products":     []any{map[string]any{"gtin": "00312345678906", "serial": Tag(serial), "lot": "L1", "expiry": expiry}},
		"biz_location": "urn:epc:id:sgln:0614141.00001.0",
	}
	if step == "commissioning" {
		b["action"] = "ADD"
	}
	var ds []any
	for _, d := range destinations {
		ds = append(ds, map[string]any{"type": "owning_party", "party": d})
	}
	if ds != nil {
		b["destinations"] = ds
	}
	return b
}

func uuidLike(s string) string {
	h := Tag(s)[7:]
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Sponsor is the sponsor of the trials the helpers below build: one of the
// organisations every montest submitter may act for.
const Sponsor = "gln:0614141123452"

// TrialRegistration returns a valid registration of trial id registered on
// regDate with first enrollment (actual) on enrollDate.
func TrialRegistration(id, regDate, enrollDate string, n int, outcomes ...string) map[string]any {
	var os []any
	for _, o := range outcomes {
		os = append(os, map[string]any{"measure": o, "time_frame": "12 months"})
	}
	return map[string]any{
		"registry_id": id, "subtype": "registration", "registration_date": regDate,
		"protocol_version": "1", "protocol_hash": "sha256:" + strings.Repeat("ab", 32), "sponsor": Sponsor,
		"study_type": "interventional", "phase": "phase_3",
		"first_enrollment":   map[string]any{"date": enrollDate, "type": "actual"},
		"target_sample_size": map[string]any{"n": n, "type": "estimated"},
		"recruitment_status": "recruiting", "primary_outcomes": os,
	}
}

// TrialAmendment returns a valid amendment of trial id changing outcomes
// and the target sample size.
func TrialAmendment(id string, n int, outcomes ...string) map[string]any {
	var os []any
	for _, o := range outcomes {
		os = append(os, map[string]any{"measure": o, "time_frame": "12 months"})
	}
	return map[string]any{
		"registry_id": id, "subtype": "amendment", "protocol_version": "2", "sponsor": Sponsor,
		"protocol_hash":      "sha256:" + strings.Repeat("cd", 32),
		"target_sample_size": map[string]any{"n": n, "type": "estimated"},
		"primary_outcomes":   os,
		"amendment":          map[string]any{"changed_fields": []string{"primary_outcomes", "target_sample_size"}, "reason": "recruitment", "ethics_approval": Commit("IRB-1")},
	}
}

// Checker returns the monitor's entry checker (the log's admission check,
// configured for replay) on reg.
func Checker(t testing.TB, reg *registry.Registry) *entrycheck.Checker {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	c, err := entrycheck.New(entrycheck.Config{Registry: func() *registry.Registry { return reg }, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// SignVersion returns the canonical envelope of an event of kind with the
// JSON body, under schema version, occurring exactly at at (no rounding:
// for tests of what the log refuses).
func (s *Submitter) SignVersion(t testing.TB, kind string, version int, at time.Time, body []byte) []byte {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(event.Event{Kind: kind, Version: version, Submitter: event.Submitter{Org: s.Org, KeyID: s.KeyID},
		OccurredAt: at.UTC().Format(time.RFC3339Nano), Body: compact.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	env, err := event.Sign(payload, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return env.Marshal()
}
