package review

import (
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestReadiness(t *testing.T) {
	tests := map[string]struct {
		path      v1alpha1.ReviewPath
		paths     []v1alpha1.ReviewPath
		wantOK    bool
		wantInMsg string
	}{
		"a path alone governs its requests": {path: small, paths: []v1alpha1.ReviewPath{small, tierPath}, wantOK: true},
		"funds below and above a bound do not overlap": {
			path: small, paths: []v1alpha1.ReviewPath{small, path("large-funds", funds, "10000", "", stage("cfo", 1, day))}, wantOK: true,
		},
		"overlapping paths are not ready, naming the others": {
			path: standard, paths: []v1alpha1.ReviewPath{standard, strict, small}, wantInMsg: "review path(s) small-funds, strict",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, reason, msg := Readiness(&tc.path, tc.paths)
			if ok != tc.wantOK || !strings.Contains(msg, tc.wantInMsg) {
				t.Errorf("Readiness = %v, %s, %q; want %v containing %q", ok, reason, msg, tc.wantOK, tc.wantInMsg)
			}
			if !ok && reason != v1alpha1.ReasonAmbiguousPath {
				t.Errorf("reason = %s, want %s", reason, v1alpha1.ReasonAmbiguousPath)
			}
		})
	}
}
