package client_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/htlog/htlog/client"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/testonly"
)

// TestEnumerationFindsOnlyTheKeysOwnPatient is the re-identification attack
// of issue 13 on a real log: a patient holding their own tag key tags
// 10,000 candidate medical record numbers (and every tag derivation htlog
// knows) and matches them against every tag on the public log. With one
// key per patient it finds that patient's events and nobody else's. The
// same attack with one key per custodian, as htlog handed out before,
// finds every patient: the test would catch a return to it.
func TestEnumerationFindsOnlyTheKeysOwnPatient(t *testing.T) {
	s := testonly.StartStack(t)
	c := &client.Client{URL: s.URL, Policy: s.Policy, Origin: s.Origin}
	const patients = 12
	keys := make([][]byte, patients)
	mrns := make([]string, patients)
	example := testonly.Example(t, "access", "valid-routine-read.json")
	for i := range keys {
		keys[i] = event.NewTagKey()
		mrns[i] = fmt.Sprintf("MRN-%07d", 1000+i*37) // inside the attacker's candidate range
		var m map[string]any
		json.Unmarshal(testonly.FreshTags(example), &m)
		m["patient"] = event.PatientTag(keys[i], s.Org)
		body, _ := json.Marshal(m)
		if _, _, err := c.SubmitAsync(ctx(t), s.Envelope(t, "access", body, testonly.Minute(-time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	logged := publicTags(t, c, patients)

	attacker := keys[0]
	found := map[string]bool{}
	for n := range 10_000 {
		mrn := fmt.Sprintf("MRN-%07d", n)
		for _, tag := range []string{
			event.Tag(attacker, mrn),                   // the identifier under the key
			event.Tag(attacker, "patient:"+s.Org+mrn),  // with the custodian
			event.PatientTag(attacker, s.Org),          // the patient tag itself
			event.PatientTag(attacker, "npi:"+mrn[4:]), // any organisation id
		} {
			if logged[tag] {
				found[tag] = true
			}
		}
	}
	if len(found) != 1 || !found[event.PatientTag(attacker, s.Org)] {
		t.Fatalf("the key's holder matched %d tags on the log, want exactly its own patient's", len(found))
	}

	// The old model: one key per custodian, tags of record numbers, as
	// logged by a custodian that still works that way. The same
	// enumeration re-identifies every one of its patients.
	shared := event.NewTagKey()
	for i := range patients {
		var m map[string]any
		json.Unmarshal(testonly.FreshTags(example), &m)
		m["patient"] = event.Tag(shared, mrns[i])
		body, _ := json.Marshal(m)
		if _, _, err := c.SubmitAsync(ctx(t), s.Envelope(t, "access", body, testonly.Minute(-time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	logged = publicTags(t, c, 2*patients)
	reidentified := 0
	for n := range 10_000 {
		if logged[event.Tag(shared, fmt.Sprintf("MRN-%07d", n))] {
			reidentified++
		}
	}
	if reidentified != patients {
		t.Fatalf("with a shared key the enumeration found %d of %d patients; the attack harness is broken", reidentified, patients)
	}
}

// publicTags reads every entry of the log as any reader would and returns
// the tags they carry; it waits for at least want entries.
func publicTags(t *testing.T, c *client.Client, want uint64) map[string]bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cp, err := c.Checkpoint(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size >= want {
			entries, err := c.Entries(ctx(t), 0, cp.Size, cp)
			if err != nil {
				t.Fatal(err)
			}
			tags := map[string]bool{}
			for _, raw := range entries {
				env, err := event.ParseEnvelope(raw)
				if err != nil {
					t.Fatal(err)
				}
				ev, err := event.ParseEvent(env.Payload)
				if err != nil {
					t.Fatal(err)
				}
				for _, tag := range event.Tags(ev.Body) {
					tags[tag] = true
				}
			}
			return tags
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not reach %d entries", want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
