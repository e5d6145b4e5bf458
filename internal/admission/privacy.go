package admission

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/internal/ident"
	"github.com/htlog/htlog/internal/phi"
	"github.com/htlog/htlog/internal/strictjson"
	"github.com/htlog/htlog/schemas"
)

// checkPrivacy scans every string of the body for personal identifiers and
// checks every URL against the allow list. Strings whose whole shape is a
// value the log allows in clear (a tag, a commitment, an event id, a time,
// a checked identifier) are not scanned: a GTIN is a run of digits, not a
// record number. It runs on every version, so a monitor finds identifiers
// in entries logged before version 2 too.
func (c *Checker) checkPrivacy(ev *event.Event) *Refusal {
	var found *Refusal
	// A body that is not JSON stops the walk; the schema step reports it.
	_ = strictjson.WalkStrings(ev.Body, func(path, value []byte) {
		if found != nil {
			return
		}
		// What a schema fixes, tags and commitments are the common case:
		// judged on the bytes, without a copy.
		if schemas.IsFixedValueBytes(value) || isPrefixedHex64(value, "tag:v1:") || isPrefixedHex64(value, "commit:v1:") ||
			isPrefixedHex64(value, "sha256:") {
			return
		}
		s := string(value)
		if bytes.HasSuffix(path, []byte("/code")) && (isNumericCode(s) || ev.Version >= 3 && schemas.IsAnyTerminologyCode(s)) {
			// SNOMED CT, LOINC, DICOM codes (value sets check them in
			// version 2); in version 3 a code of a named terminology, whose
			// syntax the schema checked against its system (MeSH D002289,
			// ICD-10 C34.9, ATC L01XC).
			return
		}
		if ev.Version < 2 && isDigits(s) {
			// Version 1 checked GS1 keys by length only: an all-digit value
			// is one of them, whatever its check digit.
			return
		}
		if isURL(s) && ev.Version >= 2 && !c.allowedURL(s) && !schemas.IsCodeSystem(s) {
			found = refuse(CodePrivacy, http.StatusBadRequest, "body%s: a URL whose prefix is not on the log's allow list", path)
			return
		}
		if isTime(s) || ident.GS1(s) || isEPCISEventID(s) || strings.HasPrefix(s, "npi:") && ident.OrgID(s) || strings.HasPrefix(s, "gln:") && ident.OrgID(s) {
			return
		}
		if epc, ok := strings.CutPrefix(s, "urn:epc:id:"); ok {
			// A location's extension is free-form: scan it alone (the
			// company prefix and reference are digits by design).
			if _, ok := ident.GLNOfEPC(s); ok {
				s = epc[strings.LastIndexByte(epc, '.')+1:]
			}
		}
		// The scan first, the shapes allowed in clear only for what it
		// flags: the common, clean string costs one scan.
		if kind, ok := phi.Scan(s); ok && !allowedInClear(s) {
			found = refuse(CodePrivacy, http.StatusBadRequest, "body%s: holds what looks like %s in clear", path, kind)
		}
	})
	return found
}

// isNumericCode reports whether s looks like a terminology code: digits,
// with a hyphen before a LOINC check digit.
func isNumericCode(s string) bool {
	if len(s) == 0 || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || c == '-' && i > 0 && i == len(s)-2) {
			return false
		}
	}
	return true
}

// isEPCISEventID reports whether s has the shape of an EPCIS event id the
// schemas allow (a ni:///sha-256 hash or a UUID URN): hex digits and
// hyphens, nothing that can spell a name.
func isEPCISEventID(s string) bool {
	rest, ok := strings.CutPrefix(s, "urn:uuid:")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "ni:///sha-256;"); !ok {
			return false
		}
		rest, ok = strings.CutSuffix(rest, "?ver=CBV2.0")
		if !ok || len(rest) != 64 {
			return false
		}
	} else if len(rest) != 36 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// isPrefixedHex64 reports whether b is prefix followed by 64 lowercase hex
// digits (a tag or a commitment).
func isPrefixedHex64(b []byte, prefix string) bool {
	if len(b) != len(prefix)+64 || string(b[:len(prefix)]) != prefix {
		return false
	}
	for _, c := range b[len(prefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

func (c *Checker) allowedURL(s string) bool {
	for _, p := range c.cfg.URLPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// allowedInClear reports whether s, which the scan flagged, is as a whole
// an identifier the log carries in clear whose digits the scan took for a
// record number or a date (tags, commitments, hashes, times, GS1 keys and
// EPCIS event ids never reach the scan).
func allowedInClear(s string) bool { return ident.OrgID(s) || ident.TrialID(s) }

// isTime reports whether s is a date (YYYY-MM-DD) or an RFC 3339 time: it
// checks the shape before parsing, so other strings cost a few compares.
func isTime(s string) bool {
	if len(s) < len(time.DateOnly) || len(s) > 40 || s[4] != '-' || s[7] != '-' {
		return false
	}
	if len(s) == len(time.DateOnly) {
		_, err := time.Parse(time.DateOnly, s)
		return err == nil
	}
	if len(s) >= len("2006-01-02T15:04:05Z") && s[10] == 'T' {
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	}
	return false
}
