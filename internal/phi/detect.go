package phi

import (
	"strings"

	"github.com/htlog/htlog/internal/ident"
)

// email reports whether s contains local@domain.tld.
func (sc *scanner) email() bool {
	s := sc.s
	for off := 0; ; {
		at := strings.IndexByte(s[off:], '@')
		if at < 0 {
			return false
		}
		at += off
		off = at + 1
		if at == 0 || !isLocalChar(s[at-1]) {
			continue
		}
		// domain: labels of letters, digits and hyphens; the last one of
		// two or more letters.
		j, labelStart, dots, tldLetters := at+1, at+1, 0, true
		for ; j < len(s); j++ {
			c := s[j]
			if c == '.' {
				if j == labelStart {
					break
				}
				dots++
				labelStart, tldLetters = j+1, true
				continue
			}
			if !isAlnum(c) && c != '-' {
				break
			}
			if !isASCIILetter(c) {
				tldLetters = false
			}
		}
		if dots > 0 && j-labelStart >= 2 && tldLetters {
			return true
		}
		// "name@example.org." ends with a dot that is punctuation.
		if dots > 1 && j == labelStart && j-1 > at {
			return true
		}
	}
}

func isLocalChar(c byte) bool { return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 }

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isASCIILetter(c) || '0' <= c && c <= '9' }

// numbers runs the detectors that need digits.
func (sc *scanner) numbers() Kind {
	has := false
	for _, t := range sc.t {
		if t.digits {
			has = true
			break
		}
	}
	if !has {
		return ""
	}
	k := sc.ssn()
	if k == "" {
		k = sc.phone()
	}
	if k == "" {
		k = sc.recordAfterKeyword()
	}
	if k == "" {
		k = sc.date()
	}
	if k == "" {
		k = sc.longRun()
	}
	if k == "" {
		k = sc.address()
	}
	return k
}

// onlyOf reports whether sep is at most max bytes, all from set.
func onlyOf(sep, set string, max int) bool {
	if len(sep) > max {
		return false
	}
	for i := 0; i < len(sep); i++ {
		if strings.IndexByte(set, sep[i]) < 0 {
			return false
		}
	}
	return true
}

func (sc *scanner) ssn() Kind {
	for i := range sc.t {
		if sc.isDigits(i, 3, 3) && sc.isDigits(i+1, 2, 2) && sc.isDigits(i+2, 4, 4) &&
			sc.sep(i) == sc.sep(i+1) && (sc.sep(i) == "-" || sc.sep(i) == " ") && !sc.allowed(i) {
			return SSN
		}
		if sc.is(i, cSSN) && onlyOf(sc.sep(i), " :#.-=_", 4) &&
			(sc.isDigits(i+1, 9, 9) || sc.isDigits(i+1, 3, 3) && sc.isDigits(i+2, 2, 2) && sc.isDigits(i+3, 4, 4)) {
			return SSN
		}
	}
	return ""
}

func (sc *scanner) phone() Kind {
	for i := range sc.t {
		if !sc.t[i].digits {
			if sc.is(i, cPhone) && onlyOf(sc.sep(i), " :#.-=_", 4) &&
				(sc.isDigits(i+1, 10, 10) || sc.isDigits(i+1, 11, 11) && sc.text(i + 1)[0] == '1') {
				return Phone
			}
			continue
		}
		// +CC and groups: 8 to 15 digits in all.
		if b := sc.before(i); strings.HasSuffix(b, "+") && (len(b) == 1 || !isAlnum(b[len(b)-2])) {
			n, j := 0, i
			for ; j < len(sc.t) && sc.t[j].digits; j++ {
				n += sc.t[j].end - sc.t[j].start
				if !onlyOf(sc.sep(j), " -.()", 3) || sc.sep(j) == "" {
					break
				}
			}
			if n >= 8 && n <= 15 && !sc.allowed(i) {
				return Phone
			}
		}
		// North American: 555-123-4567, (555) 123-4567, 555.123.4567.
		if sc.isDigits(i, 3, 3) && sc.isDigits(i+1, 3, 3) && sc.isDigits(i+2, 4, 4) {
			s1, s2 := sc.sep(i), sc.sep(i+1)
			paren := strings.HasSuffix(sc.before(i), "(") && (s1 == ")" || s1 == ") " || s1 == ")-")
			if (paren || s1 == "-" || s1 == "." || s1 == " ") && (s2 == "-" || s2 == "." || s2 == " ") && !sc.allowed(i) {
				return Phone
			}
		}
		// National forms with a trunk 0: 020 7946 0958, 07700 900123.
		if sc.isDigits(i, 3, 5) && sc.text(i)[0] == '0' {
			n, groups := 0, 0
			for j := i; j < len(sc.t) && sc.isDigits(j, 3, 8); j++ {
				n += sc.t[j].end - sc.t[j].start
				groups++
				if sep := sc.sep(j); sep != " " && sep != "-" {
					break
				}
			}
			if groups > 1 && n >= 10 && n <= 11 && !sc.allowed(i) {
				return Phone
			}
		}
	}
	return ""
}

