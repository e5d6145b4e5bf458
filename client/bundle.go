package client

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/ident"
	"golang.org/x/mod/sumdb/note"
)

// BundleType is the value of a patient bundle's "type" field.
const BundleType = "htlog-patient-bundle/v1"

// MaxBundleSize bounds a patient bundle file: a policy (at most
// c2sp.MaxPolicySize), a few monitors and the openings of one patient's
// committed values.
const MaxBundleSize = 1 << 20

// maxBundleMonitors and maxBundleOpenings bound the lists of a bundle.
const (
	maxBundleMonitors = 16
	maxBundleOpenings = 10000
	maxOpeningValue   = 4096
)

// PatientBundle is what a custodian hands a patient so the patient (their
// page, their app, htlog watch) can find and check their own events without
// typing a key: the log to ask, the custodian whose events carry the
// patient's tag, the patient's tag key, the witness policy that says which
// checkpoints to believe, the monitors whose verdicts the patient trusts, and
// optionally the openings of values the custodian committed to in the
// patient's events (disclosure recipients and descriptions), which the
// accounting of disclosures reveals to the patient alone.
//
// Its JSON form (Marshal, ParsePatientBundle) is
//
//	{"type":"htlog-patient-bundle/v1","log":"https://log.example",
//	 "custodian":"npi:1234567893","key":"<64 hex>","policy":"<tlog-policy>",
//	 "monitors":[{"url":"https://monitor.example","vkey":"<note verifier key>"}],
//	 "openings":[{"commitment":"commit:v1:...","value":"...","opening":"<64 hex>"}]}
//
// Without openings it fits a QR code. The bundle is a secret of the patient:
// whoever holds the key finds the patient's events.
type PatientBundle struct {
	// Type is BundleType.
	Type string `json:"type"`
	// Log is the base URL of the log (http or https).
	Log string `json:"log"`
	// Custodian is the organisation id (npi:, gln:, urn:oid:) whose events
	// tag the patient with PatientTag(key, custodian).
	Custodian string `json:"custodian"`
	// Key is the patient's tag key, 64 lower-case hex digits.
	Key string `json:"key"`
	// Policy is the text of a C2SP tlog-policy naming the log's key.
	Policy string `json:"policy"`
	// Monitors are the monitors whose verdicts the patient trusts.
	Monitors []BundleMonitor `json:"monitors,omitempty"`
	// Openings open commitments in the patient's events.
	Openings []BundleOpening `json:"openings,omitempty"`
}

// BundleMonitor is a monitor a patient trusts: its base URL and the
// signed-note verifier key its verdicts are signed with.
type BundleMonitor struct {
	URL  string `json:"url"`
	VKey string `json:"vkey"`
}

// BundleOpening reveals the value behind a commitment: VerifyCommitment(
// Commitment, Opening, Value) holds for every opening of a parsed bundle.
type BundleOpening struct {
	Commitment string `json:"commitment"`
	Value      string `json:"value"`
	Opening    string `json:"opening"`
}

var lowerHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParsePatientBundle parses and checks a patient bundle. It is strict: it
// refuses unknown or repeated fields, trailing data, another type, a URL
// that is not an absolute http(s) URL, a custodian id with a bad check digit,
// a key or opening that is not 64 lower-case hex digits, a policy that does
// not parse or names no log, a monitor key that is not a signed-note
// verifier key, and an opening that does not open its commitment.
func ParsePatientBundle(b []byte) (*PatientBundle, error) {
	if len(b) > MaxBundleSize {
		return nil, fmt.Errorf("patient bundle is %d bytes, at most %d allowed", len(b), MaxBundleSize)
	}
	if err := noDuplicateKeys(b); err != nil {
		return nil, fmt.Errorf("patient bundle: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var pb PatientBundle
	if err := d.Decode(&pb); err != nil {
		return nil, fmt.Errorf("patient bundle is not the expected JSON object: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("patient bundle: data after the JSON object")
	}
	if err := pb.check(); err != nil {
		return nil, err
	}
	return &pb, nil
}

// check validates every field of b.
func (b *PatientBundle) check() error {
	if b.Type != BundleType {
		return fmt.Errorf("patient bundle: type is %q, want %q", truncate(b.Type), BundleType)
	}
	if err := checkBaseURL(b.Log); err != nil {
		return fmt.Errorf("patient bundle: log: %w", err)
	}
	if !ident.OrgID(b.Custodian) {
		return fmt.Errorf("patient bundle: custodian %q is not an organisation id (npi:, gln: or urn:oid: with a valid check digit)", truncate(b.Custodian))
	}
	if !lowerHex64.MatchString(b.Key) {
		return errors.New("patient bundle: key is not 64 lower-case hex digits")
	}
	p, err := c2sp.ParsePolicy([]byte(b.Policy))
	if err != nil {
		return fmt.Errorf("patient bundle: policy: %w", err)
	}
	if len(p.Logs) == 0 {
		return errors.New("patient bundle: policy names no log")
	}
	if len(b.Monitors) > maxBundleMonitors {
		return fmt.Errorf("patient bundle: %d monitors, at most %d allowed", len(b.Monitors), maxBundleMonitors)
	}
	for i, m := range b.Monitors {
		if err := checkBaseURL(m.URL); err != nil {
			return fmt.Errorf("patient bundle: monitor %d: %w", i+1, err)
		}
		if _, err := note.NewVerifier(m.VKey); err != nil {
			return fmt.Errorf("patient bundle: monitor %d: vkey is not a signed-note verifier key: %w", i+1, err)
		}
	}
	if len(b.Openings) > maxBundleOpenings {
		return fmt.Errorf("patient bundle: %d openings, at most %d allowed", len(b.Openings), maxBundleOpenings)
	}
	for i, o := range b.Openings {
		if !event.IsCommitment(o.Commitment) {
			return fmt.Errorf("patient bundle: opening %d: commitment is not commit:v1:<64 hex>", i+1)
		}
		if !lowerHex64.MatchString(o.Opening) {
			return fmt.Errorf("patient bundle: opening %d: opening is not 64 lower-case hex digits", i+1)
		}
		if len(o.Value) > maxOpeningValue {
			return fmt.Errorf("patient bundle: opening %d: value longer than %d bytes", i+1, maxOpeningValue)
		}
		op, _ := hex.DecodeString(o.Opening)
		if !event.VerifyCommitment(o.Commitment, op, []byte(o.Value)) {
			return fmt.Errorf("patient bundle: opening %d does not open its commitment", i+1)
		}
	}
	return nil
}

// Marshal returns the bundle's JSON form after checking it as
// ParsePatientBundle would, so that what it writes parses back.
func (b *PatientBundle) Marshal() ([]byte, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	return json.Marshal(b)
}

// ParsedPolicy returns the bundle's witness policy, parsed.
func (b *PatientBundle) ParsedPolicy() (*c2sp.Policy, error) {
	return c2sp.ParsePolicy([]byte(b.Policy))
}

// TagKey returns the patient's tag key as bytes.
func (b *PatientBundle) TagKey() ([]byte, error) {
	if !lowerHex64.MatchString(b.Key) {
		return nil, errors.New("patient bundle: key is not 64 lower-case hex digits")
	}
	return hex.DecodeString(b.Key)
}

// Tag returns the patient's tag in the custodian's events.
func (b *PatientBundle) Tag() (string, error) {
	k, err := b.TagKey()
	if err != nil {
		return "", err
	}
	return event.PatientTag(k, b.Custodian), nil
}

// Opening returns the value a bundle opening reveals for commitment.
func (b *PatientBundle) Opening(commitment string) (string, bool) {
	for _, o := range b.Openings {
		if o.Commitment == commitment {
			return o.Value, true
		}
	}
	return "", false
}

// checkBaseURL accepts an absolute http or https URL with a host, no user
// information, query or fragment.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", truncate(s))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q: a base URL has no user, query or fragment", truncate(s))
	}
	return nil
}

// noDuplicateKeys refuses JSON in which an object names a member twice
// (encoding/json would keep the last one silently).
func noDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > 16 {
			return errors.New("nested too deeply")
		}
		t, err := d.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return fmt.Errorf("not JSON: %w", err)
				}
				ks, _ := k.(string)
				if seen[ks] {
					return fmt.Errorf("field %q appears twice", truncate(ks))
				}
				seen[ks] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = d.Token()
		case json.Delim('['):
			for d.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = d.Token()
		}
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		return nil
	}
	return walk(0)
}
