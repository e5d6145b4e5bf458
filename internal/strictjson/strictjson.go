// Package strictjson reads JSON as htlog requires of every logged entry:
// exactly one value, no object repeating a key at any depth, and object keys
// matched to struct fields by their exact name. Two parsers must never read
// two different events from one entry; encoding/json alone would keep the
// last of two equal keys and match {"KIND":...} to the field kind.
//
// It is htlog's own code, not a general decoder: [Decode] runs [Check] and
// then encoding/json. github.com/go-json-experiment/json (encoding/json/v2)
// rejects the same inputs by default and was measured as the replacement:
// parsing a submitted envelope and its event took 1.6 times as long with it
// as with this package and the event package's fast paths (docs/dependencies.md),
// so it serves as the reference of this package's differential fuzz test
// instead.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is encoding/json's limit on nested arrays and objects:
// Check accepts exactly the nesting json.Valid accepts.
const MaxDepth = 10000

// linearKeys is how many keys of one object Check compares pairwise
// before it switches that object to a set, so a large object costs
// O(keys), not O(keys²).
const linearKeys = 16

// errSyntax is what Check returns for input that is not one JSON value
// when encoding/json (unexpectedly) finds no fault to name.
var errSyntax = errors.New("invalid JSON")

// Check reports whether data is exactly one JSON value (surrounded by
// optional whitespace) in which no object repeats a key, at any depth.
//
// Keys are compared as encoding/json decodes them: "a" and "\u0061" are the
// same key, and so are every invalid UTF-8 byte, lone UTF-16 surrogate and
// "\ufffd", which all decode to U+FFFD. Two parsers must never read two
// different events from one entry, and the decoder htlog uses keeps the
// last of two equal keys while others keep the first.
//
// It is one pass over data with no allocation for the objects htlog logs:
// keys without escapes or non-ASCII bytes are compared in place, others are
// unescaped into a scratch buffer, and only an object with more than
// linearKeys keys gets a map. The error for a repeated key is
// `duplicate key "k"` (k decoded); a syntax error is encoding/json's own
// error for data.
func Check(data []byte) error {
	end, err := ScanValue(data, MaxDepth)
	if err == nil && SkipSpace(data, end) != len(data) {
		err = errSyntax // trailing data
	}
	if err == errSyntax {
		// Name the fault as encoding/json does (rare: garbage input only).
		if jerr := json.Unmarshal(data, new(json.RawMessage)); jerr != nil {
			return jerr
		}
	}
	return err
}

// ScanValue is Check's pass over the one JSON value data starts with
// (after optional whitespace), nested at most maxDepth deep: it returns the
// index just after the value, or errSyntax or a duplicate key error, and
// looks no further, whatever follows.
func ScanValue(data []byte, maxDepth int) (end int, err error) {
	var (
		frameBuf [32]frame
		keyBuf   [64]keySpan
		arenaBuf [256]byte
	)
	return scanJSON(data, maxDepth, frameBuf[:0], keyBuf[:0], arenaBuf[:0])
}

// frame is one open array or object.
type frame struct {
	object     bool
	keyStart   int                 // this object's first key in keys
	arenaStart int                 // the arena's length when the object opened
	set        map[string]struct{} // this object's keys, once it has more than linearKeys
}

// keySpan locates one decoded key: data[start:end], or arena[start:end]
// when the key had to be unescaped.
type keySpan struct {
	start, end int
	inArena    bool
}

func (s keySpan) bytes(data, arena []byte) []byte {
	if s.inArena {
		return arena[s.start:s.end]
	}
	return data[s.start:s.end]
}

