package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTheOfferedRateIsTheShareOfTheCapacityRounded(t *testing.T) {
	for name, tc := range map[string]struct {
		capacity, share float64
		want            int
	}{
		"80% of 50 decisions a second is 40":          {50, 0.8, 40},
		"50% of 50 decisions a second is 25":          {50, 0.5, 25},
		"rounded to the nearest, half up":             {31, 0.5, 16},
		"rounded to the nearest, not up":              {30.8, 0.5, 15},
		"at least one a second on a very slow box":    {0.9, 0.5, 1},
		"no measured capacity offers nothing":         {0, 0.8, 0},
		"a negative capacity (a failed measure) none": {-5, 0.8, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := offeredRate(tc.capacity, tc.share); got != tc.want {
				t.Errorf("offeredRate(%g, %g) = %d, want %d", tc.capacity, tc.share, got, tc.want)
			}
		})
	}
}

func TestTheSettledRateIsDecisionsOverThePhaseTime(t *testing.T) {
	for name, tc := range map[string]struct {
		decisions int
		seconds   float64
		want      float64
	}{
		"800 decisions settled over 20 s":                {800, 20, 40},
		"the tail after the last update counts":          {800, 25, 32},
		"a phase that took no time settles nothing":      {10, 0, 0},
		"a capacity measure of nothing is zero, not NaN": {0, 15, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := settledRate(tc.decisions, tc.seconds); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("settledRate(%d, %g) = %g, want %g", tc.decisions, tc.seconds, got, tc.want)
			}
		})
	}
}

func TestTheThroughputRatioIsOverTheRateOffered(t *testing.T) {
	for name, tc := range map[string]struct {
		phase                 LoadPhase
		capacity              float64
		ofOffered, ofCapacity float64
	}{
		"keeping up with 40 offered of a capacity of 50": {LoadPhase{Rate: 40, Settled: 39}, 50, 39.0 / 40, 39.0 / 50},
		"falling behind halves the ratio":                {LoadPhase{Rate: 40, Settled: 20}, 50, 0.5, 0.4},
		"nothing offered, no ratio":                      {LoadPhase{Rate: 0, Settled: 3}, 50, 0, 3.0 / 50},
		"no capacity, no share of it":                    {LoadPhase{Rate: 40, Settled: 40}, 0, 1, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.phase.OfOffered(); math.Abs(got-tc.ofOffered) > 1e-9 {
				t.Errorf("OfOffered = %g, want %g", got, tc.ofOffered)
			}
			if got := tc.phase.OfCapacity(tc.capacity); math.Abs(got-tc.ofCapacity) > 1e-9 {
				t.Errorf("OfCapacity(%g) = %g, want %g", tc.capacity, got, tc.ofCapacity)
			}
		})
	}
}

// measured is a size whose capacity phases gave these figures: at 80%,
// p50/p99 and the decisions settled a second of 40 offered; at 50%, p99.
func measured(p50at80, p99at80, settledAt80, p99at50 float64) Result {
	return Result{Partners: 1000, DecisionCapacity: &DecisionCapacity{PerSecond: 50, Decisions: 750, Seconds: 15},
		AtCapacity: []LoadPhase{
			{Share: shareHalf, Rate: 25, Decision: Latency{Samples: 500, P50ms: 30, P99ms: p99at50}, Settled: 24.5},
			{Share: shareMost, Rate: 40, Decision: Latency{Samples: 800, P50ms: p50at80, P99ms: p99at80}, Settled: settledAt80},
		}}
}

