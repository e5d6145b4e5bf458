package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a body. The deepest legitimate body is far
// shallower; the bound keeps hostile input from driving deep recursion.
const maxDepth = 32

// decodeObject parses body as exactly one JSON object and returns it in the
// form the jsonschema library validates (numbers as json.Number). It rejects
// invalid UTF-8, duplicate member names at any depth, trailing data and any
// top-level value that is not an object: a signed, logged body must mean one
// thing to every reader.
func decodeObject(body []byte) (map[string]any, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrMalformedBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedBody)
	}
	obj, err := decodeMembers(dec, 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrMalformedBody)
	}
	return obj, nil
}

// decodeValue decodes the value that starts with tok.
func decodeValue(dec *json.Decoder, tok json.Token, depth int) (any, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	switch d {
	case '{':
		return decodeMembers(dec, depth+1)
	case '[':
		return decodeElements(dec, depth+1)
	}
	return nil, fmt.Errorf("unexpected %q", d)
}

// decodeMembers decodes object members up to and including the closing brace.
func decodeMembers(dec *json.Decoder, depth int) (map[string]any, error) {
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object member name is not a string")
		}
		if _, dup := obj[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		if tok, err = dec.Token(); err != nil {
			return nil, err
		}
		if obj[name], err = decodeValue(dec, tok, depth); err != nil {
			return nil, err
		}
	}
	_, err := dec.Token() // '}'
	return obj, err
}

// decodeElements decodes array elements up to and including the closing bracket.
func decodeElements(dec *json.Decoder, depth int) ([]any, error) {
	arr := []any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		v, err := decodeValue(dec, tok, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	_, err := dec.Token() // ']'
	return arr, err
}
