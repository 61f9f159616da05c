package tier

import (
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// StaleAt is the instant from which evidence of metric def observed at observedAt
// no longer counts: observedAt plus the metric's freshness window. The evidence is
// fresh while now is before StaleAt.
func StaleAt(def v1alpha1.MetricDefinition, observedAt time.Time) time.Time {
	return observedAt.Add(def.FreshnessWindow.Duration)
}
