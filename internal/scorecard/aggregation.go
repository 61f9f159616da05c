package scorecard

import (
	"strings"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// AggregationOf returns how the scorecard combines the partners' current values of
// metric m: its declared aggregation when it is one of Sum, Average, Max and
// Latest; otherwise the default for its unit:
//   - Sum for a currency (three upper-case letters, ISO 4217 style: "USD", "EUR")
//     and for "count";
//   - Average for a score, rating or percentage: a unit containing "score",
//     "rating", "percent" or "%", in any case ("score", "NPS score", "Percent");
//   - Sum for any other unit.
func AggregationOf(m v1alpha1.MetricDefinition) v1alpha1.MetricAggregation {
	switch m.Aggregation {
	case v1alpha1.MetricAggregationSum, v1alpha1.MetricAggregationAverage,
		v1alpha1.MetricAggregationMax, v1alpha1.MetricAggregationLatest:
		return m.Aggregation
	}
	unit := strings.TrimSpace(m.Unit)
	if isCurrency(unit) || strings.EqualFold(unit, "count") {
		return v1alpha1.MetricAggregationSum
	}
	lower := strings.ToLower(unit)
	for _, s := range []string{"score", "rating", "percent", "%"} {
		if strings.Contains(lower, s) {
			return v1alpha1.MetricAggregationAverage
		}
	}
	return v1alpha1.MetricAggregationSum
}

// isCurrency reports whether unit looks like an ISO 4217 currency code: three
// upper-case ASCII letters.
func isCurrency(unit string) bool {
	if len(unit) != 3 {
		return false
	}
	for _, r := range unit {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
