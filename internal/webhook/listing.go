package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-listing,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=listings,verbs=create;update,versions=v1alpha1,name=vlisting.governance.partnergov.io,admissionReviewVersions=v1

// ListingValidator warns when a listing names a partner that does not exist.
type ListingValidator struct {
	Reader client.Reader
	noDelete[*v1alpha1.Listing]
}

// ValidateCreate validates a new listing.
func (v *ListingValidator) ValidateCreate(ctx context.Context, l *v1alpha1.Listing) (admission.Warnings, error) {
	return v.validate(ctx, l)
}

// ValidateUpdate validates a changed listing.
func (v *ListingValidator) ValidateUpdate(ctx context.Context, _, l *v1alpha1.Listing) (admission.Warnings, error) {
	return v.validate(ctx, l)
}

func (v *ListingValidator) validate(ctx context.Context, l *v1alpha1.Listing) (admission.Warnings, error) {
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}, &v1alpha1.Partner{})
	if err != nil || found {
		return nil, err
	}
	return admission.Warnings{fmt.Sprintf("Partner %q does not exist in namespace %q; the listing stays unpublished until it does", l.Spec.Partner, l.Namespace)}, nil
}
