package plugin

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestRelative(t *testing.T) {
	tests := map[string]struct {
		t    time.Time
		want string
	}{
		"past":   {now.Add(-5 * time.Minute), "5m ago"},
		"future": {now.Add(72 * time.Hour), "in 3d"},
		"now":    {now, "now"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := relative(tc.t, now); got != tc.want {
				t.Errorf("relative = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	if got := age(now.Add(-90*time.Second), now); got != "90s" {
		t.Errorf("age = %q, want 90s", got)
	}
	if got := age(now.Add(time.Hour), now); got != "0s" {
		t.Errorf("age of a future instant = %q, want 0s", got)
	}
}

func TestTimestamp(t *testing.T) {
	if got := timestamp(nil, now); got != "-" {
		t.Errorf("timestamp(nil) = %q, want -", got)
	}
	at := metav1.NewTime(now.Add(2 * time.Hour))
	if got, want := timestamp(&at, now), "2026-11-23T14:00:00Z (in 120m)"; got != want {
		t.Errorf("timestamp = %q, want %q", got, want)
	}
}

func TestRequirementText(t *testing.T) {
	tests := []struct {
		op   v1alpha1.ComparisonOperator
		want string
	}{
		{v1alpha1.OperatorGreaterThanOrEqual, ">= 100"},
		{v1alpha1.OperatorGreaterThan, "> 100"},
		{v1alpha1.OperatorLessThanOrEqual, "<= 100"},
		{v1alpha1.OperatorLessThan, "< 100"},
		{v1alpha1.OperatorEqual, "== 100"},
		{"Unknown", "Unknown 100"},
	}
	for _, tc := range tests {
		if got := requirementText(tc.op, "100"); got != tc.want {
			t.Errorf("requirementText(%s) = %q, want %q", tc.op, got, tc.want)
		}
	}
}
