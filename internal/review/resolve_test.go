package review

import (
	"strings"
	"testing"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestResolve(t *testing.T) {
	s := stage("manager", 1, time.Hour)
	upTo1k := path("up-to-1k", funds, "", "1000", s)
	above1k := path("above-1k", funds, "1000", "", s)
	mid := path("mid", funds, "1000", "5000.5", s)
	unbounded := path("unbounded", tierEx, "", "", s)
	broken := path("broken", funds, "lots", "", s)

	tests := map[string]struct {
		req        *v1alpha1.ExceptionRequest
		paths      []v1alpha1.ReviewPath
		wantPath   string
		wantReason string
		wantMsg    string
	}{
		"the amount equal to amountAtMost is inside": {
			req: request(v1alpha1.RequestFunds, "1000"), paths: []v1alpha1.ReviewPath{upTo1k, above1k},
			wantPath: "up-to-1k", wantReason: v1alpha1.ReasonPathResolved,
			wantMsg: `review path "up-to-1k" governs Funds requests of 1000 USD`,
		},
		"the amount equal to amountGreaterThan is outside": {
			req: request(v1alpha1.RequestFunds, "1000.000"), paths: []v1alpha1.ReviewPath{above1k},
			wantReason: v1alpha1.ReasonNoMatchingPath, wantMsg: "no review path governs Funds requests of 1000.000 USD",
		},
		"bounds compare exactly, not as floating point": {
			req: request(v1alpha1.RequestFunds, "5000.500000001"), paths: []v1alpha1.ReviewPath{mid},
			wantReason: v1alpha1.ReasonNoMatchingPath,
		},
		"trailing zeros do not matter": {
			req: request(v1alpha1.RequestFunds, "5000.50"), paths: []v1alpha1.ReviewPath{mid},
			wantPath: "mid", wantReason: v1alpha1.ReasonPathResolved,
		},
		"the type must be listed": {
			req: request(v1alpha1.RequestIncentiveException, "10"), paths: []v1alpha1.ReviewPath{upTo1k},
			wantReason: v1alpha1.ReasonNoMatchingPath, wantMsg: "IncentiveException requests of 10 USD",
		},
		"a request without an amount matches a path without bounds": {
			req: request(v1alpha1.RequestTierException, ""), paths: []v1alpha1.ReviewPath{unbounded},
			wantPath: "unbounded", wantReason: v1alpha1.ReasonPathResolved,
			wantMsg: "TierException requests without an amount",
		},
		"a request without an amount matches no bounded path": {
			req:        request(v1alpha1.RequestFunds, ""),
			paths:      []v1alpha1.ReviewPath{upTo1k, above1k},
			wantReason: v1alpha1.ReasonNoMatchingPath,
			wantMsg:    "no review path governs Funds requests without an amount",
		},
		"a request with an amount matches a path without bounds": {
			req: request(v1alpha1.RequestTierException, "5"), paths: []v1alpha1.ReviewPath{unbounded},
			wantPath: "unbounded", wantReason: v1alpha1.ReasonPathResolved,
		},
		"a bound that does not parse matches nothing": {
			req: request(v1alpha1.RequestFunds, "5"), paths: []v1alpha1.ReviewPath{broken},
			wantReason: v1alpha1.ReasonNoMatchingPath,
		},
		"several matches are ambiguous and named in order": {
			req: request(v1alpha1.RequestFunds, "2000"), paths: []v1alpha1.ReviewPath{mid, above1k},
			wantReason: v1alpha1.ReasonAmbiguousPath,
			wantMsg:    "2 review paths govern Funds requests of 2000 USD: above-1k, mid; a request can name one in spec.reviewPath",
		},
		"no paths at all": {
			req: request(v1alpha1.RequestFunds, "2000"), wantReason: v1alpha1.ReasonNoMatchingPath,
		},
		"a named path wins over other matching paths": {
			req: named(request(v1alpha1.RequestFunds, "2000"), "mid"), paths: []v1alpha1.ReviewPath{mid, upTo1k, path("also", funds, "1000", "5000.5", s)},
			wantPath: "mid", wantReason: v1alpha1.ReasonPathResolved, wantMsg: `the request names review path "mid"`,
		},
		"a named path must govern the request: a requester cannot pick a lighter review": {
			req: named(request(v1alpha1.RequestFunds, "2000"), "up-to-1k"), paths: []v1alpha1.ReviewPath{mid, upTo1k},
			wantReason: v1alpha1.ReasonPathNotApplicable, wantMsg: `whose appliesTo does not govern`,
		},
		"a named path that does not exist is not replaced by a match": {
			req: named(request(v1alpha1.RequestFunds, "2000"), "gone"), paths: []v1alpha1.ReviewPath{mid},
			wantReason: v1alpha1.ReasonPathNotFound, wantMsg: `the request names review path "gone", which does not exist`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, reason, msg := Resolve(tc.req, tc.paths)
			gotName := ""
			if got != nil {
				gotName = got.Name
			}
			if gotName != tc.wantPath || reason != tc.wantReason {
				t.Errorf("Resolve = %q, %s; want %q, %s", gotName, reason, tc.wantPath, tc.wantReason)
			}
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", msg, tc.wantMsg)
			}
		})
	}
}

func TestResolveReturnsACopy(t *testing.T) {
	paths := []v1alpha1.ReviewPath{*small.DeepCopy()}
	got, _, _ := Resolve(request(v1alpha1.RequestFunds, "5"), paths)
	got.Spec.Stages[0].Name = "changed"
	if paths[0].Spec.Stages[0].Name != "manager" {
		t.Error("Resolve returned a path that aliases its input")
	}
}
