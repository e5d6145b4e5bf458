package phi

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Word classes: what a letter token can mean to the detectors. One map lookup
// per token gives all of them.
const (
	cName       uint32 = 1 << iota // a common given name or surname (names.txt)
	cStop                          // never a name (stop.txt)
	cContext                       // makes a name before it part of an eponym
	cMonth                         // a month; its number is in bits monthShift+
	cStreet                        // a street type: street, ave, rd ...
	cRecord                        // introduces a record number: mrn, chart ...
	cPhone                         // introduces a phone number: tel, phone ...
	cSSN                           // introduces a social security number
	cDOB                           // introduces a date of birth: dob, born ...
	cTitle                         // a title before a name: dr, mrs ...
	cState                         // a US state or territory abbreviation
	cOrdinal                       // st, nd, rd, th after a day number
	cUnit                          // apt, apartment, suite
	cNumberWord                    // id, no, number ... after a record keyword
	cGS1                           // gtin, gln, sscc: a GS1 key follows
	cBox                           // box, after po
	cPO                            // po
	cCode                          // snomed, loinc ...: a terminology code follows
	monthShift  = 24
)

//go:embed names.txt
var namesTxt string

//go:embed stop.txt
var stopTxt string

var classes = buildClasses()

func buildClasses() map[string]uint32 {
	m := make(map[string]uint32, 5000)
	add := func(c uint32, list string) {
		for _, line := range strings.Split(list, "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, w := range strings.Fields(line) {
				var buf [maxWord]byte
				f, ok := fold(w, buf[:0])
				if !ok {
					panic("phi: unfoldable word " + w)
				}
				m[string(f)] |= c
			}
		}
	}
	// Names of one or two letters collide with abbreviations (Li, Ng, Ho,
	// Le, Do); only these few are kept.
	for _, line := range strings.Split(namesTxt, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, w := range strings.Fields(line) {
			if len(w) >= 3 || w == "wu" || w == "xu" || w == "yu" {
				add(cName, w)
			}
		}
	}
	add(cStop, stopTxt)
	add(cContext, `disease diseases syndrome syndromes scale scales score scores scoring index inventory questionnaire
		criteria criterion classification class staging stage grade grading sign signs reflex test tests formula equation
		estimator estimate estimates curve curves method procedure operation catheter lymphoma sarcoma carcinoma tumor tumour
		tumors tumours palsy ataxia dystrophy disorder phenomenon virus cell cells anemia anaemia esophagus oesophagus angle
		balance assessment protocol position maneuver manoeuvre rank correlation coefficient kappa rule diet fracture ulcer
		neuroma node nodes triad model plot regression equilibrium encephalopathy neuropathy cyst thyroiditis rating
		checklist instrument interview profile battery exam examination tube shunt pouch anastomosis repair technique
		interval exact weighted hazards distribution approximation correction adjustment mental u
		institute university college foundation center centre
		pharma pharmaceutical pharmaceuticals laboratories company corporation inc ltd gmbh llc plc squibb lilly roche`)
	for i, mo := range []string{"jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
		"aug august", "sep sept september", "oct october", "nov november", "dec december"} {
		add(cMonth|uint32(i+1)<<monthShift, mo)
	}
	add(cStreet, "street st avenue ave av road rd boulevard blvd lane drive dr court place way terrace highway hwy parkway pkwy")
	add(cRecord, "mrn chart acct account record patient pt hospital member medicaid medicare nhs")
	add(cNumberWord, "id no nr num number")
	add(cPhone, "tel telephone phone ph mobile cell cellphone fax")
	add(cSSN, "ssn")
	add(cDOB, "dob born birth birthdate birthday")
	add(cTitle, "dr mr mrs ms mx prof")
	add(cState, `al ak az ar ca co ct de dc fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt ne nv nh nj nm ny nc nd oh ok
		or pa ri sc sd tn tx ut vt va wa wv wi wy pr gu vi as mp`)
	add(cOrdinal, "st nd rd th")
	add(cUnit, "apt apartment suite")
	add(cGS1, "gtin gln sscc ean upc")
	add(cCode, "snomed sct snomedct loinc rxnorm rxcui ndc cvx cpt icd atc umls cui hcpcs mesh")
	add(cBox, "box")
	add(cPO, "po")
	return m
}

// maxWord bounds the folded length of a word the scanner looks up; no word
// in any list is longer.
const maxWord = 32

// fold appends to dst the lower-case form of the letters of w with accents
// removed (García -> garcia, Łukasz -> lukasz), dropping combining marks.
// ok is false when the result would not fit in maxWord bytes.
func fold(w string, dst []byte) (f []byte, ok bool) {
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
		} else {
			r, n := utf8.DecodeRuneInString(w[i:])
			i += n
			if unicode.Is(unicode.Mn, r) {
				continue
			}
			r = unicode.ToLower(r)
			if s, ok := accents[r]; ok {
				dst = append(dst, s...)
			} else {
				dst = utf8.AppendRune(dst, r)
			}
		}
		if len(dst) > maxWord {
			return dst, false
		}
	}
	return dst, true
}

// accents folds the lower-case Latin letters names are written with.
var accents = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i"}
	for base, list := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
		"i": "ìíîïĩīĭįİ", "j": "ĵ", "k": "ķ", "l": "ĺļľŀ", "n": "ñńņňŉ", "o": "òóôõöōŏő",
		"r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	} {
		for _, r := range list {
			m[r] = base
		}
	}
	return m
}()

// lookup returns the classes of the letter token w.
func lookup(w string) uint32 {
	var buf [maxWord + utf8.UTFMax]byte
	f, ok := fold(w, buf[:0])
	if !ok {
		return 0
	}
	return classes[string(f)]
}

// tokenize appends to t the tokens of s: runs of letters (any script,
// combining marks included) and runs of ASCII digits. Everything else
// separates tokens.
func tokenize(s string, t []token) []token {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			j := i + 1
			for j < len(s) && '0' <= s[j] && s[j] <= '9' {
				j++
			}
			t = append(t, token{start: i, end: j, digits: true})
			i = j
		case isLetterAt(s, i) > 0:
			j := i
			upper := uint8(upFirst | upAll)
			first := true
			for {
				n := isLetterAt(s, j)
				if n == 0 {
					break
				}
				isUp := n == 1 && 'A' <= s[j] && s[j] <= 'Z'
				if n > 1 {
					r, _ := utf8.DecodeRuneInString(s[j:])
					isUp = unicode.IsUpper(r)
				}
				if !isUp {
					upper &^= upAll
					if first {
						upper &^= upFirst
					}
				}
				first = false
				j += n
			}
			t = append(t, token{start: i, end: j, upper: upper, class: lookup(s[i:j])})
			i = j
		default:
			if c < utf8.RuneSelf {
				i++
			} else {
				_, n := utf8.DecodeRuneInString(s[i:])
				i += n
			}
		}
	}
	return t
}

// isLetterAt returns the length of the letter at s[i], or 0 when s[i] does
// not start a letter or combining mark.
func isLetterAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	if c < utf8.RuneSelf {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) {
		return n
	}
	return 0
}
