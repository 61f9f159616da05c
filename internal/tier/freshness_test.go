package tier

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestStaleAtIsObservedAtPlusTheFreshnessWindow(t *testing.T) {
	observed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	def := v1alpha1.MetricDefinition{Name: "revenue", FreshnessWindow: metav1.Duration{Duration: 90 * 24 * time.Hour}}
	want := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	if got := StaleAt(def, observed); !got.Equal(want) {
		t.Fatalf("StaleAt = %v, want %v", got, want)
	}
}
