package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-partner,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partners,verbs=create;update,versions=v1alpha1,name=mpartner.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partner,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partners,verbs=create;update,versions=v1alpha1,name=vpartner.governance.partnergov.io,admissionReviewVersions=v1

// PartnerDefaulter fills the display name from the object name.
type PartnerDefaulter struct{}

// Default sets spec.displayName to the object's name when it is empty.
func (PartnerDefaulter) Default(_ context.Context, p *v1alpha1.Partner) error {
	if p.Spec.DisplayName == "" {
		p.Spec.DisplayName = p.Name
	}
	return nil
}

// PartnerValidator warns when a partner names a program that does not exist.
type PartnerValidator struct {
	Reader client.Reader
	noDelete[*v1alpha1.Partner]
}

// ValidateCreate validates a new partner.
func (v *PartnerValidator) ValidateCreate(ctx context.Context, p *v1alpha1.Partner) (admission.Warnings, error) {
	return v.validate(ctx, p)
}

// ValidateUpdate validates a changed partner.
func (v *PartnerValidator) ValidateUpdate(ctx context.Context, _, p *v1alpha1.Partner) (admission.Warnings, error) {
	return v.validate(ctx, p)
}

func (v *PartnerValidator) validate(ctx context.Context, p *v1alpha1.Partner) (admission.Warnings, error) {
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: p.Spec.Program}, &v1alpha1.PartnerProgram{})
	if err != nil || found {
		return nil, err
	}
	return admission.Warnings{fmt.Sprintf("PartnerProgram %q does not exist yet; the partner gets no tier until it does", p.Spec.Program)}, nil
}
