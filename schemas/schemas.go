package schemas

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Kinds lists the event kinds, in the order used throughout htlog.
var Kinds = []string{"access", "consent", "custody", "trial"}

// MaxBodySize is the largest body, in bytes, that [Validator.Validate]
// accepts. Bodies record identifiers, codes and commitments, never documents.
const MaxBodySize = 64 << 10

// BaseURL is the stable URL under which the schemas are served: the schema
// for kind k, version n is at BaseURL + k + "/v" + n + ".json", which is also
// its $id.
const BaseURL = "https://htlog.dev/schemas/"

// Names of the custom JSON Schema formats, asserted by [Validator].
const (
	// FormatTag is the format of a keyed pseudonymous tag; see [IsTag].
	FormatTag = "htlog-tag"
	// FormatCommitment is the format of a commitment; see [IsCommitment].
	FormatCommitment = "htlog-commitment"
)

//go:embed schemas/*/v*.json
var files embed.FS

// raw maps kind to version to schema bytes; latest maps kind to its highest
// version. Both are filled once from the embedded files and never modified.
var raw, latest = load()

// load indexes the embedded files named schemas/<kind>/v<N>.json.
func load() (map[string]map[int][]byte, map[string]int) {
	r, l := map[string]map[int][]byte{}, map[string]int{}
	names, _ := fs.Glob(files, "schemas/*/v*.json")
	for _, name := range names {
		kind := path.Base(path.Dir(name))
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(path.Base(name), "v"), ".json"))
		if err != nil || n < 1 {
			panic("schemas: bad embedded file name " + name)
		}
		b, _ := files.ReadFile(name)
		if r[kind] == nil {
			r[kind] = map[int][]byte{}
		}
		r[kind][n] = b
		l[kind] = max(l[kind], n)
	}
	return r, l
}

// Schema returns the raw bytes of the schema for kind and version, as served
// at /schemas/<kind>/v<version>.json (media type application/schema+json),
// and whether it exists. The returned slice is a copy.
func Schema(kind string, version int) ([]byte, bool) {
	b, ok := raw[kind][version]
	return bytes.Clone(b), ok
}

// Latest returns the highest schema version of kind, or 0 if kind is unknown.
func Latest(kind string) int {
	return latest[kind]
}

// MinAdmitted is the lowest schema version a log admits for every kind:
// version 1 allowed free text. Versions MinAdmitted to [Latest] are all
// admitted; a submitter chooses per event.
const MinAdmitted = 2

// DefaultVersion is the version an event gets when its builder names none
// (event.Draft with Version 0): version 2, which every existing submitter
// writes, until they name version 3 (what the gateway writes). Version 3 is
// a superset of what version 2 can say, not a replacement it forces.
const DefaultVersion = 2

// Default returns the version an event of kind gets when none is named:
// [DefaultVersion] for a known kind, 0 for an unknown one.
func Default(kind string) int {
	if latest[kind] == 0 {
		return 0
	}
	return min(DefaultVersion, latest[kind])
}

// IsTag reports whether s is a keyed pseudonymous tag: "tag:v1:" followed by
// exactly 64 lowercase hex characters.
func IsTag(s string) bool { return prefixedHex64(s, "tag:v1:") }

// IsCommitment reports whether s is a commitment: "commit:v1:" followed by
// exactly 64 lowercase hex characters.
func IsCommitment(s string) bool { return prefixedHex64(s, "commit:v1:") }

// prefixedHex64 reports whether s is prefix and 64 lowercase hex
// characters: the regular expression ^prefix[0-9a-f]{64}$, checked by hand
// because the validator asks it of every tag of every body (TestIsTagRegexp
// holds it to the expression).
func prefixedHex64(s, prefix string) bool {
	hex, ok := strings.CutPrefix(s, prefix)
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Validator checks event bodies against the embedded schemas. It is safe for
// concurrent use by multiple goroutines.
type Validator struct {
	compiled map[string]map[int]*jsonschema.Schema
}

// NewValidator compiles every embedded schema once, with format assertions
// on (date, date-time, uri, htlog-tag and htlog-commitment).
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: FormatTag, Validate: stringFormat(IsTag)})
	c.RegisterFormat(&jsonschema.Format{Name: FormatCommitment, Validate: stringFormat(IsCommitment)})
	for _, f := range identifierFormats {
		c.RegisterFormat(&jsonschema.Format{Name: f.name, Validate: stringFormat(f.ok)})
	}
	for name, vs := range valueSets {
		c.RegisterFormat(&jsonschema.Format{Name: FormatCodePrefix + name, Validate: codeFormat(vs)})
	}
	for kind, systems := range codingKinds {
		c.RegisterFormat(&jsonschema.Format{Name: FormatCodingPrefix + kind, Validate: codingFormat(kind, systems)})
	}
	c.UseLoader(noLoader{}) // never fetch anything over the network
	v := &Validator{compiled: map[string]map[int]*jsonschema.Schema{}}
	for kind, versions := range raw {
		v.compiled[kind] = map[int]*jsonschema.Schema{}
		for n, b := range versions {
			url := fmt.Sprintf("%s%s/v%d.json", BaseURL, kind, n)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("schemas: %s: %w", url, err)
			}
			if err := c.AddResource(url, doc); err != nil {
				return nil, fmt.Errorf("schemas: %s: %w", url, err)
			}
			if v.compiled[kind][n], err = c.Compile(url); err != nil {
				return nil, fmt.Errorf("schemas: %s: %w", url, err)
			}
		}
	}
	return v, nil
}

// Validate checks body, the raw JSON bytes of an event body, against the
// schema for kind and version. It returns nil if the body is valid; an error
// wrapping [ErrUnknownKind], [ErrUnknownVersion], [ErrBodyTooLarge] or
// [ErrMalformedBody]; or a *[ValidationError] naming the first offending
// field.
func (v *Validator) Validate(kind string, version int, body []byte) error {
	_, err := v.ValidateDecoded(kind, version, body)
	return err
}

// ValidateDecoded is [Validator.Validate] that also returns the body it
// validated, decoded: objects as map[string]any, arrays as []any, strings,
// numbers as json.Number, bools and nil. A caller that needs the body's
// fields can read them there instead of decoding body again; it must not
// modify them. The object is nil whenever the error is not.
func (v *Validator) ValidateDecoded(kind string, version int, body []byte) (map[string]any, error) {
	versions, ok := v.compiled[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	sch, ok := versions[version]
	if !ok {
		return nil, fmt.Errorf("%w %d for kind %q (latest is %d)", ErrUnknownVersion, version, kind, Latest(kind))
	}
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBodyTooLarge, len(body), MaxBodySize)
	}
	obj, ok := decodeFast(body)
	if !ok {
		var err error
		if obj, err = decodeObject(body); err != nil {
			return nil, err
		}
	}
	err := sch.Validate(obj)
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return nil, fromLibrary(ve)
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// stringFormat adapts a string predicate to a jsonschema format checker.
// Non-strings pass, as JSON Schema formats only constrain strings; the
// schemas pair each format with "type": "string".
func stringFormat(ok func(string) bool) func(any) error {
	return func(v any) error {
		s, isString := v.(string)
		if isString && !ok(s) {
			return errors.New("malformed")
		}
		return nil
	}
}

// noLoader refuses to load any schema that is not embedded.
type noLoader struct{}

// Load implements jsonschema.URLLoader.
func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schemas: refusing to load %s: only embedded schemas are used", url)
}
