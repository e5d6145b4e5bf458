// Package registry is the submitter registry: the organisations allowed to
// submit events, the kinds each may submit, and their public keys with
// validity periods (so keys rotate without a gap). The personality checks
// every submission against it; monitors check every logged entry against it.
//
// The registry is a YAML file:
//
//	submitters:
//	  - org: npi:1234567893
//	    name: General Hospital
//	    kinds: [access, consent]
//	    acts_for: [gln:0614141000012]     # optional: organisations it may name as the actor
//	    source_systems: [ehr-fhir]        # optional: systems whose audit records it logs
//	    gs1_company_prefixes: ["0614141"] # optional: custody locations under these prefixes are its own
//	    keys:
//	      - public_key_file: keys/general-hospital.pub   # or public_key: <PEM>
//	        not_before: 2026-01-01T00:00:00Z              # optional
//	        not_after: 2027-01-01T00:00:00Z               # optional
//
// Relative key file paths are resolved against the registry file's folder.
// Organisation ids (org and acts_for) must carry valid check digits (NPI
// Luhn, GS1 mod 10): what an event names as its actor is bound to them.
package registry

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/ident"
	"go.yaml.in/yaml/v3"
)

// Errors Lookup returns.
var (
	// ErrUnknownSubmitter: no such organisation, or no such key for it.
	ErrUnknownSubmitter = errors.New("unknown submitter")
	// ErrKeyNotValid: the key exists but was not valid at the given time.
	ErrKeyNotValid = errors.New("submitter key is not valid at this time")
	// ErrKindNotAllowed: the organisation may not submit this kind.
	ErrKindNotAllowed = errors.New("submitter may not submit this kind of event")
)

// Key is one public key of a submitter.
type Key struct {
	ID        string
	Public    crypto.PublicKey
	NotBefore time.Time // zero: no lower bound
	NotAfter  time.Time // zero: no upper bound
}

// Submitter is one organisation.
type Submitter struct {
	Org   string
	Name  string
	Kinds []string
	Keys  []Key
	// ActsFor lists the other organisations this submitter may name as
	// the acting organisation of an event (affiliates, a sponsor for its
	// contract research organisation).
	ActsFor []string
	// SourceSystems lists the ids of the systems whose observations the
	// submitter logs (an ACCESS event's source_system).
	SourceSystems []string
	// CompanyPrefixes lists GS1 company prefixes whose locations (sgln,
	// pgln) are the submitter's own.
	CompanyPrefixes []string
}

// SpeaksFor reports whether the submitter may name org as the organisation
// acting in an event: org is its own id or one it is registered to act for.
func (s *Submitter) SpeaksFor(org string) bool {
	return org == s.Org || slices.Contains(s.ActsFor, org)
}

// OwnsLocation reports whether the EPC location or party URI (urn:epc:id:sgln
// or pgln) belongs to the submitter: its GLN is one the submitter speaks
// for, or its company prefix, as the URI splits it, is registered to it.
func (s *Submitter) OwnsLocation(epc string) bool {
	gln, ok := ident.GLNOfEPC(epc)
	if !ok {
		return false
	}
	if s.SpeaksFor("gln:" + gln) {
		return true
	}
	rest := epc[len("urn:epc:id:sgln:"):] // sgln and pgln prefixes have the same length
	prefix, _, _ := strings.Cut(rest, ".")
	return slices.Contains(s.CompanyPrefixes, prefix)
}

// HasSourceSystem reports whether id is one of the submitter's declared
// source systems.
func (s *Submitter) HasSourceSystem(id string) bool {
	return slices.Contains(s.SourceSystems, id)
}

// Registry is an immutable, parsed registry.
type Registry struct {
	byOrg map[string]*Submitter
}

type fileFormat struct {
	Submitters []struct {
		Org             string   `yaml:"org"`
		Name            string   `yaml:"name"`
		Kinds           []string `yaml:"kinds"`
		ActsFor         []string `yaml:"acts_for"`
		SourceSystems   []string `yaml:"source_systems"`
		CompanyPrefixes []string `yaml:"gs1_company_prefixes"`
		Keys            []struct {
			PublicKey     string    `yaml:"public_key"`
			PublicKeyFile string    `yaml:"public_key_file"`
			NotBefore     time.Time `yaml:"not_before"`
			NotAfter      time.Time `yaml:"not_after"`
		} `yaml:"keys"`
	} `yaml:"submitters"`
}

