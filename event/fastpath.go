package event

import (
	"bytes"
	"encoding/base64"
	"github.com/htlog/htlog/internal/strictjson"
	"strconv"
)

// The fast paths below parse the two documents every logged entry holds,
// the canonical envelope and its event payload, without encoding/json's
// reflection. Their contract is one-sided: when ok is true the result is
// exactly what the strict path would have returned for the same input;
// when ok is false nothing is known and the caller runs the strict path,
// which also words every error. So they give up on anything unusual (an
// escape in a string, a null, an unknown or differently spelled key, a
// number that is not a small integer) instead of reproducing encoding/json's
// handling of it. FuzzFastPaths compares both with the strict path.

// parseCanonicalEnvelope matches data against the canonical form Marshal
// writes,
//
//	{"payloadType":"…","payload":"…","signatures":[{"keyid":"…","sig":"…"}]}
//
// byte for byte. The payload type must be htlog's, the key id must hold
// only characters json.Marshal copies verbatim, and the two base64 fields
// must be exactly what
// base64.StdEncoding writes for their decoded bytes, so that Marshal of the
// result gives back data: the strict path would have found data canonical
// and decoded this very envelope.
func parseCanonicalEnvelope(data []byte) (*Envelope, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"payloadType":"`))
	if !ok {
		return nil, false
	}
	// Every htlog envelope has the one payload type (check refuses others):
	// sharing the constant saves an allocation.
	payloadType := PayloadType
	if rest, ok = bytes.CutPrefix(rest, []byte(PayloadType+`"`)); !ok {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"payload":"`)); !ok {
		return nil, false
	}
	payload, rest, ok := cutBase64(rest)
	if !ok {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"signatures":[{"keyid":"`)); !ok {
		return nil, false
	}
	keyID, rest, ok := cutVerbatim(rest)
	if !ok {
		return nil, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"sig":"`)); !ok {
		return nil, false
	}
	sig, rest, ok := cutBase64(rest)
	if !ok || string(rest) != `}]}` {
		return nil, false
	}
	return &Envelope{PayloadType: payloadType, Payload: payload,
		Signatures: []Signature{{KeyID: keyID, Sig: sig}}}, true
}

// cutVerbatim reads a JSON string's content up to its closing quote (and
// the quote) if json.Marshal would write its value unchanged: printable
// ASCII other than the quote, the backslash and the HTML characters
// Marshal escapes (<, > and &).
func cutVerbatim(b []byte) (s string, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return string(b[:i]), b[i+1:], true
		case c < 0x20 || c >= 0x7f || c == '\\' || c == '<' || c == '>' || c == '&':
			return "", nil, false
		}
	}
	return "", nil, false
}

// cutBase64 reads a base64 JSON string's content up to its closing quote
// (and the quote) if it is exactly what base64.StdEncoding writes for the
// bytes it decodes to, which are then what encoding/json decodes it to.
// The strict decoder refuses nonzero padding bits and, like encoding/json's,
// skips line breaks, which the length check refuses.
func cutBase64(b []byte) (decoded, rest []byte, ok bool) {
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return nil, nil, false
	}
	enc := b[:end]
	decoded = make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Strict().Decode(decoded, enc)
	if err != nil || base64.StdEncoding.EncodedLen(n) != len(enc) {
		return nil, nil, false
	}
	return decoded[:n], b[end+1:], true
}

// parseEventFast decodes a payload into an Event as strictjson.Decode would,
// doing strictjson.Check's work on the way: it accepts only strictly valid JSON,
// refuses a repeated member (bitmasks for the envelope's few fields) and
// hands the body to strictjson.ScanValue, the scanner behind strictjson.Check, which also
// finds where the body ends. So the payload is read once, not twice.
func parseEventFast(payload []byte) (*Event, bool) {
	p := fastParser{data: payload}
	p.skipSpace()
	if !p.consume('{') {
		return nil, false
	}
	ev := new(Event)
	if p.consume('}') {
		return ev, p.end()
	}
	var seen uint
	for {
		key, ok := p.plainString()
		if !ok || !p.consume(':') {
			return nil, false
		}
		var bit uint
		switch string(key) {
		case "kind":
			bit = 1 << 0
			ev.Kind, ok = p.stringValue()
		case "version":
			bit = 1 << 1
			ev.Version, ok = p.smallInt()
		case "occurred_at":
			bit = 1 << 2
			ev.OccurredAt, ok = p.stringValue()
		case "submitter":
			bit = 1 << 3
			ok = p.submitter(&ev.Submitter)
		case "supersedes":
			bit = 1 << 4
			ev.Supersedes, ok = p.stringArray()
		case "body":
			bit = 1 << 5
			ev.Body, ok = p.object()
		default:
			ok = false
		}
		if !ok || seen&bit != 0 {
			return nil, false
		}
		seen |= bit
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return ev, p.end()
		}
		return nil, false
	}
}

