package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/htlog/htlog/schemas"
)

func newValidator(t testing.TB) *schemas.Validator {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// exampleDirs maps each admitted schema version to the folder of its
// examples: examples/<kind> holds version 2's, examples/v3/<kind>
// version 3's (examples/v1 is read by TestValidationErrorField).
var exampleDirs = map[int]string{2: "examples", 3: filepath.Join("examples", "v3")}

// examples returns the example files of kind and version whose names start
// with prefix.
func examples(t *testing.T, version int, kind, prefix string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(exampleDirs[version], kind, prefix+"-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestValidExamples(t *testing.T) {
	v := newValidator(t)
	for version := range exampleDirs {
		for _, kind := range schemas.Kinds {
			files := examples(t, version, kind, "valid")
			if len(files) < 2 {
				t.Errorf("%s v%d: %d valid examples, want at least 2", kind, version, len(files))
			}
			for _, f := range files {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := v.Validate(kind, version, body); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
		}
	}
}

func TestInvalidExamples(t *testing.T) {
	v := newValidator(t)
	for version := range exampleDirs {
		for _, kind := range schemas.Kinds {
			files := examples(t, version, kind, "invalid")
			if len(files) < 3 {
				t.Errorf("%s v%d: %d invalid examples, want at least 3", kind, version, len(files))
			}
			for _, f := range files {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				err = v.Validate(kind, version, body)
				var ve *schemas.ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("%s: got %v, want a *ValidationError", f, err)
					continue
				}
				if ve.Field == "" || strings.Contains(ve.Error(), "\n") {
					t.Errorf("%s: got %q, want one line naming a field", f, ve.Error())
				}
				t.Logf("%s: %v", f, ve)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	v := newValidator(t)
	valid, err := os.ReadFile("examples/access/valid-break-glass.json")
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), schemas.MaxBodySize)...)
	huge = append(huge, `"}`...)
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	tests := []struct {
		name    string
		kind    string
		version int
		body    string
		want    error
	}{
		{"unknown kind", "billing", 1, string(valid), schemas.ErrUnknownKind},
		{"empty kind", "", 1, string(valid), schemas.ErrUnknownKind},
		{"version 0", "access", 0, string(valid), schemas.ErrUnknownVersion},
		{"version 4", "access", 4, string(valid), schemas.ErrUnknownVersion},
		{"too large", "access", 1, string(huge), schemas.ErrBodyTooLarge},
		{"empty", "access", 1, "", schemas.ErrMalformedBody},
		{"array", "access", 1, "[]", schemas.ErrMalformedBody},
		{"string", "access", 1, `"tag"`, schemas.ErrMalformedBody},
		{"null", "access", 1, "null", schemas.ErrMalformedBody},
		{"number", "access", 1, "1", schemas.ErrMalformedBody},
		{"not json", "access", 1, "{action: R}", schemas.ErrMalformedBody},
		{"truncated", "access", 1, string(valid[:len(valid)/2]), schemas.ErrMalformedBody},
		{"two objects", "access", 1, string(valid) + string(valid), schemas.ErrMalformedBody},
		{"trailing garbage", "access", 1, string(valid) + "x", schemas.ErrMalformedBody},
		{"duplicate key", "access", 1, `{"action":"R","action":"C"}`, schemas.ErrMalformedBody},
		{"nested duplicate key", "access", 1, `{"agent":{"who":"a","who":"b"}}`, schemas.ErrMalformedBody},
		{"invalid utf-8", "access", 1, "{\"source_system\":\"\xff\"}", schemas.ErrMalformedBody},
		{"too deep", "access", 1, `{"a":` + deep + `}`, schemas.ErrMalformedBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Validate(tc.kind, tc.version, []byte(tc.body))
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	atLimit := `{"source_system":"` + strings.Repeat("x", schemas.MaxBodySize-20) + `"}`
	var ve *schemas.ValidationError
	if err := v.Validate("access", 1, []byte(atLimit)); len(atLimit) != schemas.MaxBodySize || !errors.As(err, &ve) {
		t.Errorf("body of exactly MaxBodySize: got %v, want a *ValidationError", err)
	}
	if err := v.Validate("access", 1, append(valid, " \n"...)); err != nil {
		t.Errorf("trailing whitespace: %v", err)
	}
}

func TestValidationErrorField(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		file, want string
	}{
		{"access/invalid-patient-mrn-in-clear.json", "/patient: is not an htlog tag"},
		{"access/invalid-missing-source-system.json", "/source_system: is required"},
		{"access/invalid-extra-field-patient-name.json", "/patient_name: is not allowed"},
		{"access/invalid-disclosure-description-in-clear.json", "/disclosure/description: is not an htlog commitment"},
		{"custody/invalid-serial-in-clear.json", "/products/0/serial: is not an htlog tag"},
	}
	for _, tc := range tests {
		body, err := os.ReadFile(filepath.Join("examples", "v1", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		kind := strings.Split(tc.file, "/")[0]
		if err := v.Validate(kind, 1, body); err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.file, err, tc.want)
		}
	}
}

func TestSchemaAndLatest(t *testing.T) {
	for _, kind := range schemas.Kinds {
		if got := schemas.Latest(kind); got != 3 {
			t.Errorf("Latest(%q) = %d, want 3", kind, got)
		}
		if got := schemas.Default(kind); got != 2 {
			t.Errorf("Default(%q) = %d, want 2", kind, got)
		}
		for _, n := range []int{1, 2, 3} {
			b, ok := schemas.Schema(kind, n)
			if !ok {
				t.Fatalf("Schema(%q, %d) missing", kind, n)
			}
			var doc struct {
				ID string `json:"$id"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("https://htlog.dev/schemas/%s/v%d.json", kind, n); doc.ID != want {
				t.Errorf("%s: $id %q, want %q", kind, doc.ID, want)
			}
		}
	}
	if _, ok := schemas.Schema("access", 4); ok {
		t.Error("Schema(access, 4) exists")
	}
	if _, ok := schemas.Schema("billing", 1); ok {
		t.Error("Schema(billing, 1) exists")
	}
	if got, def := schemas.Latest("billing"), schemas.Default("billing"); got != 0 || def != 0 {
		t.Errorf("Latest(billing) = %d, Default(billing) = %d, want 0", got, def)
	}
}

func TestIsTagIsCommitment(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		s           string
		tag, commit bool
	}{
		{"tag:v1:" + hex, true, false},
		{"commit:v1:" + hex, false, true},
		{"tag:v1:" + strings.ToUpper(hex), false, false},
		{"tag:v1:" + hex[:63], false, false},
		{"tag:v1:" + hex + "0", false, false},
		{"tag:v2:" + hex, false, false},
		{"commit:v1:" + hex[:63] + "g", false, false},
		{"commit:v1:" + hex + "\n", false, false},
		{" tag:v1:" + hex, false, false},
		{"MRN-00482913", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		if got := schemas.IsTag(tc.s); got != tc.tag {
			t.Errorf("IsTag(%q) = %v, want %v", tc.s, got, tc.tag)
		}
		if got := schemas.IsCommitment(tc.s); got != tc.commit {
			t.Errorf("IsCommitment(%q) = %v, want %v", tc.s, got, tc.commit)
		}
	}
}

func TestConcurrentValidate(t *testing.T) {
	v := newValidator(t)
	valid, _ := os.ReadFile("examples/access/valid-routine-read.json")
	invalid, _ := os.ReadFile("examples/access/invalid-patient-mrn-in-clear.json")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := v.Validate("access", 1, valid); err != nil {
					t.Errorf("goroutine %d: valid body: %v", i, err)
					return
				}
				if err := v.Validate("access", 1, invalid); err == nil {
					t.Errorf("goroutine %d: invalid body accepted", i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzValidate(f *testing.F) {
	// k picks the kind (k mod 4) and the version (1 + k/4 mod 3): each
	// example is seeded under its own version.
	for i, kind := range schemas.Kinds {
		for version, dir := range map[int]string{1: filepath.Join("examples", "v1"), 2: "examples", 3: filepath.Join("examples", "v3")} {
			files, _ := filepath.Glob(filepath.Join(dir, kind, "*.json"))
			for _, file := range files {
				b, _ := os.ReadFile(file)
				f.Add(uint8(i+4*(version-1)), b)
			}
		}
	}
	f.Add(uint8(0), []byte(`{"a":1}{`))
	f.Add(uint8(3), []byte(`[{"registry_id":"NCT01234567"}]`))
	v := newValidator(f)
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := schemas.Kinds[int(k)%len(schemas.Kinds)]
		version := 1 + int(k/4)%schemas.Latest(kind)
		if v.Validate(kind, version, body) != nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
	})
}

func ExampleValidator_Validate() {
	v, err := schemas.NewValidator()
	if err != nil {
		panic(err)
	}
	body := []byte(`{
		"action": "R",
		"event_type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
		"outcome": "0",
		"purpose_of_use": "TREAT",
		"agent": {
			"role": {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "PCP"},
			"organization": "npi:1234567893",
			"who": "tag:v1:6ff3b3bd11c44cac620c43d5b65377bd2ba7e8951c1e835ae40c96733730982b"
		},
		"source_system": "ehr-1",
		"patient": "MRN-00482913"
	}`)
	fmt.Println(v.Validate("access", 1, body))
	// Output: /patient: is not an htlog tag
}
