package strictjson_test

import (
	"testing"

	"github.com/htlog/htlog/internal/testonly/fuzzing"
)

// TestMain caps the fuzzing engine's minimization of new inputs (see
// package fuzzing), which otherwise leaves the fuzz targets idle.
func TestMain(m *testing.M) { fuzzing.Main(m) }
