package entrycheck

import (
	"time"

	"github.com/htlog/htlog/event"
	"github.com/htlog/htlog/monitor/entry"
)

// decodeEntry is entry.Decode, reading an ACCESS body from obj, the body
// as the schema validator decoded it, when it can; nil obj (no validator,
// or a body the schema refused) decodes body again. at is ev.Time().
func decodeEntry(index uint64, id string, ev *event.Event, at time.Time, obj map[string]any) (*entry.Entry, error) {
	if obj != nil && ev.Kind == "access" {
		if a, ok := accessFrom(obj); ok {
			return &entry.Entry{Index: index, ID: id, Event: ev, Time: at, Access: a}, nil
		}
	}
	return entry.Decode(index, id, ev)
}

// accessFrom fills an entry.Access from a decoded ACCESS body. Its
// contract is one-sided: when ok is true, a is exactly what entry.Decode's
// json.Unmarshal of the same body gives (a body that repeats no member
// name, as the validator requires: json.Unmarshal merges a repeated
// object into the struct where the map holds only the last); when ok is false (a member it
// does not know by its exact name, a value of another type, a null), the
// caller decodes the body the slow way. Every ACCESS body that passes the
// version 1 schema takes this path. FuzzAccessFrom checks the contract.
func accessFrom(obj map[string]any) (a *entry.Access, ok bool) {
	a = new(entry.Access)
	for k, v := range obj {
		switch k {
		case "action":
			a.Action, ok = v.(string)
		case "outcome":
			a.Outcome, ok = v.(string)
		case "purpose_of_use":
			a.PurposeOfUse, ok = v.(string)
		case "patient":
			a.Patient, ok = v.(string)
		case "authorization":
			a.Authorization, ok = v.(string)
		case "agent":
			ok = agentFrom(a, v)
		case "disclosure":
			ok = disclosureFrom(a, v)
		case "event_type", "source_system", "data_class":
			// In the schema, not in entry.Access: json.Unmarshal skips
			// them whatever they hold (the schema checked them).
			ok = true
		default:
			ok = false
		}
		if !ok {
			return nil, false
		}
	}
	return a, true
}

func agentFrom(a *entry.Access, v any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range obj {
		switch k {
		case "role":
			ok = codingFrom(&a.Agent.Role, v)
		case "organization":
			a.Agent.Organization, ok = v.(string)
		case "who":
			a.Agent.Who, ok = v.(string)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func codingFrom(c *entry.Coding, v any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range obj {
		switch k {
		case "system":
			c.System, ok = v.(string)
		case "code":
			c.Code, ok = v.(string)
		case "display":
			ok = true // not in entry.Coding: skipped, as json.Unmarshal does
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func disclosureFrom(a *entry.Access, v any) bool {
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	d := &a.Disclosure
	*d = new(struct {
		Flag        bool   `json:"flag"`
		Recipient   string `json:"recipient"`
		Description string `json:"description"`
		Basis       string `json:"basis"`
	})
	for k, v := range obj {
		switch k {
		case "flag":
			(*d).Flag, ok = v.(bool)
		case "recipient":
			(*d).Recipient, ok = v.(string)
		case "description":
			(*d).Description, ok = v.(string)
		case "basis":
			(*d).Basis, ok = v.(string)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}