func (sc *scanner) recordAfterKeyword() Kind {
	for i := range sc.t {
		if !sc.is(i, cRecord|cTitle) {
			continue
		}
		w := sc.text(i)
		needNumberWord := false
		switch {
		case strings.EqualFold(w, "mr"):
			if !strings.HasPrefix(sc.sep(i), "#") {
				continue
			}
		case sc.t[i].class&cRecord == 0:
			continue
		case strings.EqualFold(w, "record"):
			if i == 0 || !(strings.EqualFold(sc.text(i-1), "medical") || strings.EqualFold(sc.text(i-1), "health")) {
				continue
			}
		case strings.EqualFold(w, "mrn"), strings.EqualFold(w, "chart"), strings.EqualFold(w, "acct"), strings.EqualFold(w, "account"):
		default:
			needNumberWord = !strings.HasPrefix(sc.sep(i), "#")
		}
		j := i + 1
		if sc.is(j, cNumberWord) && onlyOf(sc.sep(i), " :#.-_", 3) {
			j++
			needNumberWord = false
		}
		if needNumberWord || !onlyOf(sc.sep(j-1), " :#.-=_", 4) {
			continue
		}
		if sc.isDigits(j, 5, 40) && !sc.allowed(j) {
			return RecordNumber
		}
	}
	return ""
}

// Years a date of birth can have.
const minYear, maxYear = 1900, 2029

func validDate(y, m, d int) bool {
	if y < minYear || y > maxYear || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && (y%4 != 0 || y%100 == 0 && y%400 != 0) {
		days = 28
	}
	return d <= days
}

func (sc *scanner) date() Kind {
	for i := range sc.t {
		if !sc.t[i].digits {
			if sc.is(i, cMonth) && sc.monthFirst(i) && !sc.allowed(i) {
				return BirthDate
			}
			if (sc.is(i, cDOB) || sc.text(i) == "b" || sc.text(i) == "B") && sc.afterDOB(i) {
				return BirthDate
			}
			continue
		}
		s1, s2 := sc.sep(i), sc.sep(i+1)
		sameSep := s1 == s2 && (s1 == "-" || s1 == "/" || s1 == ".")
		switch {
		case sameSep && sc.isDigits(i, 4, 4) && sc.isDigits(i+1, 1, 2) && sc.isDigits(i+2, 1, 2) &&
			validDate(sc.num(i), sc.num(i+1), sc.num(i+2)) && !sc.allowed(i):
			return BirthDate
		case sameSep && sc.isDigits(i, 1, 2) && sc.isDigits(i+1, 1, 2) && sc.isDigits(i+2, 4, 4) &&
			(validDate(sc.num(i+2), sc.num(i), sc.num(i+1)) || validDate(sc.num(i+2), sc.num(i+1), sc.num(i))) &&
			!sc.allowed(i):
			return BirthDate
		case sc.isDigits(i, 8, 8):
			n := sc.num(i)
			if validDate(n/10000, n/100%100, n%100) && !sc.allowed(i) {
				return BirthDate
			}
		case sc.isDigits(i, 1, 2) && sc.dayFirst(i) && !sc.allowed(i):
			return BirthDate
		}
	}
	return ""
}

const dateSep = " -/.,"

