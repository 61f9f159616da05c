package scorecard

import (
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestAggregationOf(t *testing.T) {
	for name, tc := range map[string]struct {
		unit     string
		declared v1alpha1.MetricAggregation
		want     v1alpha1.MetricAggregation
	}{
		"currency USD sums":                {unit: "USD", want: sum},
		"currency EUR sums":                {unit: "EUR", want: sum},
		"count sums":                       {unit: "count", want: sum},
		"Count in another case sums":       {unit: "Count", want: sum},
		"score averages":                   {unit: "score", want: avg},
		"a unit containing score averages": {unit: "NPS score", want: avg},
		"SCORE in upper case averages":     {unit: "SCORE", want: avg},
		"percent averages":                 {unit: "percent", want: avg},
		"% averages":                       {unit: "%", want: avg},
		"rating averages":                  {unit: "rating", want: avg},
		"lower-case three letters is no currency but sums as any other unit": {unit: "usd", want: sum},
		"hours sum as any other unit":                                        {unit: "hours", want: sum},
		"a four-letter upper-case unit sums as any other unit":               {unit: "USDT", want: sum},
		"declared Average on a currency wins":                                {unit: "USD", declared: avg, want: avg},
		"declared Sum on a score wins":                                       {unit: "score", declared: sum, want: sum},
		"declared Max wins":                                                  {unit: "count", declared: maxAgg, want: maxAgg},
		"declared Latest wins":                                               {unit: "score", declared: latest, want: latest},
		"an unknown declared value falls back to the unit default":           {unit: "score", declared: "Median", want: avg},
	} {
		t.Run(name, func(t *testing.T) {
			m := v1alpha1.MetricDefinition{Name: "m", Class: v1alpha1.MetricClassOutcome, Unit: tc.unit, Aggregation: tc.declared}
			if got := AggregationOf(m); got != tc.want {
				t.Fatalf("AggregationOf(unit %q, aggregation %q) = %q, want %q", tc.unit, tc.declared, got, tc.want)
			}
		})
	}
}
