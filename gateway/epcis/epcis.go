// Package epcis maps GS1 EPCIS 2.0 documents (JSON and JSON-LD in the
// standard's compact form) to htlog CUSTODY events, one per EPCIS event;
// docs/gateway.md tables the mapping field by field. Serial numbers become
// tags under a key per package (mapping.Keys.PackageKey), business
// transactions become commitments; lot and expiry come from the event's
// ILMD (commissioning) or from what the gateway recorded at commissioning.
//
// No JSON-LD processor is served to this project, so the gateway reads the
// compact form under the standard EPCIS 2.0 context only: a document whose
// @context adds anything but namespace prefixes for extensions is refused,
// and extension fields are not logged.
package epcis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/ident"
)

// MaxEvents bounds the events of one document.
const MaxEvents = 1000

// standardContexts are the EPCIS 2.0 context URLs accepted.
var standardContexts = []string{
	"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
	"https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
	"https://gs1.github.io/EPCIS/epcis-context.jsonld",
}

// Document is an EPCISDocument (the fields the gateway reads).
type Document struct {
	Context json.RawMessage `json:"@context"`
	Type    string          `json:"type"`
	Body    struct {
		EventList []json.RawMessage `json:"eventList"`
	} `json:"epcisBody"`
}

// Event is one EPCIS event (the fields the gateway reads).
type Event struct {
	Type              string   `json:"type"`
	EventID           string   `json:"eventID"`
	EventTime         string   `json:"eventTime"`
	Action            string   `json:"action"`
	BizStep           string   `json:"bizStep"`
	Disposition       string   `json:"disposition"`
	EPCList           []string `json:"epcList"`
	ParentID          string   `json:"parentID"`
	ChildEPCs         []string `json:"childEPCs"`
	QuantityList      []any    `json:"quantityList"`
	ChildQuantityList []any    `json:"childQuantityList"`
	InputEPCList      []string `json:"inputEPCList"`
	OutputEPCList     []string `json:"outputEPCList"`
	ReadPoint         *struct {
		ID string `json:"id"`
	} `json:"readPoint"`
	BizLocation *struct {
		ID string `json:"id"`
	} `json:"bizLocation"`
	BizTransactions []struct {
		Type           string `json:"type"`
		BizTransaction string `json:"bizTransaction"`
	} `json:"bizTransactionList"`
	Sources []struct {
		Type   string `json:"type"`
		Source string `json:"source"`
	} `json:"sourceList"`
	Destinations []struct {
		Type        string `json:"type"`
		Destination string `json:"destination"`
	} `json:"destinationList"`
	ILMD             map[string]any  `json:"ilmd"`
	ErrorDeclaration json.RawMessage `json:"errorDeclaration"`
}

// Mapper maps EPCIS documents. It is safe for concurrent use.
type Mapper struct {
	cfg  mapping.Config
	keys mapping.Keys
}

// New returns a Mapper for the submitter cfg describes.
func New(cfg mapping.Config, keys mapping.Keys) *Mapper { return &Mapper{cfg: cfg, keys: keys} }

