package epcis

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/internal/ident"
	"github.com/htlog/htlog/schemas"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "epcis", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testMapper() (*Mapper, *mapping.MemKeys) {
	keys := mapping.NewMemKeys()
	return New(mapping.Config{Org: "gln:0614141000005"}, keys), keys
}

func testMapperV2() (*Mapper, *mapping.MemKeys) {
	keys := mapping.NewMemKeys()
	return New(mapping.Config{Org: "gln:0614141000005", CustodyVersion: 2}, keys), keys
}

// valid checks the items' bodies against their schema and returns them.
func valid(t *testing.T, items []mapping.Item) []map[string]any {
	t.Helper()
	v, _ := schemas.NewValidator()
	var out []map[string]any
	for _, it := range items {
		b, _ := json.Marshal(it.Body)
		m, err := v.ValidateDecoded(it.Kind, it.Version, b)
		if err != nil {
			t.Fatalf("%s: not valid under custody v%d: %v\n%s", it.Source, it.Version, err, b)
		}
		if strings.Contains(string(b), "sgtin") || strings.Contains(string(b), "acme.com") {
			t.Errorf("identifiers in clear: %s", b)
		}
		out = append(out, m)
	}
	return out
}

// TestStandardExamplesV3 maps the EPCIS 2.0 standard's examples onto
// custody version 3: class-level quantities, in_progress, aggregation; what
// it still cannot carry is refused at its field.
func TestStandardExamplesV3(t *testing.T) {
	ctx := context.Background()
	// 9.6.2: a class-level receiving (an LGTIN quantity, in_progress).
	m, _ := testMapper()
	items, err := m.Map(ctx, read(t, "Example_9.6.2-ObjectEvent.jsonld"))
	if err != nil {
		t.Fatal(err)
	}
	b := valid(t, items)[0]
	q := b["quantities"].([]any)[0].(map[string]any)
	if q["gtin"] != "04012345123456" || q["lot"] != "998877" || fmt.Sprint(q["quantity"]) != "200" || q["uom"] != "KGM" || b["disposition"] != "in_progress" || items[0].Version != 3 {
		t.Errorf("9.6.2: %v", b)
	}
	// 9.6.1 (and its Digital Link form): refused until the packages'
	// lots are known, then both events map.
	for f, gtin := range map[string]string{"Example_9.6.1-ObjectEvent.jsonld": "10614141073464", "Example_9.6.1-ObjectEventWithDigitalLink.jsonld": "70614141123451"} {
		m, keys := testMapper()
		if _, err := m.Map(ctx, read(t, f)); err == nil || err.(*mapping.Error).Path != "epcisBody.eventList[0].epcList[0]" {
			t.Errorf("%s before commissioning: %v", f, err)
		}
		for _, serial := range []string{"2017", "2018"} {
			keys.SetPackage(ctx, gtin, serial, "LOT1", "2027-01-31")
		}
		items, err := m.Map(ctx, read(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		bs := valid(t, items)
		if len(bs) != 2 || bs[1]["disposition"] != "in_progress" || bs[0]["biz_location"] != "urn:epc:id:sgln:0614141.07346.1234" {
			t.Errorf("%s: %v", f, bs)
		}
	}
	// 9.6.3: an aggregation whose child quantity is an SGTIN pattern (no
	// lot) cannot be recorded by lot.
	m, keys := testMapper()
	for _, serial := range []string{"2017", "2018"} {
		keys.SetPackage(ctx, "10614141073464", serial, "LOT1", "2027-01-31")
	}
	if _, err := m.Map(ctx, read(t, "Example_9.6.3-AggregationEvent.jsonld")); err == nil || err.(*mapping.Error).Path != "epcisBody.eventList[0].childQuantityList[0].epcClass" {
		t.Errorf("9.6.3: %v", err)
	}
	agg := strings.Replace(string(read(t, "Example_9.6.3-AggregationEvent.jsonld")), `{"epcClass":"urn:epc:idpat:sgtin:4012345.098765.*","quantity":10},`, ``, 1)
	items, err = m.Map(ctx, []byte(agg))
	if err != nil {
		t.Fatal(err)
	}
	if b := valid(t, items)[0]; b["parent_sscc"] != "106141412345678908" || len(b["products"].([]any)) != 2 || len(b["quantities"].([]any)) != 1 {
		t.Errorf("9.6.3 without the pattern: %v", b)
	}
	// 9.6.4: a transformation whose input packages' lots are unknown.
	m, _ = testMapper()
	if _, err := m.Map(ctx, read(t, "Example_9.6.4-TransformationEvent.jsonld")); err == nil || err.(*mapping.Error).Path != "epcisBody.eventList[0].inputEPCList[0]" {
		t.Errorf("9.6.4: %v", err)
	}
	if g, l, ok := ParseLGTIN("urn:epc:class:lgtin:4012345.012345.998877"); !ok || g != "04012345123456" || l != "998877" {
		t.Errorf("ParseLGTIN = %s %s %v", g, l, ok)
	}
	if _, _, ok := ParseLGTIN("urn:epc:class:lgtin:4012345.012345.a%20b"); ok {
		t.Error("a lot the schema refuses was taken")
	}
}

func TestIdentifiers(t *testing.T) {
	for _, c := range []struct{ in, gtin, serial string }{
		{"urn:epc:id:sgtin:0614141.107346.2017", "10614141073464", "2017"},
		{"urn:epc:id:sgtin:0614141.812345.6789AB", "80614141123458", "6789AB"},
		{"https://id.gs1.org/01/09520123456788/21/12345", "09520123456788", "12345"},
		{"https://example.com/01/10614141073464/21/2017?x=1", "10614141073464", "2017"},
	} {
		gtin, serial, ok := ParseSGTIN(c.in)
		if !ok || gtin != c.gtin || serial != c.serial || !ident.GTIN(gtin) {
			t.Errorf("ParseSGTIN(%s) = %s %s %v, want %s %s", c.in, gtin, serial, ok, c.gtin, c.serial)
		}
	}
	for _, bad := range []string{"urn:epc:id:sgtin:0614141.107346", "urn:epc:idpat:sgtin:4012345.098765.*", "urn:epc:class:lgtin:4012345.012345.998877", "https://id.gs1.org/01/09520123456787/21/1"} {
		if _, _, ok := ParseSGTIN(bad); ok {
			t.Errorf("ParseSGTIN(%s) accepted", bad)
		}
	}
	if s, ok := ParseSSCC("urn:epc:id:sscc:0614141.1234567890"); !ok || s != "106141412345678908" || !ident.SSCC(s) {
		t.Errorf("ParseSSCC = %s %v", s, ok)
	}
}

// TestStandardExamplesV2 maps the EPCIS 2.0 standard's example documents
// onto custody version 2: what it cannot carry is refused at the event and field
// at fault, the rest maps.
func TestStandardExamplesV2(t *testing.T) {
	cases := []struct{ file, path string }{
		// Event 2 is a receiving into disposition in_progress, not a v2
		// disposition: the whole capture is refused (all or nothing).
		{"Example_9.6.1-ObjectEvent.jsonld", "epcisBody.eventList[0].epcList[0]"},
		{"Example_9.6.1-ObjectEventWithDigitalLink.jsonld", "epcisBody.eventList[0].epcList[0]"},
		// A class-level (quantity) event names no serialised package.
		{"Example_9.6.2-ObjectEvent.jsonld", "epcisBody.eventList[0].disposition"},
		{"Example_9.6.3-AggregationEvent.jsonld", "epcisBody.eventList[0].disposition"},
		{"Example_9.6.4-TransformationEvent.jsonld", "epcisBody.eventList[0].type"},
	}
	for _, c := range cases {
		m, _ := testMapperV2()
		_, err := m.Map(context.Background(), read(t, c.file))
		me, ok := err.(*mapping.Error)
		if !ok || me.Path != c.path || me.Status != 422 {
			t.Errorf("%s: got %v, want a 422 at %s", c.file, err, c.path)
		}
	}
	// Once the packages of 9.6.1 are commissioned (lot and expiry known),
	// its shipping event maps; its receiving event still does not
	// (in_progress).
	m, keys := testMapperV2()
	for _, serial := range []string{"2017", "2018"} {
		keys.SetPackage(context.Background(), "10614141073464", serial, "LOT1", "2027-01-31")
	}
	_, err := m.Map(context.Background(), read(t, "Example_9.6.1-ObjectEvent.jsonld"))
	if me, ok := err.(*mapping.Error); !ok || me.Path != "epcisBody.eventList[1].disposition" {
		t.Errorf("9.6.1 after commissioning: %v", err)
	}
	doc := strings.Replace(string(read(t, "Example_9.6.1-ObjectEvent.jsonld")), `"in_progress"`, `"active"`, 1)
	items, err := m.Map(context.Background(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := schemas.NewValidator()
	for _, it := range items {
		b, _ := json.Marshal(it.Body)
		if _, err := v.ValidateDecoded(it.Kind, it.Version, b); err != nil {
			t.Errorf("%s: %v\n%s", it.Source, err, b)
		}
		if strings.Contains(string(b), "acme.com") || strings.Contains(string(b), "sgtin") {
			t.Errorf("identifiers in clear: %s", b)
		}
	}
	ship := items[0].Body
	if ship["biz_location"] != "urn:epc:id:sgln:0614141.07346.1234" {
		t.Errorf("shipping without bizLocation: biz_location %v, want the read point", ship["biz_location"])
	}
	key, _ := keys.PackageKey(context.Background(), "10614141073464", "2017")
	p := ship["products"].([]any)[0].(map[string]any)
	if p["gtin"] != "10614141073464" || p["serial"] != PackageTag(key, "10614141073464", "2017") || p["lot"] != "LOT1" || p["expiry"] != "2027-01-31" {
		t.Errorf("product = %v", p)
	}
	bts := items[1].Body["biz_transactions"].([]string)
	if len(bts) != 2 || !opensTo(items[1], bts[1], "desadv|urn:epcglobal:cbv:bt:0614141073467:1152") {
		t.Errorf("biz_transactions %v, openings %v", bts, items[1].Openings)
	}
}

func opensTo(it mapping.Item, c, value string) bool {
	for _, o := range it.Openings {
		if o.Commitment == c && o.Value == value && event.VerifyCommitment(c, o.Opening, []byte(value)) {
			return true
		}
	}
	return false
}

// TestCommissionShipReceive: a DSCSA chain in one document; lot and expiry
// flow from the commissioning ILMD to the later events, and every event of
// one package carries the same serial tag.
func TestCommissionShipReceive(t *testing.T) {
	m, keys := testMapper()
	items, err := m.Map(context.Background(), read(t, "dscsa-commission-ship-receive.jsonld"))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	key, _ := keys.PackageKey(context.Background(), "10614141073464", "2018")
	tag := PackageTag(key, "10614141073464", "2018")
	steps := []string{"commissioning", "shipping", "receiving"}
	for i, it := range items {
		if it.Body["biz_step"] != steps[i] || !strings.Contains(mustJSON(it.Body), tag) || !strings.Contains(mustJSON(it.Body), `"lot":"LOT2026A"`) {
			t.Errorf("item %d: %s", i, mustJSON(it.Body))
		}
	}
	// The commissioning tells both packages' lots, to be recorded when it
	// is accepted: mapping alone records nothing.
	if l := items[0].Lots; len(l) != 2 || l[0] != (mapping.PackageLot{GTIN: "10614141073464", Serial: "2017", Lot: "LOT2026A", Expiry: "2028-06-30"}) || len(items[1].Lots) != 0 {
		t.Errorf("lots %v, %v", items[0].Lots, items[1].Lots)
	}
	if _, _, ok, _ := keys.Package(context.Background(), "10614141073464", "2017"); ok {
		t.Error("mapping recorded a lot before acceptance")
	}
	if items[2].Subject != "package:10614141073464.2018" || items[2].OccurredAt != "2026-11-30T15:30:00Z" {
		t.Errorf("subject %s occurred %s", items[2].Subject, items[2].OccurredAt)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestContext(t *testing.T) {
	doc := string(read(t, "dscsa-commission-ship-receive.jsonld"))
	for name, ctx := range map[string]string{
		"foreign context":   `["https://example.com/ctx.jsonld"]`,
		"redefined term":    `["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"bizStep": "https://example.com/x/"}]`,
		"no standard":       `[{"example": "http://ns.example.com/epcis/"}]`,
		"term to a non-IRI": `["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": {"@id": "x"}}]`,
	} {
		m, _ := testMapper()
		in := strings.Replace(doc, `["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]`, ctx, 1)
		if _, err := m.Map(context.Background(), []byte(in)); err == nil || err.(*mapping.Error).Path != "@context" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzMap: Map never panics, returns only *mapping.Error, and never puts an
// EPC URI in a body.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("../testdata/epcis/*.jsonld")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, _ := testMapper()
		items, err := m.Map(context.Background(), in)
		if err != nil {
			if _, ok := err.(*mapping.Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, it := range items {
			if s := mustJSON(it.Body); strings.Contains(s, "sgtin") {
				t.Fatalf("an SGTIN in clear: %s", s)
			}
		}
	})
}
