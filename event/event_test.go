package event_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/htlog/htlog/event"
)

func payload(keyID string) []byte {
	return fmt.Appendf(nil, `{"kind":"access","version":1,"submitter":{"org":"npi:1234567893","key_id":%q},"occurred_at":"2026-11-23T10:00:00+01:00","body":{"patient":"tag:v1:%s"}}`, keyID, strings.Repeat("ab", 32))
}

func keys(t *testing.T) map[string]crypto.Signer {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"ed25519": ed, "p256": p}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for name, k := range keys(t) {
		t.Run(name, func(t *testing.T) {
			id, _ := event.KeyID(k.Public())
			env, err := event.Sign(payload(id), k)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := event.ParseEnvelope(env.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if err := parsed.Verify(k.Public()); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if parsed.ID() != env.ID() || !strings.HasPrefix(parsed.ID(), "sha256:") {
				t.Fatalf("id changed: %s vs %s", parsed.ID(), env.ID())
			}
			ev, err := event.ParseEvent(parsed.Payload)
			if err != nil || ev.Submitter.KeyID != id {
				t.Fatalf("parse event: %v", err)
			}
			// Tampering with one payload byte breaks the signature.
			parsed.Payload[len(parsed.Payload)-3] ^= 1
			if err := parsed.Verify(k.Public()); !errors.Is(err, event.ErrBadSignature) {
				t.Fatalf("tampered payload verified: %v", err)
			}
			// Another key does not verify.
			for other, k2 := range keys(t) {
				if err := env.Verify(k2.Public()); err == nil {
					t.Fatalf("%s key verified a %s signature", other, name)
				}
			}
		})
	}
}

