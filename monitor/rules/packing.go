package rules

import (
	"slices"

	"github.com/htlog/htlog/monitor/entry"
	"github.com/htlog/htlog/monitor/finding"
)

// Bounds of what packing keeps: packages and child units per logistic
// unit, nesting followed, and packages one event expands to. An
// aggregation past them is followed in part (the packages over the bound
// are not expanded into).
const (
	maxUnitProducts = 1024
	maxUnitUnits    = 256
	maxUnitDepth    = 4
	maxExpanded     = 4096
)

// packing follows which packages are in which logistic unit (EPCIS 2.0
// AggregationEvent: the parent SSCC, child EPCs and child SSCCs), so that
// an event about a logistic unit (an object or transaction event naming
// only its SSCC, as shipments of cases and pallets do) is an event about
// every package in it, to the custody, ownership, recall, returns and
// DSCSA rules. ADD and OBSERVE put children in the unit, DELETE takes the
// named ones out, or empties it when it names none. It follows the log's
// order: an aggregation logged after a shipment of its unit does not
// reach back to the shipment. It reports nothing.
type packing struct {
	// Units maps an SSCC to what is in it.
	Units table[*unit] `json:"units"`
}

// unit is what is in one logistic unit.
type unit struct {
	Products []entry.Product `json:"products,omitempty"`
	Units    []string        `json:"units,omitempty"` // child SSCCs
}

func newPacking() *packing { return &packing{} }

// Name implements Rule: packing reports nothing.
func (k *packing) Name() string { return "" }

// stateName is the key of its state: a name, not its place in the list
// of rules, so that adding a rule before it keeps its state.
func (k *packing) stateName() string { return "packing" }

// State implements Rule.
func (k *packing) State() any { return k }

func (k *packing) parts() []part { return []part{{"units", &k.Units}} }

// Observe implements Rule.
func (k *packing) Observe(e *entry.Entry) []finding.Finding {
	c := e.Custody
	if c == nil || c.EventType != "AggregationEvent" || c.ParentSSCC == "" {
		return nil
	}
	parent := c.ParentSSCC
	if c.Action == "DELETE" {
		if len(c.Products) == 0 && len(c.ChildSSCCs) == 0 {
			k.Units.del(parent)
			return nil
		}
		u, ok := k.Units.mut(parent)
		if !ok {
			return nil
		}
		u.Products = slices.DeleteFunc(u.Products, func(p entry.Product) bool {
			return slices.ContainsFunc(c.Products, func(q entry.Product) bool { return q.Key() == p.Key() })
		})
		u.Units = slices.DeleteFunc(u.Units, func(s string) bool { return slices.Contains(c.ChildSSCCs, s) })
		return nil
	}
	u, _ := k.Units.mut(parent)
	if u == nil {
		u = &unit{}
		k.Units.put(parent, u)
	}
	for _, p := range c.Products {
		if len(u.Products) < maxUnitProducts && !slices.ContainsFunc(u.Products, func(q entry.Product) bool { return q.Key() == p.Key() }) {
			u.Products = append(u.Products, p)
		}
	}
	for _, s := range c.ChildSSCCs {
		if s != parent && len(u.Units) < maxUnitUnits && !slices.Contains(u.Units, s) {
			u.Units = append(u.Units, s)
		}
	}
	return nil
}

// products returns the packages custody event c is about: its own, and,
// for an event that is not an aggregation, those in the logistic unit it
// names (nested units included, to maxUnitDepth). k may be nil.
func (k *packing) products(c *entry.Custody) []entry.Product {
	if k == nil || c.ParentSSCC == "" || c.EventType == "AggregationEvent" {
		return c.Products
	}
	out := slices.Clone(c.Products)
	seen := map[string]bool{}
	for _, p := range out {
		seen[p.Key()] = true
	}
	visited := map[string]bool{}
	var walk func(sscc string, depth int)
	walk = func(sscc string, depth int) {
		u, ok := k.Units.get(sscc)
		if !ok || depth > maxUnitDepth || visited[sscc] {
			return
		}
		visited[sscc] = true
		for _, p := range u.Products {
			if len(out) < maxExpanded && !seen[p.Key()] {
				seen[p.Key()] = true
				out = append(out, p)
			}
		}
		for _, s := range u.Units {
			walk(s, depth+1)
		}
	}
	walk(c.ParentSSCC, 1)
	return out
}