// dayFirst reports whether digit token i starts "2 March 1970" or
// "2nd Mar. 1970" or "02MAR1970".
func (sc *scanner) dayFirst(i int) bool {
	j := i + 1
	if sc.is(j, cOrdinal) && sc.adjacent(i) {
		j++
	}
	if !sc.is(j, cMonth) || !onlyOf(sc.sep(j-1), dateSep, 3) || !onlyOf(sc.sep(j), dateSep, 3) ||
		!sc.isDigits(j+1, 4, 4) {
		return false
	}
	return validDate(sc.num(j+1), int(sc.t[j].class>>monthShift), sc.num(i))
}

// monthFirst reports whether month token i starts "March 2, 1970".
func (sc *scanner) monthFirst(i int) bool {
	if !onlyOf(sc.sep(i), dateSep, 3) || !sc.isDigits(i+1, 1, 2) {
		return false
	}
	j := i + 2
	if sc.is(j, cOrdinal) && sc.adjacent(i+1) {
		j++
	}
	if !onlyOf(sc.sep(j-1), dateSep, 3) || !sc.isDigits(j, 4, 4) {
		return false
	}
	return validDate(sc.num(j), int(sc.t[i].class>>monthShift), sc.num(i+1))
}

// afterDOB reports whether the keyword at i ("dob", "born", "b.") is followed
// by a date, even one with a two-digit year: "DOB 3/2/70".
func (sc *scanner) afterDOB(i int) bool {
	if (sc.text(i) == "b" || sc.text(i) == "B") && !strings.HasPrefix(sc.sep(i), ".") {
		return false
	}
	if !onlyOf(sc.sep(i), " :#.-=_", 4) || !sc.isDigits(i+1, 1, 4) {
		return false
	}
	s1, s2 := sc.sep(i+1), sc.sep(i+2)
	return s1 == s2 && (s1 == "-" || s1 == "/" || s1 == ".") && sc.isDigits(i+2, 1, 2) && sc.isDigits(i+3, 2, 4)
}

func (sc *scanner) longRun() Kind {
	for i := range sc.t {
		if sc.isDigits(i, 7, len(sc.s)) && !sc.allowed(i) {
			return RecordNumber
		}
	}
	return ""
}

func (sc *scanner) address() Kind {
	for i := range sc.t {
		if sc.t[i].digits {
			if sc.street(i) || sc.zip(i) {
				return Address
			}
			continue
		}
		if sc.is(i, cUnit) && onlyOf(sc.sep(i), " .#:", 3) && sc.isDigits(i+1, 1, 5) {
			return Address
		}
		if sc.is(i, cBox) && onlyOf(sc.sep(i), " .#:", 3) && sc.isDigits(i+1, 1, 6) &&
			(sc.is(i-1, cPO) || i >= 2 && strings.EqualFold(sc.text(i-1), "o") && strings.EqualFold(sc.text(i-2), "p")) {
			return Address
		}
		if sc.is(i, cState) && sc.t[i].end-sc.t[i].start == 2 && sc.isDigits(i+1, 5, 5) &&
			onlyOf(sc.sep(i), " ", 2) && sc.sep(i) != "" &&
			(sc.t[i].upper&upAll != 0 || strings.HasSuffix(sc.before(i), ",") || strings.HasSuffix(sc.before(i), ", ")) &&
			(i+2 >= len(sc.t) || !sc.adjacent(i+1)) {
			return Address
		}
		if sc.postcode(i) {
			return Address
		}
	}
	return ""
}

// street reports whether digit token i starts "123 Main Street", "221B Baker
// St" or "1600 Pennsylvania Ave NW".
func (sc *scanner) street(i int) bool {
	if !sc.isDigits(i, 1, 6) {
		return false
	}
	if b := sc.before(i); b != "" && !strings.ContainsAny(b[len(b)-1:], " ,#(") {
		return false
	}
	j := i + 1
	if j < len(sc.t) && !sc.t[j].digits && sc.adjacent(i) && sc.t[j].end-sc.t[j].start == 1 {
		j++ // 221B
	}
	if !onlyOf(sc.sep(j-1), " ", 2) || sc.sep(j-1) == "" {
		return false
	}
	for k := j; k < j+4 && k < len(sc.t) && !sc.t[k].digits; k++ {
		if k > j && sc.is(k, cStreet) && (k+1 >= len(sc.t) || !sc.adjacent(k)) {
			return !sc.allowed(i)
		}
		if !onlyOf(sc.sep(k), " .", 2) || sc.sep(k) == "" {
			return false
		}
	}
	return false
}

