package main

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// soak makes samples every 10 s over d, with rss(t) and goroutines(t) by the
// fraction t of the soak elapsed.
func soak(d time.Duration, rss func(t float64) float64, goroutines func(t float64) int) []Sample {
	var out []Sample
	for s := 10.0; s <= d.Seconds(); s += 10 {
		t := s / d.Seconds()
		out = append(out, Sample{Seconds: s, RSSMiB: rss(t), Goroutines: goroutines(t)})
	}
	return out
}

func flat(v float64) func(float64) float64 { return func(float64) float64 { return v } }
func flatG(v int) func(float64) int        { return func(float64) int { return v } }

// step is before until the fraction at of the soak, after from then on.
func step(at, before, after float64) func(float64) float64 {
	return func(t float64) float64 {
		if t > at {
			return after
		}
		return before
	}
}

// spikeG is base, and peak between the fractions from and to of the soak.
func spikeG(from, to float64, base, peak int) func(float64) int {
	return func(t float64) int {
		if t > from && t < to {
			return peak
		}
		return base
	}
}

func verdict(t *testing.T, vs []Verdict, name string) Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no verdict %q in %+v", name, vs)
	return Verdict{}
}

func TestLastQuartersMedianRSSWithin10PercentOfTheSecondQuarters(t *testing.T) {
	const d = 8 * time.Minute
	for name, c := range map[string]struct {
		rss  func(float64) float64
		want bool
	}{
		"flat": {flat(120), true},
		"a warm-up in the first quarter is ignored":       {step(0.25, 60, 120), true},
		"growing 8% from the second quarter to the last":  {step(0.75, 100, 108), true},
		"growing 15% from the second quarter to the last": {step(0.75, 100, 115), false},
		"a steady leak of 40% over the soak":              {func(t float64) float64 { return 100 * (1 + 0.4*t) }, false},
		"shrinking 20% is outside 10% as well":            {step(0.75, 100, 80), false},
		"one spike in the last quarter does not move its median": {func(t float64) float64 {
			if t > 0.9 && t < 0.93 {
				return 400
			}
			return 100
		}, true},
	} {
		t.Run(name, func(t *testing.T) {
			v := verdict(t, Verdicts(soak(d, c.rss, flatG(300)), d), VerdictRSS)
			if v.Met != c.want {
				t.Errorf("met = %v, want %v (%s)", v.Met, c.want, v.Detail)
			}
		})
	}
	t.Run("no samples in a quarter is not met", func(t *testing.T) {
		if v := verdict(t, Verdicts([]Sample{{Seconds: 10, RSSMiB: 100}}, d), VerdictRSS); v.Met {
			t.Errorf("met with one sample: %s", v.Detail)
		}
	})
}

func TestGoroutinesFlat(t *testing.T) {
	const d = time.Hour
	for name, c := range map[string]struct {
		goroutines func(float64) int
		want       bool
	}{
		"flat": {flatG(300), true},
		"jitter within 10% of the second quarter's max": {func(t float64) int {
			return 300 + int(t*1000)%30
		}, true},
		"the last quarter's max exactly 10% above": {spikeG(0.75, 0.8, 300, 330), true},
		"the last quarter's max 11% above":         {spikeG(0.75, 0.8, 300, 333), false},
		"a goroutine leak":                         {func(t float64) int { return 300 + int(200*t) }, false},
		"a first-quarter burst is ignored":         {spikeG(0, 0.2, 300, 900), true},
	} {
		t.Run(name, func(t *testing.T) {
			v := verdict(t, Verdicts(soak(d, flat(100), c.goroutines), d), VerdictGoroutines)
			if v.Met != c.want {
				t.Errorf("met = %v, want %v (%s)", v.Met, c.want, v.Detail)
			}
		})
	}
}

func TestZeroUnexpectedErrors(t *testing.T) {
	const d = 4 * time.Minute
	for name, c := range map[string]struct {
		last Sample
		want bool
	}{
		"none": {Sample{}, true},
		"conflicts, not found and gone are expected": {Sample{API: APICounts{Requests: 1000, Conflicts: 40, NotFound: 7, Gone: 2}, Load: LoadCounts{Retried: 12}}, true},
		"a 5xx":                        {Sample{API: APICounts{ServerErrors: 1}}, false},
		"a 429":                        {Sample{API: APICounts{Throttled: 1}}, false},
		"a request without a response": {Sample{API: APICounts{Transport: 1}}, false},
		"a 403 or 422 of the manager":  {Sample{API: APICounts{OtherClient: 1}}, false},
		"a reconcile error":            {Sample{ReconcileErrors: 1}, false},
		"a failed reading":             {Sample{ScrapeErrors: 1}, false},
		"a load error":                 {Sample{Load: LoadCounts{Errors: 1}}, false},
	} {
		t.Run(name, func(t *testing.T) {
			samples := soak(d, flat(100), flatG(300))
			last := c.last
			last.Seconds, last.RSSMiB, last.Goroutines = d.Seconds(), 100, 300
			samples[len(samples)-1] = last
			v := verdict(t, Verdicts(samples, d), VerdictErrors)
			if v.Met != c.want {
				t.Errorf("met = %v, want %v (%s)", v.Met, c.want, v.Detail)
			}
		})
	}
}

