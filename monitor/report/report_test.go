package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"
	"time"

	"github.com/htlog/htlog/monitor/finding"
)

func TestWrite(t *testing.T) {
	fs := []finding.Finding{{Rule: "r", Severity: finding.High, Index: 4, EventIDs: []string{"sha256:a", "sha256:b"}, Detail: "x, \"y\"", Time: time.Unix(0, 0)},
		{Rule: "split_view", Index: finding.NoIndex, Evidence: "e"}}
	var b bytes.Buffer
	if err := Write(&b, fs, "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][3] != "4" || rows[1][7] != "x, \"y\"" || rows[2][3] != "" {
		t.Fatalf("csv: %v %v", rows, err)
	}
	b.Reset()
	if err := Write(&b, fs, "json"); err != nil {
		t.Fatal(err)
	}
	var back []finding.Finding
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 2 || back[0].EventIDs[1] != "sha256:b" {
		t.Fatalf("json: %v %v", back, err)
	}
	if Write(&b, fs, "xml") == nil {
		t.Fatal("xml accepted")
	}
}
