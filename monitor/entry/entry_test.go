package entry

import (
	"encoding/json"
	"testing"
)

func TestOutcomeForms(t *testing.T) {
	tests := []struct {
		in   string
		want Outcome
	}{
		{`{"measure":"Overall survival","time_frame":"Up to 60 months"}`, Outcome{Measure: "Overall survival", TimeFrame: "Up to 60 months"}},
		{`{"measure":{"system":"http://snomed.info/sct","code":"281756005"},"time_frame":{"value":3,"unit":"year"},"metric":"time_to_event","aggregation":"median"}`,
			Outcome{Measure: "http://snomed.info/sct|281756005", TimeFrame: "P36M", Metric: "time_to_event", Aggregation: "median", Coded: true}},
		{`{"measure":{"system":"http://loinc.org","code":"2339-0"},"time_frame":{"value":48,"unit":"hour"}}`, Outcome{Measure: "http://loinc.org|2339-0", TimeFrame: "P2D", Coded: true}},
		{`{"measure":{"system":"http://loinc.org","code":"2339-0"},"time_frame":{"value":12,"unit":"week"}}`, Outcome{Measure: "http://loinc.org|2339-0", TimeFrame: "P84D", Coded: true}},
		{`{"measure":{"system":"http://loinc.org","code":"2339-0"},"time_frame":{"value":90,"unit":"minute"}}`, Outcome{Measure: "http://loinc.org|2339-0", TimeFrame: "90 minute", Coded: true}},
	}
	for _, tc := range tests {
		var o Outcome
		if err := json.Unmarshal([]byte(tc.in), &o); err != nil || o != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.in, o, err, tc.want)
		}
	}
	if CodedTimeFrame(84, "day") != CodedTimeFrame(12, "week") || CodedTimeFrame(36, "month") != CodedTimeFrame(3, "year") ||
		CodedTimeFrame(1, "month") == CodedTimeFrame(30, "day") {
		t.Error("time frames in days and months")
	}
}

// FuzzOutcome: decoding any JSON never panics, and what a rule saves of an
// outcome (its JSON) decodes to the same outcome.
//
//	go test -run '^$' -fuzz FuzzOutcome -fuzztime 30s ./monitor/entry/
func FuzzOutcome(f *testing.F) {
	f.Add(`{"measure":"Overall survival","time_frame":"Up to 60 months"}`)
	f.Add(`{"measure":{"system":"http://snomed.info/sct","code":"281756005"},"time_frame":{"value":36,"unit":"month","anchor":"randomization"},"metric":"time_to_event"}`)
	f.Add(`{"measure":{},"time_frame":{}}`)
	f.Add(`{"measure":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		var o Outcome
		if json.Unmarshal([]byte(s), &o) != nil {
			return
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var back Outcome
		if err := json.Unmarshal(b, &back); err != nil || back != o {
			t.Fatalf("%s: saved as %s, read back as %+v, %v", s, b, back, err)
		}
	})
}