func TestAPICodesAreClassified(t *testing.T) {
	for name, c := range map[string]struct {
		codes map[string]float64
		want  APICounts
	}{
		"successes": {map[string]float64{"200": 10, "201": 5}, APICounts{Requests: 15}},
		"expected":  {map[string]float64{"404": 1, "409": 2, "410": 3}, APICounts{Requests: 6, NotFound: 1, Conflicts: 2, Gone: 3}},
		"unexpected": {map[string]float64{"429": 1, "500": 2, "503": 3, "<error>": 4, "403": 5, "422": 6},
			APICounts{Requests: 21, Throttled: 1, ServerErrors: 5, Transport: 4, OtherClient: 11}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ClassifyCodes(c.codes); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestQuartersSplitTheSoakByElapsedTime(t *testing.T) {
	d := 4 * time.Minute
	samples := []Sample{{Seconds: 0}, {Seconds: 60}, {Seconds: 61}, {Seconds: 120}, {Seconds: 180}, {Seconds: 181}, {Seconds: 240}}
	for name, c := range map[string]struct {
		q    int
		want []float64
	}{
		"the first, without the reading at the start": {1, []float64{60}},
		"the second":                            {2, []float64{61, 120}},
		"the third":                             {3, []float64{180}},
		"the last, with the reading at the end": {4, []float64{181, 240}},
	} {
		t.Run(name, func(t *testing.T) {
			got := field(Quarter(samples, d, c.q), func(s Sample) float64 { return s.Seconds })
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for name, c := range map[string]struct {
		in   []float64
		want float64
	}{
		"odd":      {[]float64{3, 1, 2}, 2},
		"even":     {[]float64{4, 1, 3, 2}, 2.5},
		"one":      {[]float64{7}, 7},
		"unsorted": {[]float64{10, 100, 1, 50, 5}, 10},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Median(c.in); got != c.want {
				t.Errorf("got %g, want %g", got, c.want)
			}
		})
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("the median of nothing is not NaN")
	}
}

func TestRowsShowTheMinutesCountersAndTheReadingsGauges(t *testing.T) {
	prev := Sample{Seconds: 60, API: APICounts{Requests: 1000, Conflicts: 5}, Load: LoadCounts{EvidenceSent: 3000, DealsRegistered: 60, ListingsCreated: 15}}
	cur := Sample{Seconds: 120, RSSMiB: 142.25, HeapMiB: 80, LiveHeapMiB: 41.04, Goroutines: 311, OpenFDs: 42, QueueDepth: 7, QueueMax: 5, QueueMaxName: "partner",
		API:  APICounts{Requests: 2500, Conflicts: 9, NotFound: 1, ServerErrors: 2},
		Load: LoadCounts{EvidenceSent: 6000, TierChanges: 120, DealsRegistered: 120, DealsWon: 20, ListingsCreated: 30, ListingsUpdated: 30, RequestsFiled: 20, RequestsDecided: 18}}
	r := NewRow(2, prev, cur, 850)
	r.Objects = map[string]float64{"DecisionRecord": 2480}
	r.EtcdMiB = 31.25
	got := r.Format()
	want := "| 2 | 142.2 | 80.0 | 41.0 | 311 | 42 | 7 | 5 partner | 1500 | 4 | 1 | 2 | 0 | 0 | 3000 | 120 | 0 | 850 | 20/18 | 60/20/0/0 | 15/30/0 | 2480 | 31.2 |"
	if got != want {
		t.Errorf("row\n got %s\nwant %s", got, want)
	}
	if h := TableHeader(); strings.Count(strings.SplitN(h, "\n", 2)[0], "|")-1 != strings.Count(got, "|")-1 {
		t.Errorf("the header has other columns than the row:\n%s\n%s", h, got)
	}
}

func TestEveryDecisionRecordedVerdict(t *testing.T) {
	for name, c := range map[string]struct {
		r    Recorded
		err  error
		want bool
	}{
		"every partner recorded and verified":       {r: Recorded{Partners: 2000, Records: 30000}, want: true},
		"a partner's newest decision has no record": {r: Recorded{Partners: 2000, Unrecorded: []string{"p-00001: no record"}}},
		"a chain does not verify":                   {r: Recorded{Partners: 2000, Unverified: []string{"p-00002: gap"}}},
		"no partner checked":                        {r: Recorded{}},
		"the check could not read":                  {r: Recorded{Partners: 2000}, err: errors.New("connection refused")},
	} {
		t.Run(name, func(t *testing.T) {
			if got := RecordedVerdict(c.r, c.err); got.Met != c.want || got.Name != VerdictRecorded {
				t.Errorf("got %+v, want met=%v", got, c.want)
			}
		})
	}
}
