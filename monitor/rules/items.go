package rules

import "github.com/htlog/htlog/monitor/entry"

// item is one thing a custody event is about: a serialised package (GTIN
// and serial tag) or, in a version 3 class-level event, a lot (GTIN and
// lot, no serial).
type item struct {
	// Key is the package's entry.Product.Key, or "lot:" and the lot's
	// entry.LotKey for a class-level quantity.
	Key string
	// GTIN and Lot say which lot the item belongs to; Serial is the
	// package's tag ("" for a lot).
	GTIN, Lot, Serial string
}

// label names the item in a finding: GTIN and serial tag (shortened), or
// GTIN and lot; never more than the log shows in clear.
func (it item) label() string {
	if it.Serial == "" {
		return "GTIN " + it.GTIN + " lot " + it.Lot
	}
	return "GTIN " + it.GTIN + " serial " + short(it.Serial)
}

// lotKey is the key of the item's lot.
func (it item) lotKey() string { return entry.LotKey(it.GTIN, it.Lot) }

// itemsOf returns what custody event c is about: its products (with those
// in the logistic unit it names, by pk, which may be nil) and quantities,
// and a transformation's inputs (consumed) and outputs (created), in the
// body's order.
func itemsOf(c *entry.Custody, pk *packing) []item {
	var out []item
	for _, ps := range [][]entry.Product{pk.products(c), c.InputProducts, c.OutputProducts} {
		for _, p := range ps {
			out = append(out, item{Key: p.Key(), GTIN: p.GTIN, Lot: p.Lot, Serial: p.Serial})
		}
	}
	for _, qs := range [][]entry.Quantity{c.Quantities, c.InputQuantities, c.OutputQuantities} {
		for _, q := range qs {
			out = append(out, item{Key: "lot:" + entry.LotKey(q.GTIN, q.Lot), GTIN: q.GTIN, Lot: q.Lot})
		}
	}
	return out
}

// quarantineDispositions are the CBV 2.0 dispositions that keep a product
// out of saleable stock: what DSCSA quarantine and a recall expect.
var quarantineDispositions = map[string]bool{
	"non_sellable_other": true, "damaged": true, "destroyed": true, "disposed": true,
	"expired": true, "recalled": true, "stolen": true,
}

// saleableMove reports whether c moves its products on as saleable stock:
// a dispensing or retail sale, or a shipment or receipt whose disposition
// is not one that keeps them out of saleable stock (a return to the
// manufacturer, disposition returned or a quarantine disposition, is not).
func saleableMove(c *entry.Custody) bool {
	switch c.BizStep {
	case "dispensing", "retail_selling":
		return true
	case "shipping", "receiving":
		return !quarantineDispositions[c.Disposition] && c.Disposition != "returned"
	}
	return false
}
