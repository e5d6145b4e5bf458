package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Sentinel errors returned, wrapped with detail, by [Validator.Validate].
// Test for them with errors.Is.
var (
	// ErrUnknownKind means the kind is not one of [Kinds].
	ErrUnknownKind = errors.New("schemas: unknown event kind")
	// ErrUnknownVersion means the kind has no schema with that version.
	ErrUnknownVersion = errors.New("schemas: unknown schema version")
	// ErrBodyTooLarge means the body is longer than [MaxBodySize] bytes.
	ErrBodyTooLarge = errors.New("schemas: body too large")
	// ErrMalformedBody means the body is not exactly one JSON object: it is
	// not JSON, is another JSON type, has trailing data, duplicate member
	// names, invalid UTF-8 or excessive nesting.
	ErrMalformedBody = errors.New("schemas: malformed body")
)

// ValidationError reports the first field of a well-formed body that breaks
// its schema. Reasons never repeat the offending value, so the error can be
// logged without leaking an identifier that was sent in clear by mistake.
type ValidationError struct {
	// Field is the JSON pointer (RFC 6901) of the offending field, e.g.
	// "/agent/who". For a missing or disallowed member it points at that
	// member. It is empty only for a problem with the body as a whole.
	Field string
	// Reason says what is wrong, e.g. "is not an htlog tag".
	Reason string
}

// Error returns one line: the field, a colon and the reason.
func (e *ValidationError) Error() string {
	f := e.Field
	if f == "" {
		f = "(body)"
	}
	return f + ": " + e.Reason
}

var printer = message.NewPrinter(language.English)

// fromLibrary reduces the jsonschema library's error tree to one
// ValidationError. It collects the leaf causes and picks the one with the
// smallest field pointer (ties broken by reason), so the result does not
// depend on the order in which the library happened to check keywords.
func fromLibrary(err *jsonschema.ValidationError) *ValidationError {
	var leaves []*ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, describe(e))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(err)
	return slices.MinFunc(leaves, func(a, b *ValidationError) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}

// describe turns one leaf error into a field and a value-free reason.
func describe(e *jsonschema.ValidationError) *ValidationError {
	field := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return &ValidationError{field + "/" + escape(slices.Min(k.Missing)), "is required"}
	case *kind.AdditionalProperties:
		return &ValidationError{field + "/" + escape(slices.Min(k.Properties)), "is not allowed"}
	case *kind.Format:
		switch k.Want {
		case FormatTag:
			return &ValidationError{field, "is not an htlog tag"}
		case FormatCommitment:
			return &ValidationError{field, "is not an htlog commitment"}
		}
		if kind, ok := strings.CutPrefix(k.Want, FormatCodingPrefix); ok {
			return &ValidationError{field, codingReason(kind)}
		}
		if set, ok := strings.CutPrefix(k.Want, FormatCodePrefix); ok {
			return &ValidationError{field, "is not a code of value set " + set}
		}
		for _, f := range identifierFormats {
			if f.name == k.Want {
				return &ValidationError{field, "is not " + f.what}
			}
		}
		return &ValidationError{field, "is not a valid " + k.Want}
	case *kind.FalseSchema:
		return &ValidationError{field, "is not allowed in this kind of event"}
	case *kind.Pattern:
		return &ValidationError{field, fmt.Sprintf("does not match pattern %s", k.Want)}
	}
	reason := e.ErrorKind.LocalizedString(printer)
	return &ValidationError{field, strings.Join(strings.Fields(reason), " ")}
}

// pointer renders instance location tokens as a JSON pointer.
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escape(t))
	}
	return sb.String()
}

// escape escapes one JSON pointer reference token (RFC 6901 section 3).
func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}