// fastParser walks a JSON value strictly; any surprise is a give-up, so it
// never needs to word an error.
type fastParser struct {
	data []byte
	i    int
}

func (p *fastParser) skipSpace() { p.i = strictjson.SkipSpace(p.data, p.i) }

// consume skips c and the whitespace after it if c comes next.
func (p *fastParser) consume(c byte) bool {
	if p.i < len(p.data) && p.data[p.i] == c {
		p.i = strictjson.SkipSpace(p.data, p.i+1)
		return true
	}
	return false
}

// end reports whether nothing but whitespace is left.
func (p *fastParser) end() bool { return strictjson.SkipSpace(p.data, p.i) == len(p.data) }

// plainString reads a string without escapes or non-ASCII bytes (so its
// bytes are its value) and the whitespace after it.
func (p *fastParser) plainString() ([]byte, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '"' {
		return nil, false
	}
	end, plain, ok := strictjson.ScanString(p.data, p.i)
	if !ok || !plain {
		return nil, false
	}
	s := p.data[p.i+1 : end-1]
	p.i = strictjson.SkipSpace(p.data, end)
	return s, true
}

func (p *fastParser) stringValue() (string, bool) {
	s, ok := p.plainString()
	return string(s), ok
}

// smallInt reads a non-negative integer of at most 18 digits, which
// encoding/json decodes into an int exactly as strconv.Atoi does.
func (p *fastParser) smallInt() (int, bool) {
	j := p.i
	for j < len(p.data) && '0' <= p.data[j] && p.data[j] <= '9' {
		j++
	}
	lit := p.data[p.i:j]
	if len(lit) == 0 || len(lit) > 18 || len(lit) > 1 && lit[0] == '0' {
		return 0, false
	}
	if j < len(p.data) && (p.data[j] == '.' || p.data[j] == 'e' || p.data[j] == 'E') {
		return 0, false
	}
	n, err := strconv.Atoi(string(lit))
	if err != nil {
		return 0, false
	}
	p.i = strictjson.SkipSpace(p.data, j)
	return n, true
}

func (p *fastParser) submitter(s *Submitter) bool {
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return true
	}
	var seen uint
	for {
		key, ok := p.plainString()
		if !ok || !p.consume(':') {
			return false
		}
		var bit uint
		switch string(key) {
		case "org":
			bit = 1 << 0
			s.Org, ok = p.stringValue()
		case "key_id":
			bit = 1 << 1
			s.KeyID, ok = p.stringValue()
		default:
			ok = false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if p.consume(',') {
			continue
		}
		return p.consume('}')
	}
}

// stringArray reads an array of plain strings; [] gives an empty, non-nil
// slice, as encoding/json does.
func (p *fastParser) stringArray() ([]string, bool) {
	if !p.consume('[') {
		return nil, false
	}
	out := []string{}
	if p.consume(']') {
		return out, true
	}
	for {
		s, ok := p.stringValue()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if p.consume(',') {
			continue
		}
		if p.consume(']') {
			return out, true
		}
		return nil, false
	}
}

// object returns a copy of the object at p.i, from its opening brace to
// its closing one, as json.RawMessage's decoding does, once strictjson.ScanValue has
// checked it as strictjson.Check would inside the payload (one level less deep).
func (p *fastParser) object() ([]byte, bool) {
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, false
	}
	n, err := strictjson.ScanValue(p.data[p.i:], strictjson.MaxDepth-1)
	if err != nil {
		return nil, false
	}
	body := bytes.Clone(p.data[p.i : p.i+n])
	p.i = strictjson.SkipSpace(p.data, p.i+n)
	return body, true
}
