package strictjson

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// checkExactKeys refuses object keys that match a field only by ignoring
// case. encoding/json matches names case-insensitively, so {"KIND":"trial"}
// would decode as kind; a stricter parser elsewhere would see no kind at all.
// Every key must be a field's exact JSON name, at every level of t that is a
// struct (json.RawMessage fields, such as an event's body, are the schema's
// business).
func checkExactKeys(data []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(json.RawMessage{}):
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return err
		}
		for _, item := range items {
			if err := checkExactKeys(item, t.Elem()); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			return err
		}
		for key, raw := range obj {
			f, ok := fieldByExactName(t, key)
			if !ok {
				return fmt.Errorf("json: unknown field %q (field names are case-sensitive)", key)
			}
			if err := checkExactKeys(raw, f.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByExactName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
