package event_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/schemas"
)

// TestBuilder builds events with both key types and checks what a reader
// of the log checks: the envelope parses from its canonical bytes, the
// signature verifies with the submitter's public key, and the payload
// carries the builder's organisation and key id, the draft's fields and the
// defaults (latest schema version, now to the minute).
func TestBuilder(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	patientKey := event.NewTagKey()
	for name, key := range map[string]crypto.Signer{"ed25519": edKey, "p256": ecKey} {
		t.Run(name, func(t *testing.T) {
			b, err := event.NewBuilder("npi:1234567893", key)
			if err != nil {
				t.Fatal(err)
			}
			wantID, _ := event.KeyID(key.Public())
			if b.KeyID() != wantID || b.Org() != "npi:1234567893" {
				t.Fatalf("builder has key id %s org %s", b.KeyID(), b.Org())
			}
			before := time.Now().UTC().Truncate(time.Minute)
			env, err := b.Build(event.Draft{Kind: "access", Body: map[string]string{"patient": b.PatientTag(patientKey)},
				Supersedes: []string{"sha256:" + strings.Repeat("ab", 32)}})
			if err != nil {
				t.Fatal(err)
			}
			parsed, canonical, err := event.ParseEnvelopeCanonical(env.Marshal())
			if err != nil || !canonical {
				t.Fatalf("the built envelope does not parse canonically: %v", err)
			}
			if err := parsed.Verify(key.Public()); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if parsed.Signatures[0].KeyID != wantID || parsed.ID() != env.ID() {
				t.Errorf("envelope key id %s id %s", parsed.Signatures[0].KeyID, parsed.ID())
			}
			ev, err := event.ParseEvent(parsed.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Submitter != (event.Submitter{Org: "npi:1234567893", KeyID: wantID}) || ev.Kind != "access" ||
				ev.Version != schemas.Default("access") || len(ev.Supersedes) != 1 {
				t.Errorf("event %+v", ev)
			}
			if at := ev.Time(); at.Before(before) || at.After(time.Now()) || at.Second() != 0 || at.Nanosecond() != 0 {
				t.Errorf("default occurred_at %s: want now to the minute", ev.OccurredAt)
			}
			if tags := event.Tags(ev.Body); len(tags) != 1 || tags[0] != event.PatientTag(patientKey, "npi:1234567893") {
				t.Errorf("body tags %v", tags)
			}
		})
	}
}

// TestBuilderBodies checks the forms a body may take all give the same
// payload, and what Build refuses.
func TestBuilderBodies(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	b, err := event.NewBuilder("gln:0614141000005", key)
	if err != nil {
		t.Fatal(err)
	}
	at := "2026-11-23T10:00:00Z"
	var payloads []string
	for _, body := range []any{
		[]byte("{\n  \"a\": \"b\"\n}"),
		json.RawMessage(`{"a":"b"}`),
		map[string]string{"a": "b"},
		struct {
			A string `json:"a"`
		}{"b"},
	} {
		env, err := b.Build(event.Draft{Kind: "custody", Version: 1, OccurredAt: at, Body: body})
		if err != nil {
			t.Fatalf("%T: %v", body, err)
		}
		payloads = append(payloads, string(env.Payload))
	}
	for _, p := range payloads[1:] {
		if p != payloads[0] {
			t.Errorf("payload %s, want %s", p, payloads[0])
		}
	}
	for name, d := range map[string]event.Draft{
		"no body":       {Kind: "access", OccurredAt: at},
		"not JSON":      {Kind: "access", OccurredAt: at, Body: []byte("{")},
		"not an object": {Kind: "access", OccurredAt: at, Body: []string{"a"}},
		"unknown kind":  {Kind: "gossip", OccurredAt: at, Body: []byte("{}")},
		"bad time":      {Kind: "access", OccurredAt: "yesterday", Body: []byte("{}")},
		"bad supersede": {Kind: "access", OccurredAt: at, Body: []byte("{}"), Supersedes: []string{"x"}},
	} {
		if _, err := b.Build(d); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := event.NewBuilder("not an org", key); err == nil {
		t.Error("NewBuilder accepts a malformed organisation id")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := event.NewBuilder("npi:1234567893", p384); err == nil {
		t.Error("NewBuilder accepts a P-384 key")
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := event.NewBuilder("npi:1234567893", rsaKey); err == nil {
		t.Error("NewBuilder accepts an RSA key")
	}
}

// opaqueSigner hides its key's type, as a hardware token's signer does; it
// signs wrongly when bad is set.
type opaqueSigner struct {
	key crypto.Signer
	bad bool
}

func (o opaqueSigner) Public() crypto.PublicKey { return o.key.Public() }

func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if o.bad {
		digest = append([]byte{1}, digest[1:]...)
	}
	return o.key.Sign(r, digest, opts)
}

// TestBuilderOpaqueSigner: a signer known only by its public key (Ed25519
// or P-256) builds envelopes that verify; one that signs wrongly, or holds
// another kind of key, is refused by NewBuilder.
func TestBuilderOpaqueSigner(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	body := []byte(`{"x":1}`)
	for name, key := range map[string]crypto.Signer{"ed25519": edKey, "p256": ecKey} {
		b, err := event.NewBuilder("npi:1234567893", opaqueSigner{key: key})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		env, err := b.Build(event.Draft{Kind: "access", Body: body})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := env.Verify(key.Public()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := event.NewBuilder("npi:1234567893", opaqueSigner{key: key, bad: true}); err == nil {
			t.Errorf("%s: a signer that signs wrongly was accepted", name)
		}
	}
	if _, err := event.NewBuilder("npi:1234567893", opaqueSigner{key: p384}); err == nil {
		t.Error("a P-384 signer was accepted")
	}
}
