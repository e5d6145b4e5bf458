package epcis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/htlog/htlog/gateway/mapping"
	"github.com/htlog/htlog/schemas"
)

// quantityElement is an EPCIS quantityList element.
type quantityElement struct {
	EPCClass string          `json:"epcClass"`
	Quantity json.RawMessage `json:"quantity"`
	UOM      string          `json:"uom"`
}

// v3Fields are the EPCIS fields only custody version 3 carries.
type v3Fields struct {
	QuantityList       []quantityElement `json:"quantityList"`
	ChildQuantityList  []quantityElement `json:"childQuantityList"`
	InputQuantityList  []quantityElement `json:"inputQuantityList"`
	OutputQuantityList []quantityElement `json:"outputQuantityList"`
	TransformationID   string            `json:"transformationID"`
}

// inValueSet reports whether code is a code of the named value set (any
// system): the bare CBV names the schema takes.
func inValueSet(name, code string) bool {
	vs, ok := schemas.LookupValueSet(name)
	return ok && slices.ContainsFunc(vs.Concepts, func(c schemas.Concept) bool { return c.Code == code })
}

// eventV3 maps one EPCIS event to a CUSTODY event of schema version 3:
// every EPCIS event type, the full CBV 2.0 steps and dispositions,
// class-level quantities (LGTINs), child SSCCs, transformations.
func (m *Mapper) eventV3(ctx context.Context, path string, e Event, raw json.RawMessage, local map[string][2]string) (mapping.Item, error) {
	it := mapping.Item{Kind: "custody", Version: 3}
	var x v3Fields
	if err := json.Unmarshal(raw, &x); err != nil {
		return it, mapping.Malformed(path, "%s", shortErr(err))
	}
	if !inValueSet("epcis-event-type", e.Type) {
		return it, mapping.Malformed(path+".type", "not an EPCIS 2.0 event type")
	}
	if err := identify(path, e, raw, &it); err != nil {
		return it, err
	}
	id := it.Source
	transformation := e.Type == "TransformationEvent"
	out := map[string]any{"event_type": e.Type, "epcis_event_id": id}
	if transformation {
		if e.Action != "" {
			return it, mapping.Malformed(path+".action", "a TransformationEvent has no action")
		}
	} else {
		if !inValueSet("epcis-action", e.Action) {
			return it, mapping.Malformed(path+".action", "must be ADD, OBSERVE or DELETE")
		}
		out["action"] = e.Action
	}
	bizStep := bare(e.BizStep, "urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-")
	if !inValueSet("cbv-biz-step", bizStep) {
		return it, mapping.Unmappable(path+".bizStep", "not a CBV 2.0 business step")
	}
	disp := bare(e.Disposition, "urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
	if !inValueSet("cbv-disposition", disp) {
		return it, mapping.Unmappable(path+".disposition", "not a CBV 2.0 disposition")
	}
	out["biz_step"], out["disposition"] = bizStep, disp
	lot, expiry := ilmdLot(e.ILMD)
	var subjects []string
	// products maps a list of EPCs: SGTINs become products, SSCCs are
	// returned apart.
	products := func(field string, epcs []string) ([]any, []string, error) {
		var ps []any
		var ssccs []string
		for j, epc := range epcs {
			ppath := fmt.Sprintf("%s.%s[%d]", path, field, j)
			if s, ok := ParseSSCC(epc); ok {
				ssccs = append(ssccs, s)
				continue
			}
			p, subject, err := m.product(ctx, ppath, epc, lot, expiry, local, &it.Lots)
			if err != nil {
				return nil, nil, err
			}
			ps = append(ps, p)
			subjects = append(subjects, subject)
		}
		return ps, ssccs, nil
	}
	quantities := func(field string, qs []quantityElement) ([]any, error) {
		var out []any
		for j, q := range qs {
			qp, err := quantity(fmt.Sprintf("%s.%s[%d]", path, field, j), q)
			if err != nil {
				return nil, err
			}
			out = append(out, qp)
			subjects = append(subjects, "lot:"+qp["gtin"].(string)+"."+qp["lot"].(string))
		}
		return out, nil
	}
	set := func(k string, v []any) {
		if len(v) > 0 {
			out[k] = v
		}
	}
	if transformation {
		for _, f := range []struct {
			key, field string
			epcs       []string
		}{{"input_products", "inputEPCList", e.InputEPCList}, {"output_products", "outputEPCList", e.OutputEPCList}} {
			ps, ssccs, err := products(f.field, f.epcs)
			if err != nil {
				return it, err
			}
			if len(ssccs) > 0 {
				return it, mapping.Unmappable(path+"."+f.field, "a transformation of logistic units (SSCCs) has no place in custody version 3")
			}
			set(f.key, ps)
		}
		for _, f := range []struct {
			key, field string
			qs         []quantityElement
		}{{"input_quantities", "inputQuantityList", x.InputQuantityList}, {"output_quantities", "outputQuantityList", x.OutputQuantityList}} {
			qs, err := quantities(f.field, f.qs)
			if err != nil {
				return it, err
			}
			set(f.key, qs)
		}
		if x.TransformationID != "" {
			var c mapping.Committer
			out["transformation_id"] = c.Commit("", x.TransformationID)
			it.Openings = c.Openings
		}
	} else {
		field, epcs, qfield, qs := "epcList", e.EPCList, "quantityList", x.QuantityList
		if e.Type == "AggregationEvent" {
			field, epcs, qfield, qs = "childEPCs", e.ChildEPCs, "childQuantityList", x.ChildQuantityList
		}
		ps, ssccs, err := products(field, epcs)
		if err != nil {
			return it, err
		}
		set("products", ps)
		q, err := quantities(qfield, qs)
		if err != nil {
			return it, err
		}
		set("quantities", q)
		if e.ParentID != "" {
			sscc, ok := ParseSSCC(e.ParentID)
			if !ok {
				return it, mapping.Unmappable(path+".parentID", "not an SSCC (urn:epc:id:sscc:...)")
			}
			out["parent_sscc"] = sscc
		}
		switch {
		case e.Type == "AggregationEvent":
			if len(ssccs) > 0 {
				out["child_ssccs"] = ssccs
			}
		case len(ssccs) == 1 && e.ParentID == "":
			out["parent_sscc"] = ssccs[0] // the logistic unit the event is about
		case len(ssccs) > 0:
			return it, mapping.Unmappable(path+"."+field, "custody version 3 takes one logistic unit (SSCC) per object or transaction event")
		}
		if e.Type == "AggregationEvent" && e.ParentID == "" {
			return it, mapping.Unmappable(path+".parentID", "an AggregationEvent needs its parent logistic unit")
		}
	}
	if len(subjects) == 0 {
		if p, ok := out["parent_sscc"].(string); ok {
			subjects = append(subjects, "sscc:"+p)
		} else {
			return it, mapping.Unmappable(path, "names no package, lot or logistic unit")
		}
	}
	it.Subject = subjectOf(subjects)
	if err := m.common(path, e, out, &it); err != nil {
		return it, err
	}
	it.Body, it.Input = out, raw
	return it, nil
}

// product maps one SGTIN (lot and expiry from the event's ILMD, the
// document, or what the gateway recorded) and returns its subject; a lot
// the ILMD tells is added to lots, to be recorded on acceptance.
func (m *Mapper) product(ctx context.Context, ppath, epc, lot, expiry string, local map[string][2]string, lots *[]mapping.PackageLot) (map[string]any, string, error) {
	gtin, serial, ok := ParseSGTIN(epc)
	if !ok {
		return nil, "", mapping.Unmappable(ppath, "not an SGTIN or SSCC (urn:epc:id:sgtin:..., urn:epc:id:sscc:... or a GS1 Digital Link with AI 01 and 21)")
	}
	pl, pe := lot, expiry
	switch v, seen := local[gtin+"."+serial]; {
	case pl != "" && pe != "":
		*lots = append(*lots, mapping.PackageLot{GTIN: gtin, Serial: serial, Lot: pl, Expiry: pe})
		local[gtin+"."+serial] = [2]string{pl, pe}
	case seen:
		pl, pe = v[0], v[1]
	default:
		var known bool
		var err error
		if pl, pe, known, err = m.keys.Package(ctx, gtin, serial); err != nil {
			return nil, "", err
		}
		if !known {
			return nil, "", mapping.Unmappable(ppath, "lot and expiry of this package are unknown: send its commissioning event (ILMD lotNumber and itemExpirationDate) first")
		}
	}
	key, err := m.keys.PackageKey(ctx, gtin, serial)
	if err != nil {
		return nil, "", err
	}
	return map[string]any{"gtin": gtin, "serial": PackageTag(key, gtin, serial), "lot": pl, "expiry": pe}, gtin + "." + serial, nil
}

// quantity maps a quantityList element whose class is an LGTIN (a GTIN and
// a lot); a class without a lot (an SGTIN pattern) cannot be recalled by
// lot and is refused.
func quantity(path string, q quantityElement) (map[string]any, error) {
	gtin, lot, ok := ParseLGTIN(q.EPCClass)
	if !ok {
		return nil, mapping.Unmappable(path+".epcClass", "must be an LGTIN (urn:epc:class:lgtin:...): custody version 3 records quantities by GTIN and lot")
	}
	n, err := strconv.ParseFloat(string(q.Quantity), 64)
	if err != nil || n <= 0 || n > 1e9 {
		return nil, mapping.Malformed(path+".quantity", "must be a positive number")
	}
	out := map[string]any{"gtin": gtin, "lot": lot, "quantity": json.Number(q.Quantity)}
	if q.UOM != "" {
		if !inValueSet("uom", q.UOM) {
			return nil, mapping.Unmappable(path+".uom", "not a unit of value set uom")
		}
		out["uom"] = q.UOM
	}
	return out, nil
}

// common maps what both custody versions share: locations, parties and
// business transactions.
func (m *Mapper) common(path string, e Event, out map[string]any, it *mapping.Item) error {
	if e.ReadPoint != nil && e.ReadPoint.ID != "" {
		out["read_point"] = e.ReadPoint.ID
	}
	switch {
	case e.BizLocation != nil && e.BizLocation.ID != "":
		out["biz_location"] = e.BizLocation.ID
	case e.ReadPoint != nil && e.ReadPoint.ID != "":
		// custody requires a business location; a shipping event has
		// none (the goods are in transit), so it takes the read point.
		out["biz_location"] = e.ReadPoint.ID
	default:
		return mapping.Unmappable(path+".bizLocation", "custody requires a business location or a read point")
	}
	var sources, dests []any
	for j, s := range e.Sources {
		t := bare(s.Type, "urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
		if !slices.Contains(partyTypes, t) {
			return mapping.Unmappable(fmt.Sprintf("%s.sourceList[%d].type", path, j), "must be owning_party, possessing_party or location")
		}
		sources = append(sources, map[string]any{"type": t, "party": s.Source})
	}
	for j, d := range e.Destinations {
		t := bare(d.Type, "urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
		if !slices.Contains(partyTypes, t) {
			return mapping.Unmappable(fmt.Sprintf("%s.destinationList[%d].type", path, j), "must be owning_party, possessing_party or location")
		}
		dests = append(dests, map[string]any{"type": t, "party": d.Destination})
	}
	if len(sources) > 0 {
		out["sources"] = sources
	}
	if len(dests) > 0 {
		out["destinations"] = dests
	}
	c := mapping.Committer{Openings: it.Openings}
	var bts []string
	for _, bt := range e.BizTransactions {
		bts = append(bts, c.Commit("", bare(bt.Type, "urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")+"|"+bt.BizTransaction))
	}
	if len(bts) > 0 {
		out["biz_transactions"] = bts
	}
	it.Openings = c.Openings
	return nil
}

// ParseLGTIN returns the GTIN-14 and lot of an LGTIN EPC class URI
// (urn:epc:class:lgtin:<company prefix>.<indicator><item ref>.<lot>).
func ParseLGTIN(s string) (gtin, lot string, ok bool) {
	rest, found := strings.CutPrefix(s, "urn:epc:class:lgtin:")
	if !found {
		return "", "", false
	}
	parts := strings.SplitN(rest, ".", 3)
	if len(parts) != 3 || len(parts[0])+len(parts[1]) != 13 || len(parts[1]) < 1 || !digits(parts[0]) || !digits(parts[1]) {
		return "", "", false
	}
	body := parts[1][:1] + parts[0] + parts[1][1:]
	lot = parts[2]
	if lot == "" || len(lot) > 20 {
		return "", "", false
	}
	for i := 0; i < len(lot); i++ {
		if c := lot[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' && i > 0) {
			return "", "", false // the schema's lot: letters, digits, hyphens
		}
	}
	return body + checkDigit(body), lot, true
}
