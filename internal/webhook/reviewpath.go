package webhook

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
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
		if other.Name != p.Name && review.Overlap(p.Spec.AppliesTo, other.Spec.AppliesTo) {
			warnings = append(warnings, fmt.Sprintf(
				"appliesTo overlaps ReviewPath %q: requests matching both must name spec.reviewPath, or they escalate to the program owner", other.Name))
		}
	}
	return warnings, nil
}
