// Package phi is htlog's last line of defence against protected health
// information: Scan looks at whatever free text an event still carries and
// reports whether it looks like it identifies a person.
//
// Every string an event carries becomes public forever. The event schemas
// already allow almost no text: organisations, sites, products and trials are
// identifiers (see internal/ident), and the few text fields left are trial
// titles, outcome measures, lot numbers and short system names. Scan runs on
// those at submission, in the log's admission check, and again in the
// monitor's replay, and refuses the event when it finds:
//
//   - a US social security number (123-45-6789, "SSN 123456789");
//   - a phone number (555-123-4567, (555) 123-4567, +1 555 123 4567,
//     +44 20 7946 0958, ten digits after "tel" or "phone");
//   - an e-mail address;
//   - a medical record number: a number after MRN, chart, acct, patient id
//     and the like, or any run of seven or more digits;
//   - a full calendar date with a year from 1900 to 2029, which these fields
//     have no reason to carry, so it is taken for a date of birth;
//   - a postal address: a house number and a street, a PO box, an apartment,
//     a US ZIP+4 or state and ZIP, a UK postcode;
//   - a personal name: a word on the bundled list of common given names and
//     surnames that is not also an English word, a medical term or part of
//     an eponym ("Hamilton Depression Rating Scale"), or a capitalised word
//     after a title such as Dr or Mrs.
//
// Digits that belong to an identifier htlog allows in clear are not counted
// as record numbers or dates: values after gln:, npi:, urn:oid:, urn:epc:id:,
// sha256:, tag:v1: and commit:v1:, trial registry ids such as NCT01234567,
// and GS1 keys right after "gtin", "gln" or "sscc".
//
// Scan is a heuristic tuned to refuse rather than to admit: it will refuse
// some harmless strings and cannot promise to catch every identifier. It never
// returns, logs or keeps the text it found, only its Kind, so that a refusal
// does not itself leak what it refused.
package phi

// Kind names the kind of identifier Scan found, phrased to follow "looks
// like": "a US social security number", "a phone number", ...
type Kind string

// The kinds of identifier Scan reports.
const (
	SSN          Kind = "a US social security number"
	Phone        Kind = "a phone number"
	Email        Kind = "an e-mail address"
	RecordNumber Kind = "a medical record number"
	BirthDate    Kind = "a date of birth"
	Address      Kind = "a postal address"
	Name         Kind = "a personal name"
)

// Scan returns the first kind of identifier found in s, or "" and false when
// s looks clean. Kinds are tried from the most specific to the least, in the
// order e-mail address, social security number, phone number, record number
// after a keyword, date, any long run of digits, postal address, personal
// name; so "dob:19700302" is a date of birth, not a record number.
//
// Scan is safe for concurrent use and does not allocate on strings of up to
// 64 words.
func Scan(s string) (Kind, bool) {
	if s == "" {
		return "", false
	}
	var buf [64]token
	t := tokenize(s, buf[:0])
	sc := scanner{s: s, t: t}
	if k := sc.scan(); k != "" {
		return k, true
	}
	return "", false
}

// A token is a run of letters or a run of ASCII digits in the scanned string.
type token struct {
	start, end int
	digits     bool
	upper      uint8 // letters: upFirst, upAll, as written
	class      uint32
}

const (
	upFirst = 1 << iota
	upAll
)

// scanner holds one string and its tokens while detectors look at them.
type scanner struct {
	s string
	t []token
}

func (sc *scanner) scan() Kind {
	if sc.email() {
		return Email
	}
	if len(sc.t) == 0 {
		return ""
	}
	if k := sc.numbers(); k != "" {
		return k
	}
	if k := sc.words(); k != "" {
		return k
	}
	return ""
}

// text returns the bytes of token i.
func (sc *scanner) text(i int) string { return sc.s[sc.t[i].start:sc.t[i].end] }

// sep returns the bytes between token i and token i+1.
func (sc *scanner) sep(i int) string {
	if i < 0 || i >= len(sc.t) {
		return ""
	}
	if i+1 >= len(sc.t) {
		return sc.s[sc.t[i].end:]
	}
	return sc.s[sc.t[i].end:sc.t[i+1].start]
}

// before returns the bytes between token i-1 and token i.
func (sc *scanner) before(i int) string {
	if i >= len(sc.t) {
		return ""
	}
	if i == 0 {
		return sc.s[:sc.t[0].start]
	}
	return sc.s[sc.t[i-1].end:sc.t[i].start]
}

// num returns the value of digit token i, or -1 when it has over 9 digits.
func (sc *scanner) num(i int) int {
	if sc.t[i].end-sc.t[i].start > 9 {
		return -1
	}
	n := 0
	for _, c := range []byte(sc.text(i)) {
		n = n*10 + int(c-'0')
	}
	return n
}

func (sc *scanner) isDigits(i, minLen, maxLen int) bool {
	if i < 0 || i >= len(sc.t) || !sc.t[i].digits {
		return false
	}
	n := sc.t[i].end - sc.t[i].start
	return n >= minLen && n <= maxLen
}

func (sc *scanner) is(i int, class uint32) bool {
	return i >= 0 && i < len(sc.t) && !sc.t[i].digits && sc.t[i].class&class != 0
}

// adjacent reports whether token i is immediately followed by token i+1.
func (sc *scanner) adjacent(i int) bool {
	return i+1 < len(sc.t) && sc.t[i].end == sc.t[i+1].start
}