func TestParseEnvelopeRejects(t *testing.T) {
	k := keys(t)["ed25519"]
	id, _ := event.KeyID(k.Public())
	env, _ := event.Sign(payload(id), k)
	good := string(env.Marshal())
	sig := fmt.Sprintf(`{"keyid":%q,"sig":"AAAA"}`, id)
	for name, in := range map[string]string{
		"not json":        "hello",
		"trailing data":   good + "{}",
		"unknown field":   strings.Replace(good, `"payloadType"`, `"extra":1,"payloadType"`, 1),
		"duplicate key":   strings.Replace(good, `"payloadType"`, `"payload":"AAAA","payloadType"`, 1),
		"wrong type":      strings.Replace(good, event.PayloadType, "text/plain", 1),
		"two signatures":  `{"payloadType":"` + event.PayloadType + `","payload":"e30=","signatures":[` + sig + "," + sig + `]}`,
		"no signature":    `{"payloadType":"` + event.PayloadType + `","payload":"e30=","signatures":[]}`,
		"bad keyid":       `{"payloadType":"` + event.PayloadType + `","payload":"e30=","signatures":[{"keyid":"AB","sig":"AAAA"}]}`,
		"empty payload":   `{"payloadType":"` + event.PayloadType + `","payload":"","signatures":[` + sig + `]}`,
		"bad base64":      `{"payloadType":"` + event.PayloadType + `","payload":"!!","signatures":[` + sig + `]}`,
		"oversized":       `{"payloadType":"` + strings.Repeat("x", event.MaxEnvelopeSize) + `"}`,
		"array not obj":   "[]",
		"nested dup keys": `{"payloadType":"` + event.PayloadType + `","payload":"e30=","signatures":[{"keyid":"a","keyid":"b","sig":"AAAA"}]}`,
	} {
		if _, err := event.ParseEnvelope([]byte(in)); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestParseEventRejects(t *testing.T) {
	id := strings.Repeat("a", 64)
	good := string(payload(id))
	if _, err := event.ParseEvent([]byte(good)); err != nil {
		t.Fatalf("good event: %v", err)
	}
	for name, tc := range map[string]struct{ old, new, field string }{
		"unknown kind":   {`"access"`, `"billing"`, "kind"},
		"zero version":   {`"version":1`, `"version":0`, "version"},
		"bad org":        {`npi:1234567893`, `Dr Smith`, "submitter.org"},
		"bad key id":     {id, "xyz", "submitter.key_id"},
		"no offset":      {`2026-11-23T10:00:00+01:00`, `2026-11-23T10:00:00`, "occurred_at"},
		"offset +24:00":  {`+01:00`, `+24:00`, "occurred_at"},
		"offset -24:00":  {`+01:00`, `-24:00`, "occurred_at"},
		"offset +23:60":  {`+01:00`, `+23:60`, "occurred_at"},
		"offset +24:59":  {`+01:00`, `+24:59`, "occurred_at"},
		"leap second":    {`10:00:00+01:00`, `23:59:60+01:00`, "occurred_at"},
		"year 0001":      {`2026-11-23`, `0001-01-01`, "occurred_at"},
		"body not obj":   {`"body":{"patient":"tag:v1:` + strings.Repeat("ab", 32) + `"}`, `"body":[1]`, "body"},
		"bad supersedes": {`"body"`, `"supersedes":["nope"],"body"`, "supersedes[0]"},
		"unknown field":  {`"body"`, `"mrn":"12345","body"`, "mrn"},
	} {
		in := strings.Replace(good, tc.old, tc.new, 1)
		_, err := event.ParseEvent([]byte(in))
		if !errors.Is(err, event.ErrMalformed) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want ErrMalformed naming %s", name, err, tc.field)
		}
	}
	// The limits RFC 3339 allows are kept, and every one of them is a time
	// encoding/json can write back.
	for _, at := range []string{"2026-11-23T10:00:00+23:59", "2026-11-23T10:00:00-23:59", "1970-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59-23:59", "2026-11-23T10:00:00.123456789+00:00"} {
		ev, err := event.ParseEvent([]byte(strings.Replace(good, "2026-11-23T10:00:00+01:00", at, 1)))
		if err != nil {
			t.Errorf("%s: %v", at, err)
			continue
		}
		if _, err := ev.Time().MarshalJSON(); err != nil {
			t.Errorf("%s: %v", at, err)
		}
	}
}

func TestTagsAndCommitments(t *testing.T) {
	key := []byte("patient-held key")
	a, b := event.Tag(key, "MRN-0001"), event.Tag(key, "MRN-0001")
	if a != b || !event.IsTag(a) {
		t.Fatalf("tags not deterministic or malformed: %s %s", a, b)
	}
	if event.Tag([]byte("other key"), "MRN-0001") == a || event.Tag(key, "MRN-0002") == a {
		t.Fatal("tag does not depend on key and identifier")
	}
	c, opening := event.Commit([]byte("oncology"))
	if !event.IsCommitment(c) || !event.VerifyCommitment(c, opening, []byte("oncology")) {
		t.Fatal("commitment does not verify")
	}
	if event.VerifyCommitment(c, opening, []byte("cardiology")) {
		t.Fatal("commitment opened to another value")
	}
	c2, _ := event.Commit([]byte("oncology"))
	if c2 == c {
		t.Fatal("two commitments to one value are equal: the opening is not random")
	}
	body := []byte(`{"patient":"` + a + `","agent":{"id":"` + b + `"},"list":["` + event.Tag(key, "x") + `"],"note":"tag:v1:short"}`)
	if got := event.Tags(body); len(got) != 2 {
		t.Fatalf("Tags = %v, want 2 distinct", got)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	id, _ := event.KeyID(k.Public())
	env, _ := event.Sign(payload(id), k)
	f.Add(env.Marshal())
	f.Add([]byte(`{"payloadType":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.ParseEnvelope(data)
		if err != nil {
			return
		}
		// Property: the canonical form parses to the same envelope.
		again, err := event.ParseEnvelope(e.Marshal())
		if err != nil || again.ID() != e.ID() || string(again.Marshal()) != string(e.Marshal()) {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add(payload(strings.Repeat("a", 64)))
	f.Add([]byte(`{"kind":"trial"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := event.ParseEvent(data)
		if err != nil {
			return
		}
		if ev.Time().IsZero() || len(ev.Body) == 0 {
			t.Fatalf("accepted an event without a time or body: %q", data)
		}
	})
}

// TestFieldNamesAreCaseSensitive: encoding/json would read "KIND" as kind;
// a stricter parser would not, so two readers could see two events.
func TestFieldNamesAreCaseSensitive(t *testing.T) {
	id := strings.Repeat("a", 64)
	good := string(payload(id))
	for name, in := range map[string]string{
		"upper-case twin":  strings.Replace(good, `"version":1`, `"version":1,"KIND":"trial"`, 1),
		"only upper case":  strings.Replace(good, `"kind"`, `"Kind"`, 1),
		"nested submitter": strings.Replace(good, `"org"`, `"ORG"`, 1),
	} {
		if _, err := event.ParseEvent([]byte(in)); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	k := keys(t)["ed25519"]
	kid, _ := event.KeyID(k.Public())
	env, _ := event.Sign(payload(kid), k)
	for name, in := range map[string]string{
		"envelope":  strings.Replace(string(env.Marshal()), `"payloadType"`, `"PayloadType"`, 1),
		"signature": strings.Replace(string(env.Marshal()), `"keyid"`, `"KeyID"`, 1),
	} {
		if _, err := event.ParseEnvelope([]byte(in)); !errors.Is(err, event.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := event.ParseEvent([]byte(good)); err != nil {
		t.Fatalf("good event: %v", err)
	}
}
