package client_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/htlog/htlog/internal/testonly"
)

// TestExternalModule builds testdata/hospital, a program in a module of its
// own that imports only htlog's public packages (c2sp, event, client), as a
// hospital's program would, and runs it against a real stack: it signs an
// event with event.Builder, submits it, verifies the receipt offline, finds
// the event by the patient's tag and proves it included with a Keeper. The
// build fails if any public API hands out or requires a type from htlog's
// internal packages. The module resolves htlog through a replace directive
// and everything else from the module cache (GOPROXY=off, go.sum copied
// from this repository).
func TestExternalModule(t *testing.T) {
	s := testonly.StartStack(t)
	root, err := filepath.Abs(testonly.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.org/hospital\n\ngo 1.26.8\n\nrequire github.com/htlog/htlog v0.0.0\n\nreplace github.com/htlog/htlog => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(filepath.Join("testdata", "hospital", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": prog} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, testonly.Example(t, "access", "valid-routine-read.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", ".", "-log", s.URL, "-policy", s.PolicyFile, "-key", s.KeyFile, "-org", s.Org, "-body", body)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off", "GOSUMDB=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	want := "signed: true key true\n" +
		"receipt verified: index matches true size covers it true witnesses true\n" +
		"found: true access true true\n" +
		"keeper: included in size true\n"
	if string(out) != want {
		t.Errorf("the program printed\n%s\nwant\n%s", out, want)
	}
}