// zip reports whether digit token i starts a ZIP+4 code, 12345-6789.
func (sc *scanner) zip(i int) bool {
	if !sc.isDigits(i, 5, 5) || sc.sep(i) != "-" || !sc.isDigits(i+1, 4, 4) {
		return false
	}
	if b := sc.before(i); b != "" && strings.ContainsAny(b[len(b)-1:], "-/.") && i > 0 {
		return false
	}
	if i+2 < len(sc.t) && sc.t[i+2].digits && onlyOf(sc.sep(i+1), "-/.", 1) {
		return false
	}
	return !sc.allowed(i)
}

// postcode reports whether letter token i starts a UK postcode: one or two
// letters, a digit, an optional letter or digit, an optional space, then a
// digit and two letters (not C, I, K, M, O or V), as in SW1A 2AA or M1 1AE.
func (sc *scanner) postcode(i int) bool {
	t := sc.t[i]
	if t.end-t.start > 2 || !sc.isDigits(i+1, 1, 3) || !sc.adjacent(i) {
		return false
	}
	if i > 0 && sc.adjacent(i-1) {
		return false
	}
	s := sc.s
	p := t.end + 1 // after the district's first digit
	for _, opt := range []bool{true, false} {
		q := p
		if opt {
			if q >= len(s) || !isAlnum(s[q]) {
				continue
			}
			q++
		}
		if q < len(s) && s[q] == ' ' {
			q++
		}
		if q+3 > len(s) || s[q] < '0' || s[q] > '9' || !inwardLetter(s[q+1]) || !inwardLetter(s[q+2]) {
			continue
		}
		if q+3 < len(s) && isAlnum(s[q+3]) || s[q] > '0' && isOrdinal(s[q], s[q+1:q+3]) {
			continue
		}
		return !sc.allowed(i)
	}
	return false
}

func inwardLetter(c byte) bool {
	return isASCIILetter(c) && strings.IndexByte("cikmovCIKMOV", c) < 0
}

// isOrdinal reports whether digit d and two letters spell 1st, 2nd, 3rd, 4th.
func isOrdinal(d byte, suffix string) bool {
	want := "th"
	switch d {
	case '1':
		want = "st"
	case '2':
		want = "nd"
	case '3':
		want = "rd"
	}
	return strings.EqualFold(suffix, want)
}

// words runs the detectors of personal names.
func (sc *scanner) words() Kind {
	for i := range sc.t {
		t := sc.t[i]
		if t.digits {
			continue
		}
		if t.class&cTitle != 0 && t.upper == upFirst && i+1 < len(sc.t) && !sc.t[i+1].digits &&
			sc.t[i+1].upper&upFirst != 0 && onlyOf(sc.sep(i), ". _", 2) && sc.sep(i) != "" && !sc.allowed(i) {
			return Name
		}
		if t.class&(cName|cStop) != cName {
			continue
		}
		if n := t.end - t.start; n <= 3 && t.upper&upAll != 0 && n >= 2 {
			continue // an acronym: ANA, ADA, TIM-3
		}
		if sc.eponym(i) || sc.allowed(i) {
			continue
		}
		return Name
	}
	return ""
}

// eponym reports whether name token i is part of an eponym or a company
// name: within the next five words, joined only by spaces, hyphens,
// apostrophes and ampersands, comes a word such as disease, scale, test or
// pharmaceuticals.
func (sc *scanner) eponym(i int) bool {
	for j := i + 1; j < len(sc.t) && j <= i+5; j++ {
		if !onlyOf(sc.sep(j-1), " -'&/", 3) && !isApostrophe(sc.sep(j-1)) {
			return false
		}
		if sc.is(j, cContext) {
			return true
		}
	}
	return false
}

func isApostrophe(sep string) bool { return sep == "’" || sep == "’s " }