// scanJSON is ScanValue's single pass. frames holds the open arrays and
// objects, keys the keys of every open object (innermost last) and arena
// the unescaped ones; the slices are passed in so that their first
// backing arrays live on ScanValue's stack.
func scanJSON(data []byte, maxDepth int, frames []frame, keys []keySpan, arena []byte) (int, error) {
	var err error
	i := SkipSpace(data, 0)
	for {
		// A value starts at i.
		if i >= len(data) {
			return 0, errSyntax
		}
		switch b := data[i]; {
		case b == '{' || b == '[':
			if len(frames) >= maxDepth {
				return 0, errSyntax
			}
			frames = append(frames, frame{object: b == '{', keyStart: len(keys), arenaStart: len(arena)})
			i = SkipSpace(data, i+1)
			if i < len(data) && (b == '{' && data[i] == '}' || b == '[' && data[i] == ']') {
				frames, keys, arena = pop(frames, keys, arena)
				i++
				break
			}
			if b == '{' {
				if i, keys, arena, err = addKey(data, i, &frames[len(frames)-1], keys, arena); err != nil {
					return 0, err
				}
			}
			continue // the first member's value
		case b == '"':
			end, _, ok := ScanString(data, i)
			if !ok {
				return 0, errSyntax
			}
			i = end
		case b == 't':
			if !bytes.HasPrefix(data[i:], []byte("true")) {
				return 0, errSyntax
			}
			i += 4
		case b == 'f':
			if !bytes.HasPrefix(data[i:], []byte("false")) {
				return 0, errSyntax
			}
			i += 5
		case b == 'n':
			if !bytes.HasPrefix(data[i:], []byte("null")) {
				return 0, errSyntax
			}
			i += 4
		case b == '-' || '0' <= b && b <= '9':
			end, ok := scanNumber(data, i)
			if !ok {
				return 0, errSyntax
			}
			i = end
		default:
			return 0, errSyntax
		}
		// A value ended before i: close containers until one continues.
		for {
			if len(frames) == 0 {
				return i, nil
			}
			i = SkipSpace(data, i)
			if i >= len(data) {
				return 0, errSyntax
			}
			top := &frames[len(frames)-1]
			if data[i] == ',' {
				i = SkipSpace(data, i+1)
				if top.object {
					if i, keys, arena, err = addKey(data, i, top, keys, arena); err != nil {
						return 0, err
					}
				}
				break // the next member's value
			}
			if top.object && data[i] == '}' || !top.object && data[i] == ']' {
				frames, keys, arena = pop(frames, keys, arena)
				i++
				continue
			}
			return 0, errSyntax
		}
	}
}

// addKey reads `"key" :` at data[i] in the object top, records the key and
// fails if the object has it already. It returns where the value starts.
func addKey(data []byte, i int, top *frame, keys []keySpan, arena []byte) (int, []keySpan, []byte, error) {
	if i >= len(data) || data[i] != '"' {
		return 0, nil, nil, errSyntax
	}
	end, plain, ok := ScanString(data, i)
	if !ok {
		return 0, nil, nil, errSyntax
	}
	span := keySpan{start: i + 1, end: end - 1}
	if !plain {
		start := len(arena)
		arena = appendUnquoted(arena, data[i+1:end-1])
		span = keySpan{start: start, end: len(arena), inArena: true}
	}
	k := span.bytes(data, arena)
	dup := false
	switch n := len(keys) - top.keyStart; {
	case top.set != nil:
		_, dup = top.set[string(k)]
		top.set[string(k)] = struct{}{}
	case n < linearKeys:
		for _, s := range keys[top.keyStart:] {
			if bytes.Equal(s.bytes(data, arena), k) {
				dup = true
				break
			}
		}
		keys = append(keys, span)
	default:
		top.set = make(map[string]struct{}, 2*linearKeys)
		for _, s := range keys[top.keyStart:] {
			top.set[string(s.bytes(data, arena))] = struct{}{}
		}
		_, dup = top.set[string(k)]
		top.set[string(k)] = struct{}{}
	}
	if dup {
		return 0, nil, nil, fmt.Errorf("duplicate key %q", string(k))
	}
	i = SkipSpace(data, end)
	if i >= len(data) || data[i] != ':' {
		return 0, nil, nil, errSyntax
	}
	return SkipSpace(data, i+1), keys, arena, nil
}

// pop closes the innermost container, forgetting its keys.
func pop(frames []frame, keys []keySpan, arena []byte) ([]frame, []keySpan, []byte) {
	f := frames[len(frames)-1]
	frames = frames[:len(frames)-1]
	if f.object {
		keys, arena = keys[:f.keyStart], arena[:f.arenaStart]
	}
	return frames, keys, arena
}

// SkipSpace returns the index of the first byte at or after i in data that
// is not JSON whitespace.
func SkipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// ScanString checks the JSON string starting with the quote at data[i] and
// returns the index after its closing quote. plain reports that it holds
// neither escapes nor non-ASCII bytes, so its content is its decoded value.
func ScanString(data []byte, i int) (end int, plain, ok bool) {
	plain = true
	for i++; i < len(data); {
		// Skip the run of bytes that stand for themselves: most of every
		// string htlog logs (tags, ids, codes).
		for i < len(data) && plainByte[data[i]] {
			i++
		}
		if i >= len(data) {
			break
		}
		b := data[i]
		switch {
		case b == '"':
			return i + 1, plain, true
		case b < 0x20:
			return 0, false, false
		case b == '\\':
			plain = false
			if i+1 >= len(data) {
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return 0, false, false
				}
				for _, h := range data[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, false
					}
				}
				i += 6
			default:
				return 0, false, false
			}
		case b >= utf8.RuneSelf:
			plain = false // may be invalid UTF-8, which decodes to U+FFFD
			i++
		default:
			i++
		}
	}
	return 0, false, false
}