// Parse parses a registry; dir resolves relative public_key_file paths.
func Parse(data []byte, dir string) (*Registry, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("couldn't parse the submitter registry: %w", err)
	}
	r := &Registry{byOrg: map[string]*Submitter{}}
	for i, s := range f.Submitters {
		where := fmt.Sprintf("submitters[%d]", i)
		if s.Org == "" {
			return nil, fmt.Errorf("%s.org: required", where)
		}
		if !ident.OrgID(s.Org) {
			return nil, fmt.Errorf("%s.org: %q is not gln:<13 digits>, npi:<10 digits> or urn:oid:<OID> with a valid check digit", where, s.Org)
		}
		if _, dup := r.byOrg[s.Org]; dup {
			return nil, fmt.Errorf("%s.org: %q is listed twice", where, s.Org)
		}
		if len(s.Kinds) == 0 {
			return nil, fmt.Errorf("%s.kinds: list the kinds it may submit (access, consent, custody, trial)", where)
		}
		for _, k := range s.Kinds {
			if !slices.Contains(event.Kinds, k) {
				return nil, fmt.Errorf("%s.kinds: unknown kind %q", where, k)
			}
		}
		for j, o := range s.ActsFor {
			if !ident.OrgID(o) {
				return nil, fmt.Errorf("%s.acts_for[%d]: %q is not an organisation id with a valid check digit", where, j, o)
			}
		}
		for j, id := range s.SourceSystems {
			if !sourceSystemPattern.MatchString(id) {
				return nil, fmt.Errorf("%s.source_systems[%d]: %q must be 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", where, j, id)
			}
		}
		for j, p := range s.CompanyPrefixes {
			if !companyPrefixPattern.MatchString(p) {
				return nil, fmt.Errorf("%s.gs1_company_prefixes[%d]: %q must be 6 to 12 digits", where, j, p)
			}
		}
		sub := &Submitter{Org: s.Org, Name: s.Name, Kinds: s.Kinds, ActsFor: s.ActsFor, SourceSystems: s.SourceSystems, CompanyPrefixes: s.CompanyPrefixes}
		for j, k := range s.Keys {
			kw := fmt.Sprintf("%s.keys[%d]", where, j)
			text := []byte(k.PublicKey)
			if k.PublicKeyFile != "" {
				path := k.PublicKeyFile
				if !filepath.IsAbs(path) {
					path = filepath.Join(dir, path)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("%s.public_key_file: %v", kw, err)
				}
				text = b
			}
			pub, err := event.ParsePublicKey(text)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", kw, err)
			}
			id, err := event.KeyID(pub)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", kw, err)
			}
			if !k.NotAfter.IsZero() && !k.NotAfter.After(k.NotBefore) {
				return nil, fmt.Errorf("%s: not_after must be after not_before", kw)
			}
			sub.Keys = append(sub.Keys, Key{ID: id, Public: pub, NotBefore: k.NotBefore, NotAfter: k.NotAfter})
		}
		if len(sub.Keys) == 0 {
			return nil, fmt.Errorf("%s.keys: at least one key is required", where)
		}
		r.byOrg[s.Org] = sub
	}
	return r, nil
}

var (
	sourceSystemPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	companyPrefixPattern = regexp.MustCompile(`^[0-9]{6,12}$`)
)

// Submitter returns the registered organisation org.
func (r *Registry) Submitter(org string) (*Submitter, bool) {
	s, ok := r.byOrg[org]
	return s, ok
}

// Load reads and parses a registry file.
func Load(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the submitter registry: %w", err)
	}
	return Parse(data, filepath.Dir(path))
}

// Lookup returns the public key org's key keyID had at time at, if org may
// submit kind.
func (r *Registry) Lookup(org, keyID, kind string, at time.Time) (crypto.PublicKey, error) {
	s, ok := r.byOrg[org]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSubmitter, org)
	}
	if !slices.Contains(s.Kinds, kind) {
		return nil, fmt.Errorf("%w: %s may not submit %s events", ErrKindNotAllowed, org, kind)
	}
	for _, k := range s.Keys {
		if k.ID != keyID {
			continue
		}
		if (!k.NotBefore.IsZero() && at.Before(k.NotBefore)) || (!k.NotAfter.IsZero() && !at.Before(k.NotAfter)) {
			return nil, fmt.Errorf("%w: key %s… of %s", ErrKeyNotValid, keyID[:12], org)
		}
		return k.Public, nil
	}
	return nil, fmt.Errorf("%w: %s has no key %s…", ErrUnknownSubmitter, org, keyID[:min(12, len(keyID))])
}

// Orgs returns the registered organisation ids, sorted.
func (r *Registry) Orgs() []string {
	out := make([]string, 0, len(r.byOrg))
	for o := range r.byOrg {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// Watcher keeps a registry file loaded and reloads it when it changes, so
// keys rotate without a restart. A file that fails to parse is reported and
// the previous registry stays in force. Current is lock-free, so the
// goroutines that check entries in parallel never wait on each other.
type Watcher struct {
	path    string
	current atomic.Pointer[Registry]

	mu      sync.Mutex // serialises Reload
	modTime time.Time
	size    int64
}

// NewWatcher loads path; it fails if the first load fails.
func NewWatcher(path string) (*Watcher, error) {
	w := &Watcher{path: path}
	if err := w.Reload(); err != nil {
		return nil, err
	}
	return w, nil
}

// Current returns the registry in force.
func (w *Watcher) Current() *Registry {
	return w.current.Load()
}

// Reload re-reads the file if it changed since the last load.
func (w *Watcher) Reload() error {
	st, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("couldn't read the submitter registry: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.current.Load() != nil && st.ModTime().Equal(w.modTime) && st.Size() == w.size {
		return nil
	}
	r, err := Load(w.path)
	if err != nil {
		return err
	}
	w.current.Store(r)
	w.modTime, w.size = st.ModTime(), st.Size()
	return nil
}