// Map maps an EPCISDocument to one item per event, all or none (the capture
// interface's all-or-nothing semantics).
func (m *Mapper) Map(ctx context.Context, body []byte) ([]mapping.Item, error) {
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, mapping.Malformed("", "not an EPCIS JSON document: %s", shortErr(err))
	}
	if doc.Type != "EPCISDocument" {
		return nil, mapping.Malformed("type", "must be EPCISDocument")
	}
	if err := checkContext(doc.Context); err != nil {
		return nil, err
	}
	if len(doc.Body.EventList) == 0 {
		return nil, mapping.Malformed("epcisBody.eventList", "no events")
	}
	if len(doc.Body.EventList) > MaxEvents {
		return nil, mapping.Malformed("epcisBody.eventList", "at most %d events", MaxEvents)
	}
	out := make([]mapping.Item, 0, len(doc.Body.EventList))
	// Lot and expiry commissioned earlier in the same document count.
	local := map[string][2]string{}
	for i, raw := range doc.Body.EventList {
		it, err := m.event(ctx, fmt.Sprintf("epcisBody.eventList[%d]", i), raw, local)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// checkContext accepts the standard context plus objects that only define
// namespace prefixes (for extensions, which are not logged).
func checkContext(raw json.RawMessage) error {
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return mapping.Malformed("@context", "must be the EPCIS 2.0 context URL, or a list of it and prefix definitions")
		}
		list = []any{one}
	}
	std := false
	for _, c := range list {
		switch v := c.(type) {
		case string:
			if !slices.Contains(standardContexts, v) {
				return mapping.Unmappable("@context", "only the EPCIS 2.0 standard context is read (no JSON-LD processor): other context documents cannot be resolved")
			}
			std = true
		case map[string]any:
			for k, ns := range v {
				s, ok := ns.(string)
				if !ok || strings.Contains(k, ":") || coreTerms[k] || !(strings.HasSuffix(s, "/") || strings.HasSuffix(s, "#")) {
					return mapping.Unmappable("@context", "may only define namespace prefixes for extensions, not redefine terms")
				}
			}
		default:
			return mapping.Malformed("@context", "entries must be URLs or objects")
		}
	}
	if !std {
		return mapping.Unmappable("@context", "must include the EPCIS 2.0 standard context")
	}
	return nil
}

var coreTerms = map[string]bool{"type": true, "id": true, "eventID": true, "eventTime": true, "action": true, "bizStep": true,
	"disposition": true, "epcList": true, "parentID": true, "childEPCs": true, "readPoint": true, "bizLocation": true,
	"bizTransactionList": true, "sourceList": true, "destinationList": true, "ilmd": true, "epcisBody": true, "eventList": true}

