// Package entrycheck verifies one logged entry the way the log should have
// before accepting it: a canonical DSSE envelope, a well-formed event, a
// submitter and key the registry knows for that kind at that time, a valid
// signature, a body its schema accepts, and no identifier in clear. Anything
// the log should have rejected becomes a finding. Checker is safe for
// concurrent use, so the monitor checks a bundle's entries in parallel.
package entrycheck

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/htlog/htlog/internal/event"
	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
	"github.com/htlog/htlog/schemas"
)

// Rule names of the findings Check returns.
const (
	RuleMalformed    = "malformed_entry"
	RuleNotCanonical = "non_canonical_entry"
	RuleSubmitter    = "unknown_submitter"
	RuleSignature    = "bad_signature"
	RuleSchema       = "schema_invalid"
	RulePrivacy      = "privacy_violation"
)

// Registry is the part of the submitter registry the checker needs.
type Registry interface {
	Lookup(org, keyID, kind string, at time.Time) (crypto.PublicKey, error)
}

// Checker checks entries against a submitter registry and the schemas.
type Checker struct {
	// Registry returns the current submitter registry; nil skips the
	// submitter and signature checks.
	Registry func() Registry
	// Validator validates bodies; nil skips schema validation.
	Validator *schemas.Validator
}

// Result is what Check learned about one entry.
type Result struct {
	// Entry is the decoded entry, nil when the entry could not be decoded
	// or its signature did not verify (the rules must not trust it).
	Entry *entry.Entry
	// Findings are the problems found, in order.
	Findings []finding.Finding
}

// Check verifies the entry at index.
func (c *Checker) Check(index uint64, raw []byte) Result {
	var res Result
	fire := func(rule string, sev finding.Severity, id, org, detail string) {
		f := finding.Finding{Rule: rule, Severity: sev, Index: int64(index), Submitter: org, Detail: detail}
		if id != "" {
			f.EventIDs = []string{id}
		}
		res.Findings = append(res.Findings, f)
	}
	env, canonical, err := event.ParseEnvelopeCanonical(raw)
	if err != nil {
		fire(RuleMalformed, finding.High, "", "", oneLine(err))
		return res
	}
	id := env.ID()
	if !canonical {
		fire(RuleNotCanonical, finding.High, id, "", "the logged envelope is not in canonical form")
	}
	ev, err := event.ParseEvent(env.Payload)
	if err != nil {
		fire(RuleMalformed, finding.High, id, "", oneLine(err))
		return res
	}
	org := ev.Submitter.Org
	at := ev.Time()
	trusted := true
	if env.Signatures[0].KeyID != ev.Submitter.KeyID {
		fire(RuleSignature, finding.High, id, org, "the signature's keyid differs from submitter.key_id")
		trusted = false
	}
	if c.Registry != nil && trusted {
		pub, err := c.Registry().Lookup(org, ev.Submitter.KeyID, ev.Kind, at)
		switch {
		case err != nil:
			fire(RuleSubmitter, finding.High, id, org, oneLine(err))
			trusted = false
		case env.Verify(pub) != nil:
			fire(RuleSignature, finding.High, id, org, "the submitter's signature does not verify")
			trusted = false
		}
	}
	schemaOK := true
	var body map[string]any // the body as validated, nil if it was not
	if c.Validator != nil {
		if body, err = c.Validator.ValidateDecoded(ev.Kind, ev.Version, ev.Body); err != nil {
			fire(RuleSchema, finding.High, id, org, schemaDetail(err))
			schemaOK = false
		}
	}
	for _, p := range privacyProblems(ev.Body) {
		fire(RulePrivacy, finding.High, id, org, p)
	}
	if !trusted {
		return res
	}
	e, err := decodeEntry(index, id, ev, at, body)
	if err != nil {
		if schemaOK {
			fire(RuleMalformed, finding.High, id, org, oneLine(err))
		}
		return res
	}
	res.Entry = e
	return res
}

// schemaDetail names the field at fault without quoting its value.
func schemaDetail(err error) string {
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		return fmt.Sprintf("body field %s: %s", ve.Field, oneLine(errors.New(ve.Reason)))
	}
	return oneLine(err)
}

func oneLine(err error) string {
	s := err.Error()
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