func TestTheCapacityGoals(t *testing.T) {
	onlyHalf := measured(100, 400, 39, 200)
	onlyHalf.AtCapacity = onlyHalf.AtCapacity[:1]
	noSamples := measured(100, 400, 39, 200)
	noSamples.AtCapacity[0].Decision.Samples, noSamples.AtCapacity[1].Decision.Samples = 0, 0
	for name, tc := range map[string]struct {
		x    Result
		want capacityVerdict
	}{
		"every goal met, well inside":                            {measured(40, 200, 39.5, 90), capacityVerdict{Most: true, Half: true, Settled: true}},
		"every goal met at its very threshold":                   {measured(150, 500, 36, 250), capacityVerdict{Most: true, Half: true, Settled: true}},
		"p50 above 150 ms at 80% is not met":                     {measured(150.5, 400, 39, 200), capacityVerdict{Most: false, Half: true, Settled: true}},
		"p99 above 500 ms at 80% is not met":                     {measured(100, 500.5, 39, 200), capacityVerdict{Most: false, Half: true, Settled: true}},
		"p99 above 250 ms at 50% is not met":                     {measured(100, 400, 39, 250.5), capacityVerdict{Most: true, Half: false, Settled: true}},
		"settling less than 0.9 of the offered rate is not met":  {measured(100, 400, 35.9, 200), capacityVerdict{Most: true, Half: true, Settled: false}},
		"the 50% phase does not stand in for the 80% one":        {onlyHalf, capacityVerdict{Most: false, Half: true, Settled: false}},
		"a phase without a latency sample meets no latency goal": {noSamples, capacityVerdict{Most: false, Half: false, Settled: true}},
		"a size without the capacity phases meets none of them":  {Result{Partners: 1000}, capacityVerdict{}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := verdictsAtCapacity(tc.x); got != tc.want {
				t.Errorf("verdictsAtCapacity = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// goalLines are the printed goals that contain what.
func goalLines(r Report, what string) []string {
	var out []string
	for _, g := range r.Goals() {
		if strings.Contains(g, what) {
			out = append(out, g)
		}
	}
	return out
}

func TestTheCapacityGoalsArePrintedPerSize(t *testing.T) {
	for name, tc := range map[string]struct {
		results []Result
		want    []string // the three lines' verdicts, or none
	}{
		"a report from before issue 28 has no capacity goals": {[]Result{{Partners: 1000}}, nil},
		"all met":                         {[]Result{measured(40, 200, 39.5, 90)}, []string{"MET    ", "MET    ", "MET    "}},
		"one size failing fails the line": {[]Result{measured(40, 200, 39.5, 90), measured(40, 200, 30, 300)}, []string{"MET    ", "NOT MET", "NOT MET"}},
		"a failing size is not undone by a later one": {[]Result{measured(40, 200, 30, 300), measured(40, 200, 39.5, 90)}, []string{"MET    ", "NOT MET", "NOT MET"}},
		"a size not measured fails the line":          {[]Result{measured(40, 200, 39.5, 90), {Partners: 5000}}, []string{"NOT MET", "NOT MET", "NOT MET"}},
	} {
		t.Run(name, func(t *testing.T) {
			lines := goalLines(Report{Results: tc.results}, "of the measured decision capacity")
			if len(lines) != len(tc.want) {
				t.Fatalf("capacity goal lines %q, want %d", lines, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.HasPrefix(lines[i], want) {
					t.Errorf("line %d %q, want %q", i, lines[i], want)
				}
			}
		})
	}
}

// TestOldResultsStillReport: -report of a result stored before the capacity
// phases loads, renders its table with "-" in their columns, and prints no
// capacity goal; a result without them stores none of their fields.
func TestOldResultsStillReport(t *testing.T) {
	raw, err := os.ReadFile("../../bench/results/20261202T064129Z.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := render(path, DefaultAssumptions); err != nil {
		t.Fatalf("-report of an old result: %v", err)
	}
	var old Report
	if err := json.Unmarshal(raw, &old); err != nil {
		t.Fatal(err)
	}
	if len(old.Results) == 0 || old.Results[0].DecisionCapacity != nil || len(old.Results[0].AtCapacity) != 0 {
		t.Fatalf("old result read as %+v", old.Results)
	}
	if lines := goalLines(old, "capacity"); len(lines) != 0 {
		t.Errorf("an old result printed capacity goals: %q", lines)
	}
	b, err := json.Marshal(old.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"DecisionCapacity", "AtCapacity"} {
		if strings.Contains(string(b), field) {
			t.Errorf("a result without capacity phases stores %s: %s", field, b)
		}
	}
}

// TestTheSizesTableHasAColumnForEveryHeader: the capacity columns are
// rendered for old and new results alike.
func TestTheSizesTableHasAColumnForEveryHeader(t *testing.T) {
	r := Report{Settings: Settings{DecisionRateLow: 25}, Results: []Result{{Partners: 1000, Wave: Phase{Changed: 1}}, measured(40, 200, 39.5, 90)}}
	r.Results[1].Wave.Changed = 1
	var buf bytes.Buffer
	r.printSizes(&buf)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("table %q", buf.String())
	}
	header := strings.Count(lines[0], "|")
	for i, line := range lines[1:] {
		if n := strings.Count(line, "|"); n != header {
			t.Errorf("line %d has %d cells' bars, the header %d: %s", i+1, n, header, line)
		}
	}
	cells := func(line string) []string {
		c := strings.Split(line, "|")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		return c
	}
	at := slices.Index(cells(lines[0]), "decision capacity/s")
	if at < 0 {
		t.Fatalf("no capacity column: %s", lines[0])
	}
	if got, want := cells(lines[2])[at:at+3], []string{"-", "-", "-"}; !slices.Equal(got, want) {
		t.Errorf("an old size's capacity columns %q, want %q", got, want)
	}
	if got, want := cells(lines[3])[at:at+3], []string{"50.0", "30 / 90 (25/s)", "40 / 200 (40/s), settled 0.99"}; !slices.Equal(got, want) {
		t.Errorf("a measured size's capacity columns %q, want %q", got, want)
	}
}