// plainByte reports the bytes a JSON string holds as themselves: printable
// ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

// scanNumber checks the JSON number starting at data[i] and returns the
// index after it.
func scanNumber(data []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(data) && '0' <= data[j] && data[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i, _ = digits(i)
	default:
		return 0, false
	}
	var ok bool
	if i < len(data) && data[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return 0, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return 0, false
		}
	}
	return i, true
}

// appendUnquoted appends the decoded value of s, the content of a JSON
// string ScanString accepted, exactly as encoding/json decodes it: invalid
// UTF-8 bytes and unpaired surrogates become U+FFFD.
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := hex4(s[r+2:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:])); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							r += 6
							continue
						}
					}
					rr = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst
}

// hex4 decodes four hex digits ScanString has checked.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// WalkStrings calls fn for every string value (not key) in the JSON value
// data, in document order, with its path ("/key" per object member, "[]"
// per array element, keys decoded) and its decoded value. Both slices are
// only valid during the call. It returns an error, having called fn for
// some values, when data is not one JSON value; it does not look for
// duplicate keys (ParseEvent has).
func WalkStrings(data []byte, fn func(path, value []byte)) error {
	w := stringWalker{data: data, fn: fn}
	i, err := w.value(SkipSpace(data, 0), 0)
	if err != nil {
		return err
	}
	if SkipSpace(data, i) != len(data) {
		return errSyntax
	}
	return nil
}

type stringWalker struct {
	data    []byte
	fn      func(path, value []byte)
	path    []byte
	scratch []byte
}

// value walks the value at data[i] and returns the index after it.
func (w *stringWalker) value(i, depth int) (int, error) {
	data := w.data
	if i >= len(data) {
		return 0, errSyntax
	}
	switch b := data[i]; {
	case b == '"':
		end, plain, ok := ScanString(data, i)
		if !ok {
			return 0, errSyntax
		}
		if plain {
			w.fn(w.path, data[i+1:end-1])
		} else {
			w.scratch = appendUnquoted(w.scratch[:0], data[i+1:end-1])
			w.fn(w.path, w.scratch)
		}
		return end, nil
	case b == '{' || b == '[':
		if depth >= MaxDepth {
			return 0, errSyntax
		}
		closing := byte(']')
		if b == '{' {
			closing = '}'
		}
		i = SkipSpace(data, i+1)
		if i < len(data) && data[i] == closing {
			return i + 1, nil
		}
		base := len(w.path)
		for {
			if b == '{' {
				if i >= len(data) || data[i] != '"' {
					return 0, errSyntax
				}
				end, plain, ok := ScanString(data, i)
				if !ok {
					return 0, errSyntax
				}
				w.path = append(w.path, '/')
				if plain {
					w.path = append(w.path, data[i+1:end-1]...)
				} else {
					w.path = appendUnquoted(w.path, data[i+1:end-1])
				}
				if i = SkipSpace(data, end); i >= len(data) || data[i] != ':' {
					return 0, errSyntax
				}
				i = SkipSpace(data, i+1)
			} else {
				w.path = append(w.path, "[]"...)
			}
			var err error
			if i, err = w.value(i, depth+1); err != nil {
				return 0, err
			}
			w.path = w.path[:base]
			switch i = SkipSpace(data, i); {
			case i < len(data) && data[i] == ',':
				i = SkipSpace(data, i+1)
			case i < len(data) && data[i] == closing:
				return i + 1, nil
			default:
				return 0, errSyntax
			}
		}
	case b == 't' && bytes.HasPrefix(data[i:], []byte("true")):
		return i + 4, nil
	case b == 'f' && bytes.HasPrefix(data[i:], []byte("false")):
		return i + 5, nil
	case b == 'n' && bytes.HasPrefix(data[i:], []byte("null")):
		return i + 4, nil
	case b == '-' || '0' <= b && b <= '9':
		end, ok := scanNumber(data, i)
		if !ok {
			return 0, errSyntax
		}
		return end, nil
	}
	return 0, errSyntax
}