// allowedPrefixes introduce identifiers htlog allows in clear.
var allowedPrefixes = []string{"gln:", "npi:", "urn:oid:", "urn:epc:id:", "sha256:", "tag:v1:", "commit:v1:", "gtin:", "sscc:"}

// allowed reports whether token i lies in an identifier that htlog allows in
// clear, and so is not a record number, a date or a name.
func (sc *scanner) allowed(i int) bool {
	s, pos := sc.s, sc.t[i].start
	a, b := pos, sc.t[i].end
	for a > 0 && !isWordBreak(s[a-1]) {
		a--
	}
	for b < len(s) && !isWordBreak(s[b]) {
		b++
	}
	word := s[a:b]
	for _, p := range allowedPrefixes {
		for off := 0; off+len(p) <= len(word); {
			k := indexFold(word[off:], p)
			if k < 0 {
				break
			}
			k += off
			off = k + 1
			if k > 0 && isAlnum(word[k-1]) {
				continue
			}
			v := k + len(p)
			e := v
			for e < len(word) && (isAlnum(word[e]) || strings.IndexByte("._:%-", word[e]) >= 0) {
				e++
			}
			if pos < a+k || pos >= a+e {
				continue
			}
			value := strings.TrimRight(word[v:e], ".:")
			switch p {
			case "gln:":
				return ident.GLN(value)
			case "npi:":
				return ident.NPI(value)
			case "gtin:", "sscc:":
				return ident.GS1(value)
			}
			return true
		}
	}
	// A copy, so that the scanned string does not escape to the heap
	// through the registries' regular expressions: allowed runs only on
	// candidate findings, Scan's common path stays free of allocations.
	trimmed := strings.Clone(strings.TrimRight(word, ".:"))
	if ident.TrialID(trimmed) || ident.TrialID(strings.ToUpper(trimmed)) || trialIDFold(trimmed) {
		return true
	}
	// A trial id as one segment of a URL path or query (a results page).
	if strings.ContainsAny(word, "/?&#") {
		c, d := pos, pos
		for c > a && strings.IndexByte("/?&#=", s[c-1]) < 0 {
			c--
		}
		for d < b && strings.IndexByte("/?&#", s[d]) < 0 {
			d++
		}
		if seg := strings.Clone(s[c:d]); ident.TrialID(seg) || ident.TrialID(strings.ToUpper(seg)) {
			return true
		}
	}
	// A terminology code right after its system's name: SNOMED CT 44054006.
	if sc.t[i].digits {
		for k, words := i-1, 0; k >= 0 && words < 2 && onlyOf(s[sc.t[k].end:sc.t[k+1].start], " :#=-/", 4); k-- {
			if sc.t[k].digits {
				break
			}
			if sc.t[k].class&cCode != 0 {
				return true
			}
			words++
		}
	}
	// A GS1 key right after "gtin", "gln" or "sscc".
	if ident.GS1(trimmed) {
		for k := i - 1; k >= 0 && sc.t[k].end <= a; k-- {
			if !sc.t[k].digits {
				return sc.t[k].class&cGS1 != 0 && onlyOf(s[sc.t[k].end:a], " :#=", 4)
			}
		}
	}
	return false
}

// trialIDFold tries the registries whose ids mix cases (ChiCTR, jRCT) on a
// word typed in another case.
func trialIDFold(w string) bool {
	if len(w) < 6 {
		return false
	}
	switch {
	case strings.EqualFold(w[:6], "chictr"):
		return ident.TrialID("ChiCTR" + strings.ToUpper(w[6:]))
	case strings.EqualFold(w[:4], "jrct"):
		return ident.TrialID("jRCT" + strings.ToLower(w[4:]))
	case len(w) > 9 && strings.EqualFold(w[:9], "jprn-jrct"):
		return ident.TrialID("JPRN-jRCT" + strings.ToLower(w[9:]))
	}
	return false
}

func isWordBreak(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || strings.IndexByte(",;()[]{}\"'<>=|", c) >= 0
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring case.
func indexFold(s, lowerNeedle string) int {
	for i := 0; i+len(lowerNeedle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(lowerNeedle)], lowerNeedle) {
			return i
		}
	}
	return -1
}