// event maps one EPCIS event to a CUSTODY event (schema custody v2).
func (m *Mapper) event(ctx context.Context, path string, raw json.RawMessage, local map[string][2]string) (mapping.Item, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return mapping.Item{}, mapping.Malformed(path, "%s", shortErr(err))
	}
	if m.cfg.CustodyVersion != 2 {
		return m.eventV3(ctx, path, e, raw, local)
	}
	it := mapping.Item{Kind: "custody", Version: 2}
	switch e.Type {
	case "ObjectEvent", "AggregationEvent", "TransactionEvent":
	case "TransformationEvent", "AssociationEvent":
		return it, mapping.Unmappable(path+".type", "custody schema version %d has no %s", it.Version, e.Type)
	default:
		return it, mapping.Malformed(path+".type", "not an EPCIS 2.0 event type")
	}
	if err := identify(path, e, raw, &it); err != nil {
		return it, err
	}
	id := it.Source
	switch e.Action {
	case "ADD", "OBSERVE", "DELETE":
	default:
		return it, mapping.Malformed(path+".action", "must be ADD, OBSERVE or DELETE")
	}
	bizStep := bare(e.BizStep, "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
	if !slices.Contains(bizSteps, bizStep) {
		return it, mapping.Unmappable(path+".bizStep", "custody schema version %d takes %s", it.Version, strings.Join(bizSteps, ", "))
	}
	disp := bare(e.Disposition, "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
	if !slices.Contains(dispositions, disp) {
		return it, mapping.Unmappable(path+".disposition", "custody schema version %d takes %s", it.Version, strings.Join(dispositions, ", "))
	}
	epcs := e.EPCList
	if e.Type == "AggregationEvent" {
		epcs = e.ChildEPCs
	}
	if len(epcs) == 0 {
		return it, mapping.Unmappable(path, "names no serialised package (epcList or childEPCs): class-level events need a later custody schema")
	}
	lot, expiry := ilmdLot(e.ILMD)
	var products []any
	var subjects []string
	for j, epc := range epcs {
		ppath := fmt.Sprintf("%s.epcList[%d]", path, j)
		gtin, serial, ok := ParseSGTIN(epc)
		if !ok {
			return it, mapping.Unmappable(ppath, "not an SGTIN (urn:epc:id:sgtin:... or a GS1 Digital Link with AI 01 and 21)")
		}
		pl, pe := lot, expiry
		if pl != "" && pe != "" {
			it.Lots = append(it.Lots, mapping.PackageLot{GTIN: gtin, Serial: serial, Lot: pl, Expiry: pe})
			local[gtin+"."+serial] = [2]string{pl, pe}
		} else if v, ok := local[gtin+"."+serial]; ok {
			pl, pe = v[0], v[1]
		} else {
			var known bool
			var err error
			if pl, pe, known, err = m.keys.Package(ctx, gtin, serial); err != nil {
				return it, err
			}
			if !known {
				return it, mapping.Unmappable(ppath, "lot and expiry of this package are unknown: send its commissioning event (ILMD lotNumber and itemExpirationDate) first, or register the package with PUT /packages")
			}
		}
		key, err := m.keys.PackageKey(ctx, gtin, serial)
		if err != nil {
			return it, err
		}
		products = append(products, map[string]any{"gtin": gtin, "serial": PackageTag(key, gtin, serial), "lot": pl, "expiry": pe})
		subjects = append(subjects, gtin+"."+serial)
	}
	it.Subject = subjectOf(subjects)
	out := map[string]any{
		"event_type":     e.Type,
		"epcis_event_id": id,
		"action":         e.Action,
		"biz_step":       bizStep,
		"disposition":    disp,
		"products":       products,
	}
	if e.ParentID != "" {
		sscc, ok := ParseSSCC(e.ParentID)
		if !ok {
			return it, mapping.Unmappable(path+".parentID", "not an SSCC (urn:epc:id:sscc:...)")
		}
		out["parent_sscc"] = sscc
	}
	if err := m.common(path, e, out, &it); err != nil {
		return it, err
	}
	it.Body, it.Input = out, raw
	return it, nil
}

// subjectOf returns the outbox subject of an event about these packages
// (or lots): every one of them, so that the events of any one package reach
// the log in the order they were accepted.
func subjectOf(keys []string) string {
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for i, k := range keys {
		keys[i] = "package:" + k
	}
	return strings.Join(keys, " ")
}

// eventID returns the event's EPCIS eventID, or, when it has none, a
// urn:uuid derived from the event's bytes.
func eventID(path string, e Event, raw []byte) (string, error) {
	id := e.EventID
	if id == "" {
		sum := sha256.Sum256(raw)
		h := hex.EncodeToString(sum[:16])
		id = "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	if !validEventID(id) {
		return "", mapping.Unmappable(path+".eventID", "must be a CBV 2.0 hash id (ni:///sha-256;...?ver=CBV2.0) or a urn:uuid")
	}
	return id, nil
}

var (
	bizSteps     = []string{"commissioning", "shipping", "receiving", "dispensing", "decommissioning", "destroying"}
	dispositions = []string{"active", "in_transit", "dispensed", "recalled", "stolen", "expired", "returned"}
	partyTypes   = []string{"owning_party", "possessing_party", "location"}
)

// bare strips a CBV URN or Web URI prefix, leaving the bare CBV 2.0 name.
func bare(s string, prefixes ...string) string {
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}

// ilmdLot returns the lot and expiry of CBV master data in an ILMD.
func ilmdLot(ilmd map[string]any) (lot, expiry string) {
	for k, v := range ilmd {
		s, _ := v.(string)
		switch k {
		case "cbvmda:lotNumber", "lotNumber", "https://ref.gs1.org/cbv/MDA-lotNumber":
			lot = s
		case "cbvmda:itemExpirationDate", "itemExpirationDate", "https://ref.gs1.org/cbv/MDA-itemExpirationDate":
			expiry = s
		}
	}
	return lot, expiry
}

// PackageTag is the tag of a package's serial under its key: every party
// that holds the package's key computes the same tag, so the custody chain
// links across trading partners.
func PackageTag(key []byte, gtin, serial string) string {
	return event.Tag(key, "sgtin:"+gtin+"."+serial)
}

// ParseSGTIN returns the GTIN-14 and serial of an SGTIN EPC URI
// (urn:epc:id:sgtin:<company prefix>.<indicator><item ref>.<serial>) or a
// GS1 Digital Link URI with AIs 01 and 21.
func ParseSGTIN(s string) (gtin, serial string, ok bool) {
	if rest, found := strings.CutPrefix(s, "urn:epc:id:sgtin:"); found {
		parts := strings.Split(rest, ".")
		if len(parts) != 3 || len(parts[0])+len(parts[1]) != 13 || len(parts[1]) < 1 || !digits(parts[0]) || !digits(parts[1]) {
			return "", "", false
		}
		body := parts[1][:1] + parts[0] + parts[1][1:]
		gtin = body + checkDigit(body)
		serial, err := url.PathUnescape(parts[2])
		if err != nil || serial == "" || len(serial) > 20 {
			return "", "", false
		}
		return gtin, serial, true
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return "", "", false
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	for i := 0; i+3 < len(segs); i++ {
		if segs[i] == "01" && segs[i+2] == "21" {
			gtin = segs[i+1]
			if len(gtin) < 14 {
				gtin = strings.Repeat("0", 14-len(gtin)) + gtin
			}
			serial, err := url.PathUnescape(segs[i+3])
			if err != nil || !ident.GTIN(gtin) || serial == "" || len(serial) > 20 {
				return "", "", false
			}
			return gtin, serial, true
		}
	}
	return "", "", false
}

// ParseSSCC returns the 18-digit SSCC of an SSCC EPC URI.
func ParseSSCC(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "urn:epc:id:sscc:")
	if !ok {
		return "", false
	}
	cp, ref, ok := strings.Cut(rest, ".")
	if !ok || len(cp)+len(ref) != 17 || len(ref) < 1 || !digits(cp) || !digits(ref) {
		return "", false
	}
	body := ref[:1] + cp + ref[1:]
	return body + checkDigit(body), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// checkDigit is the GS1 mod-10 check digit of body.
func checkDigit(body string) string {
	sum := 0
	for i := 0; i < len(body); i++ {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return string(rune('0' + (10-sum%10)%10))
}

func validEventID(s string) bool {
	if h, ok := strings.CutPrefix(s, "ni:///sha-256;"); ok {
		h, ok = strings.CutSuffix(h, "?ver=CBV2.0")
		return ok && len(h) == 64 && isLowerHex(h)
	}
	if u, ok := strings.CutPrefix(s, "urn:uuid:"); ok {
		if len(u) != 36 {
			return false
		}
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if u[i] != '-' {
					return false
				}
			} else if !isLowerHex(u[i : i+1]) {
				return false
			}
		}
		return true
	}
	return false
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func shortErr(err error) string {
	var se *json.SyntaxError
	if e, ok := err.(*json.SyntaxError); ok {
		se = e
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	if e, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("%s: wrong JSON type (want %s)", e.Field, e.Type)
	}
	return "invalid JSON"
}

// identify refuses what no custody version carries (an error declaration)
// and fills in the event's EPCIS id and time, as every version maps them.
func identify(path string, e Event, raw json.RawMessage, it *mapping.Item) error {
	if len(e.ErrorDeclaration) > 0 {
		return mapping.Unmappable(path+".errorDeclaration", "error declarations are logged as a corrective event that supersedes the first: not supported yet")
	}
	id, err := eventID(path, e, raw)
	if err != nil {
		return err
	}
	it.Source = id
	it.OccurredAt, err = mapping.Minute(path+".eventTime", e.EventTime)
	return err
}
