package main

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/partnergov/partnergov/test/harness"
)

// histogram is a scrape holding one histogram series per counts (cumulative,
// for the bounds 0.001, 0.01 and 0.1 s; the last entry is the sample count).
func histogram(series ...[4]uint64) harness.Metrics {
	fam := &dto.MetricFamily{Name: proto.String("h"), Type: dto.MetricType_HISTOGRAM.Enum()}
	for _, c := range series {
		fam.Metric = append(fam.Metric, &dto.Metric{Histogram: &dto.Histogram{
			SampleCount: proto.Uint64(c[3]),
			Bucket: []*dto.Bucket{
				{UpperBound: proto.Float64(0.001), CumulativeCount: proto.Uint64(c[0])},
				{UpperBound: proto.Float64(0.01), CumulativeCount: proto.Uint64(c[1])},
				{UpperBound: proto.Float64(0.1), CumulativeCount: proto.Uint64(c[2])},
			},
		}})
	}
	return harness.Metrics{"h": fam}
}

// TestRecordCreateLatencyIsWhatTheDecisionPhaseAdded: the bench's record
// create figures count only the samples added between the two scrapes (not
// convergence's), over every series, at the bucket their percentile falls in.
func TestRecordCreateLatencyIsWhatTheDecisionPhaseAdded(t *testing.T) {
	for name, tc := range map[string]struct {
		before, after harness.Metrics
		want          Latency
	}{
		"nothing added": {histogram([4]uint64{5, 5, 5, 5}), histogram([4]uint64{5, 5, 5, 5}), Latency{}},
		"only the phase's samples count": {
			histogram([4]uint64{100, 100, 100, 100}),
			histogram([4]uint64{100, 150, 199, 200}), // 100 added: 50 ≤ 10 ms, 49 ≤ 100 ms, 1 above
			Latency{Samples: 100, P50ms: 10, P99ms: 100},
		},
		"above every bucket: the largest bound": {
			histogram([4]uint64{0, 0, 0, 0}),
			histogram([4]uint64{0, 0, 0, 4}),
			Latency{Samples: 4, P50ms: 100, P99ms: 100},
		},
		"series are summed": {
			histogram([4]uint64{0, 0, 0, 0}, [4]uint64{0, 0, 0, 0}),
			histogram([4]uint64{10, 10, 10, 10}, [4]uint64{0, 0, 10, 10}),
			Latency{Samples: 20, P50ms: 1, P99ms: 100},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := histogramLatency(tc.before, tc.after, "h"); got != tc.want {
				t.Errorf("histogramLatency = %+v, want %+v", got, tc.want)
			}
		})
	}
}
