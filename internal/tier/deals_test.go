package tier

import (
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// dealsRevenue makes the fixture's sourced-revenue a Deals metric: computed by
// partnergov from won deals, trusted to nobody.
func dealsRevenue(in *Input) {
	for i, m := range in.Program.Spec.Metrics {
		if m.Name == revenue {
			m.Source, m.TrustedReporters = v1alpha1.MetricSourceDeals, v1alpha1.Identities{}
			m.Deals = &v1alpha1.DealMetric{Measure: v1alpha1.DealMeasureSourcedAmount, Currency: "USD"}
			in.Program.Spec.Metrics[i] = m
		}
	}
}

func computed(metric string, value v1alpha1.Decimal) v1alpha1.EvidenceEntry {
	e := entry(metric, value)
	e.Source, e.TrustedVia = "partnergov", "deals"
	return e
}

func TestDealsMetricsCountOnlyAsComputed(t *testing.T) {
	for name, tc := range map[string]struct {
		opts []option
		want string
	}{
		"won deals computed into sourced revenue earn silver": {
			opts: []option{dealsRevenue, withEvidence(entry(engineers, "3")), func(in *Input) { in.Computed = []v1alpha1.EvidenceEntry{computed(revenue, "150000")} }},
			want: "silver",
		},
		"a reported value of a Deals metric does not count, even from its old reporter": {
			opts: []option{dealsRevenue, withEvidence(entry(revenue, "150000"), entry(engineers, "3"))},
			want: "registered",
		},
		"the computed value wins over a reported one": {
			opts: []option{dealsRevenue, withEvidence(entry(revenue, "9000000"), entry(engineers, "3")),
				func(in *Input) { in.Computed = []v1alpha1.EvidenceEntry{computed(revenue, "10")} }},
			want: "registered",
		},
		"a computed entry for a reported metric does not count": {
			opts: []option{withEvidence(entry(engineers, "3")), func(in *Input) { in.Computed = []v1alpha1.EvidenceEntry{computed(revenue, "150000")} }},
			want: "registered",
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(input(tc.opts...))
			if r.Status.Tier != tc.want {
				t.Errorf("tier %q, want %q", r.Status.Tier, tc.want)
			}
		})
	}
}
