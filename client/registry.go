package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/htlog/htlog/c2sp"
	"github.com/htlog/htlog/internal/ident"
	"golang.org/x/mod/sumdb/note"
)

// RegistryHeader is the first line of the text of a signed registry note,
// which a log serves at GET /registry: the header, the log's origin, and one
// line of JSON {"submitters":[{"org":...,"name":...,"kinds":[...]}]}, signed
// by the log's own key (the one its checkpoints carry).
const RegistryHeader = "htlog registry v1"

// MaxRegistrySize bounds a signed registry note.
const MaxRegistrySize = 1 << 20

// maxOrgName bounds the name of one submitter.
const maxOrgName = 200

// RegistrySubmitter is one organisation of a published submitter registry:
// its id, its name as the log's operator registered it, and the kinds of
// events it may submit.
type RegistrySubmitter struct {
	Org   string   `json:"org"`
	Name  string   `json:"name"`
	Kinds []string `json:"kinds"`
}

// Registry is a submitter registry a client verified: the log that signed it
// and its organisations, sorted by id.
type Registry struct {
	Origin     string
	Submitters []RegistrySubmitter
}

// Name returns the registered name of org, and false if the registry does
// not list it or lists it without a name.
func (r *Registry) Name(org string) (string, bool) {
	if r == nil {
		return "", false
	}
	i, ok := slices.BinarySearchFunc(r.Submitters, org, func(s RegistrySubmitter, org string) int { return strings.Compare(s.Org, org) })
	if !ok {
		return "", false
	}
	return r.Submitters[i].Name, r.Submitters[i].Name != ""
}

type registryJSON struct {
	Submitters []RegistrySubmitter `json:"submitters"`
}

// RegistryText returns the text of the registry note of the log origin
// listing subs (sorted here by org): what the log signs. It refuses a
// submitter whose id, name or kinds RegistryText's reader would refuse.
func RegistryText(origin string, subs []RegistrySubmitter) ([]byte, error) {
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return nil, errors.New("registry: bad origin")
	}
	subs = slices.Clone(subs)
	slices.SortFunc(subs, func(a, b RegistrySubmitter) int { return strings.Compare(a.Org, b.Org) })
	for i := range subs {
		if subs[i].Kinds == nil {
			subs[i].Kinds = []string{}
		}
	}
	if err := checkRegistry(subs); err != nil {
		return nil, err
	}
	j, err := json.Marshal(registryJSON{Submitters: subs})
	if err != nil {
		return nil, err
	}
	return []byte(RegistryHeader + "\n" + origin + "\n" + string(j) + "\n"), nil
}

// checkRegistry checks the submitters of a registry: valid organisation ids
// in increasing order, printable names of at most maxOrgName bytes ("" for
// an organisation registered without one), and kinds
// of lower-case letters.
func checkRegistry(subs []RegistrySubmitter) error {
	for i, s := range subs {
		if !ident.OrgID(s.Org) {
			return fmt.Errorf("registry: %q is not an organisation id", truncate(s.Org))
		}
		if i > 0 && subs[i-1].Org >= s.Org {
			return fmt.Errorf("registry: %s is listed twice or out of order", s.Org)
		}
		if len(s.Name) > maxOrgName || strings.TrimSpace(s.Name) != s.Name ||
			strings.IndexFunc(s.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return fmt.Errorf("registry: the name of %s is too long, not printable text or has spaces around it", s.Org)
		}
		for _, k := range s.Kinds {
			if k == "" || len(k) > 32 || strings.Trim(k, "abcdefghijklmnopqrstuvwxyz_") != "" {
				return fmt.Errorf("registry: %s has a bad kind %q", s.Org, truncate(k))
			}
		}
	}
	return nil
}

// VerifyRegistry verifies a signed registry note against policy: it must be
// signed by the key the policy lists for the log it names (and, when origin
// is not empty, name that log), and its text must be a well-formed
// registry. Failures wrap ErrNotVerified.
func VerifyRegistry(policy *c2sp.Policy, origin string, signed []byte) (*Registry, error) {
	if policy == nil {
		return nil, errors.New("no policy: a registry is verified with the log key of a policy")
	}
	if len(signed) > MaxRegistrySize {
		return nil, notVerified("registry note is %d bytes, at most %d allowed", len(signed), MaxRegistrySize)
	}
	lines := strings.SplitN(string(signed), "\n", 4)
	if len(lines) < 4 || lines[0] != RegistryHeader {
		return nil, notVerified("not a registry note (want the first line %q)", RegistryHeader)
	}
	logOrigin := lines[1]
	if origin != "" && logOrigin != origin {
		return nil, notVerified("the registry is for %q, want %q", truncate(logOrigin), origin)
	}
	var vs []note.Verifier
	for _, l := range policy.Logs {
		if l.Verifier.Name() == logOrigin {
			vs = append(vs, l.Verifier)
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: %w: the registry is for %q, which the policy does not list", ErrNotVerified, c2sp.ErrUnknownLog, truncate(logOrigin))
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return nil, notVerified("the registry note does not carry a valid signature by the log's key: %v", err)
	}
	if err := checkCanonicalSignatures(signed, n.Sigs); err != nil {
		return nil, err
	}
	text := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(text) != 3 {
		return nil, notVerified("the registry note's text has %d lines, want 3", len(text))
	}
	d := json.NewDecoder(strings.NewReader(text[2]))
	d.DisallowUnknownFields()
	var j registryJSON
	if err := d.Decode(&j); err != nil {
		return nil, notVerified("the registry's JSON line: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, notVerified("the registry's JSON line has data after the object")
	}
	if err := noDuplicateKeys([]byte(text[2])); err != nil {
		return nil, notVerified("the registry's JSON line: %v", err)
	}
	if err := checkRegistry(j.Submitters); err != nil {
		return nil, notVerified("%v", err)
	}
	return &Registry{Origin: logOrigin, Submitters: j.Submitters}, nil
}

// Registry fetches the log's submitter registry (GET /registry) and verifies
// it against the client's policy (and Origin, when set).
func (c *Client) Registry(ctx context.Context) (*Registry, error) {
	signed, err := c.get(ctx, "registry")
	if err != nil {
		return nil, fmt.Errorf("couldn't fetch the submitter registry: %w", err)
	}
	return VerifyRegistry(c.Policy, c.Origin, bytes.Clone(signed))
}
