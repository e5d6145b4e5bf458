package schemas

import (
	"encoding/json"
	"unicode/utf8"
)

// fastMaxDepth is the deepest nesting decodeFast handles itself; deeper
// bodies go to decodeObject, which enforces maxDepth.
const fastMaxDepth = 16

// decodeFast is decodeObject's fast path for the bodies submitters send:
// one pass over body, strings and numbers sliced out of a single copy of
// body instead of allocated one by one.
//
// Its contract is one-sided, which keeps it easy to trust: when ok is true,
// decodeObject would have succeeded on body and returned a value equal to
// obj (reflect.DeepEqual); when ok is false nothing is known and the caller
// runs decodeObject, which also words every error. It gives up on anything
// unusual rather than reproduce decodeObject's handling of it: a string
// with an escape, a duplicate member, nesting deeper than fastMaxDepth,
// invalid UTF-8, any syntax error. FuzzDecodeFast checks the contract.
func decodeFast(body []byte) (obj map[string]any, ok bool) {
	if !utf8.Valid(body) {
		return nil, false
	}
	d := fastDecoder{s: string(body)}
	d.skipSpace()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return nil, false
	}
	obj, ok = d.object(1)
	if !ok {
		return nil, false
	}
	d.skipSpace()
	return obj, d.i == len(d.s)
}

// fastDecoder is decodeFast's state: the body as one string, so that every
// string value and member name it returns is a substring of it.
type fastDecoder struct {
	s string
	i int
}

func (d *fastDecoder) skipSpace() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// value decodes the value at d.i; depth is that of the enclosing container.
func (d *fastDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '"':
		return d.str()
	case c == '{':
		if depth >= fastMaxDepth {
			return nil, false
		}
		return d.object(depth + 1)
	case c == '[':
		if depth >= fastMaxDepth {
			return nil, false
		}
		return d.array(depth + 1)
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return nil, false
}

func (d *fastDecoder) literal(lit string) bool {
	if len(d.s)-d.i < len(lit) || d.s[d.i:d.i+len(lit)] != lit {
		return false
	}
	d.i += len(lit)
	return true
}

// str decodes the string at d.i if it has no escape: its value is then its
// bytes (valid UTF-8, checked up front, decodes to itself).
func (d *fastDecoder) str() (string, bool) {
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j], true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// number decodes the JSON number at d.i as encoding/json's UseNumber does:
// its literal text.
func (d *fastDecoder) number() (json.Number, bool) {
	s, i := d.s, d.i
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return "", false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return "", false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return "", false
		}
	}
	n := json.Number(s[d.i:i])
	d.i = i
	return n, true
}

// object decodes the object at d.i, which is at nesting depth depth.
func (d *fastDecoder) object(depth int) (map[string]any, bool) {
	obj := map[string]any{}
	d.i++ // '{'
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return obj, true
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, false
		}
		name, ok := d.str()
		if !ok {
			return nil, false
		}
		if _, dup := obj[name]; dup {
			return nil, false
		}
		d.skipSpace()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, false
		}
		d.i++
		d.skipSpace()
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		obj[name] = v
		d.skipSpace()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case '}':
			d.i++
			return obj, true
		default:
			return nil, false
		}
	}
}

// array decodes the array at d.i, which is at nesting depth depth.
func (d *fastDecoder) array(depth int) ([]any, bool) {
	arr := []any{}
	d.i++ // '['
	d.skipSpace()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return arr, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		arr = append(arr, v)
		d.skipSpace()
		if d.i >= len(d.s) {
			return nil, false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case ']':
			d.i++
			return arr, true
		default:
			return nil, false
		}
	}
}
