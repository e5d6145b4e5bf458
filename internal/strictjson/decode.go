package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
)

// Decode decodes the one JSON value in data into v, refusing syntax errors,
// trailing data, duplicate object keys (anywhere, see [Check]), unknown
// fields and keys that match a field only by ignoring case.
func Decode(data []byte, v any) error { return decodeChecked(Check, data, v) }

// decodeChecked is Decode with check as the duplicate-key and syntax check
// run first (the tests pass the token walk Check replaced, as a reference).
func decodeChecked(check func([]byte) error, data []byte, v any) error {
	if err := check(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// check has refused trailing data; this keeps the decoder's word too.
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("trailing data after the JSON object")
	}
	return checkExactKeys(data, reflect.TypeOf(v))
}
