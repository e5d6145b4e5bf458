package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a body. The deepest legitimate body is far
// shallower; the bound keeps hostile input from driving deep recursion.
const maxDepth = 32

// decodeObject parses body as exactly one JSON object and returns it in the
// form the jsonschema library validates (numbers as json.Number). It rejects
// invalid UTF-8, duplicate member names at any depth, trailing data, any
// top-level value that is not an object, and a string or member name
// holding a \u0000 escape or a \u escape of an unpaired UTF-16 surrogate
// (see badEscape): a signed, logged body must mean one thing to every
// reader. An error names the member at fault as a JSON pointer.
func decodeObject(body []byte) (map[string]any, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrMalformedBody)
	}
	d := &objectDecoder{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	d.dec.UseNumber()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	if t, ok := tok.(json.Delim); !ok || t != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedBody)
	}
	obj, err := d.members(1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the object", ErrMalformedBody)
	}
	return obj, nil
}

// objectDecoder is decodeObject's state: the token stream, the body it
// reads (to look at a string's escapes, which the tokens no longer show)
// and the path to the current member.
type objectDecoder struct {
	dec  *json.Decoder
	body []byte
	path []string
}

// token returns the next token, refusing a string whose escapes badEscape
// refuses; what says whether it is a member name or a value.
func (d *objectDecoder) token(what string) (json.Token, error) {
	start := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(string); ok {
		// body[start:end] is the string and the separators and white
		// space before it, where no backslash can appear.
		if reason := badEscape(d.body[start:d.dec.InputOffset()]); reason != "" {
			at := pointer(d.path)
			if at == "" {
				at = "(body)"
			}
			return nil, fmt.Errorf("%s: %s %s", at, what, reason)
		}
	}
	return tok, nil
}

// badEscape returns why the JSON string in raw (which the decoder has
// accepted) may not be in a body, or "": a \u0000 escape, which puts a NUL
// into a string that C libraries, databases and terminals cut short, or a
// \u escape of a UTF-16 surrogate that is not half of a pair, which
// encoding/json decodes to U+FFFD and other parsers refuse or keep, so two
// readers would see two strings. Raw bytes cannot hold either (a control
// byte is not JSON, and the body is valid UTF-8).
func badEscape(raw []byte) string {
	for i := bytes.IndexByte(raw, '\\'); i >= 0 && i+1 < len(raw); {
		if raw[i+1] != 'u' {
			i += 2
		} else {
			r := hex4(raw[i+2:])
			switch {
			case r == 0:
				return `holds a \u0000 escape (NUL)`
			case 0xdc00 <= r && r <= 0xdfff:
				return "holds an unpaired UTF-16 surrogate escape"
			case 0xd800 <= r && r <= 0xdbff:
				if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
					return "holds an unpaired UTF-16 surrogate escape"
				}
				if lo := hex4(raw[i+8:]); lo < 0xdc00 || lo > 0xdfff {
					return "holds an unpaired UTF-16 surrogate escape"
				}
				i += 12
			default:
				i += 6
			}
		}
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			break
		}
		i += j
	}
	return ""
}

// hex4 decodes the four hex digits of a JSON \u escape (the decoder has
// checked them).
func hex4(s []byte) rune {
	n, _ := strconv.ParseUint(string(s[:4]), 16, 16)
	return rune(n)
}

// value decodes the value that starts with tok.
func (d *objectDecoder) value(tok json.Token, depth int) (any, error) {
	t, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	switch t {
	case '{':
		return d.members(depth + 1)
	case '[':
		return d.elements(depth + 1)
	}
	return nil, fmt.Errorf("unexpected %q", t)
}

// members decodes object members up to and including the closing brace.
func (d *objectDecoder) members(depth int) (map[string]any, error) {
	obj := map[string]any{}
	for d.dec.More() {
		tok, err := d.token("member name")
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
		d.path = append(d.path, name)
		if tok, err = d.token("string"); err != nil {
			return nil, err
		}
		if obj[name], err = d.value(tok, depth); err != nil {
			return nil, err
		}
		d.path = d.path[:len(d.path)-1]
	}
	_, err := d.dec.Token() // '}'
	return obj, err
}

// elements decodes array elements up to and including the closing bracket.
func (d *objectDecoder) elements(depth int) ([]any, error) {
	arr := []any{}
	for i := 0; d.dec.More(); i++ {
		d.path = append(d.path, strconv.Itoa(i))
		tok, err := d.token("string")
		if err != nil {
			return nil, err
		}
		v, err := d.value(tok, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.path = d.path[:len(d.path)-1]
	}
	_, err := d.dec.Token() // ']'
	return arr, err
}
