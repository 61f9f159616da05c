package webhook

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/listing"
	"github.com/partnergov/partnergov/internal/offboarding"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-listing,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=listings,verbs=create;update,versions=v1alpha1,name=vlisting.governance.partnergov.io,admissionReviewVersions=v1

// ListingValidator enforces the deprecation discipline that needs the current time
// and the program: a deprecated version's sunset is at least the program's notice
// ahead, and a released version stays until its sunset. It warns when the partner
// does not exist, and refuses a new listing of a partner whose offboarding took effect.
type ListingValidator struct {
	Reader client.Reader
	Clock  clock.PassiveClock
	noDelete[*v1alpha1.Listing]
}

// ValidateCreate validates a new listing.
func (v *ListingValidator) ValidateCreate(ctx context.Context, l *v1alpha1.Listing) (admission.Warnings, error) {
	return v.validate(ctx, nil, l)
}

// ValidateUpdate validates a changed listing.
func (v *ListingValidator) ValidateUpdate(ctx context.Context, old, l *v1alpha1.Listing) (admission.Warnings, error) {
	return v.validate(ctx, old, l)
}

func (v *ListingValidator) validate(ctx context.Context, old, l *v1alpha1.Listing) (admission.Warnings, error) {
	var partner v1alpha1.Partner
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}, &partner)
	if err != nil {
		return nil, err
	}
	var warnings admission.Warnings
	notice := listing.DefaultNotice
	if !found {
		warnings = append(warnings, fmt.Sprintf("Partner %q does not exist in namespace %q; the listing stays unpublished until it does", l.Spec.Partner, l.Namespace))
	} else if err := offboarding.RefuseNew(&partner, "Listing", v.Clock.Now()); err != nil && old == nil {
		return nil, invalid("Listing", l.Name, field.ErrorList{err})
	} else if n, err := v.notice(ctx, partner.Spec.Program); err != nil {
		return nil, err
	} else {
		notice = n
	}
	return warnings, invalid("Listing", l.Name, listing.ValidateVersions(old, l, notice, v.Clock.Now()))
}

// notice is the program's listingDeprecationNotice.
func (v *ListingValidator) notice(ctx context.Context, program string) (time.Duration, error) {
	var p v1alpha1.PartnerProgram
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: program}, &p)
	if err != nil || !found || p.Spec.ListingDeprecationNotice == nil {
		return listing.DefaultNotice, err
	}
	return p.Spec.ListingDeprecationNotice.Duration, nil
}
