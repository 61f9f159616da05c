package webhook

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-reviewpath,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=reviewpaths,verbs=create;update,versions=v1alpha1,name=vreviewpath.governance.partnergov.io,admissionReviewVersions=v1

// ReviewPathValidator warns when a path's appliesTo overlaps another's: a request
// that matches both and names no path cannot be resolved and escalates to the
// program owner. Overlap is only a warning because paths that requests (or tiers)
// name explicitly may share types.
type ReviewPathValidator struct {
	Reader client.Reader
	noDelete[*v1alpha1.ReviewPath]
}

// ValidateCreate checks a new path.
func (v *ReviewPathValidator) ValidateCreate(ctx context.Context, p *v1alpha1.ReviewPath) (admission.Warnings, error) {
	return v.validate(ctx, p)
}

// ValidateUpdate checks a changed path.
func (v *ReviewPathValidator) ValidateUpdate(ctx context.Context, _, p *v1alpha1.ReviewPath) (admission.Warnings, error) {
	return v.validate(ctx, p)
}

func (v *ReviewPathValidator) validate(ctx context.Context, p *v1alpha1.ReviewPath) (admission.Warnings, error) {
	var paths v1alpha1.ReviewPathList
	if err := v.Reader.List(ctx, &paths); err != nil {
		return nil, err
	}
	var warnings admission.Warnings
	for _, other := range paths.Items {
		if other.Name != p.Name && Overlap(p.Spec.AppliesTo, other.Spec.AppliesTo) {
			warnings = append(warnings, fmt.Sprintf(
				"appliesTo overlaps ReviewPath %q: requests matching both must name spec.reviewPath, or they escalate to the program owner", other.Name))
		}
	}
	return warnings, nil
}

// Overlap reports whether some request could match both selectors: they share a
// type and their amount ranges (greaterThan, atMost] intersect.
func Overlap(a, b v1alpha1.AppliesTo) bool {
	if !slices.ContainsFunc(a.Types, func(t v1alpha1.RequestType) bool { return slices.Contains(b.Types, t) }) {
		return false
	}
	lo := maxBound(a.AmountGreaterThan, b.AmountGreaterThan, 1)
	hi := maxBound(a.AmountAtMost, b.AmountAtMost, -1)
	if lo == nil || hi == nil {
		return true
	}
	c, err := decimal.Compare(*lo, *hi)
	return err != nil || c < 0
}

// maxBound returns the tighter of two optional bounds: the larger when sign is 1,
// the smaller when sign is -1; nil only when both are nil.
func maxBound(a, b *v1alpha1.Decimal, sign int) *v1alpha1.Decimal {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if c, err := decimal.Compare(*a, *b); err == nil && c*sign < 0 {
		return b
	}
	return a
}
