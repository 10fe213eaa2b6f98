package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	t.Parallel()
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(ds)
	if s.Count != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("got %+v", s)
	}
	if one := Summarize([]time.Duration{3 * time.Millisecond}); one.P50 != 3 || one.P99 != 3 {
		t.Fatalf("one sample: %+v", one)
	}
	if empty := Summarize(nil); empty.Count != 0 {
		t.Fatalf("no samples: %+v", empty)
	}
}

func TestBarsAndRatios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		res  Result
		met  bool
	}{
		{"throughput ratio met", Result{Value: 300, Baseline: &Baseline{Value: 1000}, Bar: atLeastRatio(0.15)}, true},
		{"throughput ratio missed", Result{Value: 100, Baseline: &Baseline{Value: 1000}, Bar: atLeastRatio(0.15)}, false},
		{"latency value met", Result{Value: 4.9, Bar: atMost(5)}, true},
		{"latency value missed", Result{Value: 9, Bar: atMost(5)}, false},
		{"p99 ratio at most", Result{Value: 30, Baseline: &Baseline{Value: 10}, Bar: atMostRatio(2)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.res
			r.evaluate()
			if r.Met == nil || *r.Met != tt.met {
				t.Fatalf("met = %v, want %v", r.Met, tt.met)
			}
			if r.Baseline != nil && (r.Ratio == nil || *r.Ratio != r.Value/r.Baseline.Value) {
				t.Fatalf("ratio %v", r.Ratio)
			}
		})
	}
	// A ratio bar without a baseline decides nothing.
	r := Result{Value: 1, Bar: atLeastRatio(0.3)}
	r.evaluate()
	if r.Met != nil {
		t.Fatal("a ratio bar was judged without a baseline")
	}
}

func TestPrintTableMarksMissedBars(t *testing.T) {
	t.Parallel()
	rep := &Report{}
	for _, r := range []Result{
		{Database: "postgres", Scenario: 2, Name: "engine steps/s", Value: 100, Unit: "steps/s",
			Baseline: &Baseline{Name: "River", Value: 1000, Unit: "jobs/s"}, Bar: atLeastRatio(0.15)},
		{Database: "postgres", Scenario: 7, Name: "idle", Value: 50, Unit: "MiB", Bar: atMost(60)},
	} {
		r.evaluate()
		rep.Results = append(rep.Results, r)
	}
	var buf bytes.Buffer
	if err := rep.PrintTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"ratio ≥ 0.15 MISSED", "0.100", "≤ 60 met", "River 1000 jobs/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
