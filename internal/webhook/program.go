package webhook

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partnerprogram,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partnerprograms,verbs=create;update,versions=v1alpha1,name=vpartnerprogram.governance.partnergov.io,admissionReviewVersions=v1

// ProgramValidator refuses catalog changes that would silently break a tier: removing
// a metric a tier requires, or leaving a tier above the entry rank without an
// Outcome requirement.
type ProgramValidator struct {
	Reader client.Reader
	noDelete[*v1alpha1.PartnerProgram]
}

// ValidateCreate admits every schema-valid catalog.
func (v *ProgramValidator) ValidateCreate(context.Context, *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	return nil, nil
}

// ValidateUpdate checks the program's tiers against the new catalog; a tier that
// fitted the old catalog must fit the new one.
func (v *ProgramValidator) ValidateUpdate(ctx context.Context, oldObj, newObj *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	var tiers v1alpha1.PartnerTierList
	if err := v.Reader.List(ctx, &tiers); err != nil {
		return nil, err
	}
	var errs field.ErrorList
	for i := range tiers.Items {
		t := &tiers.Items[i]
		if t.Spec.Program != newObj.Name {
			continue
		}
		if _, _, wasOK := tier.ValidateTier(*t, oldObj); !wasOK {
			continue // it did not fit before either; the tier reports that itself
		}
		if _, msg, ok := tier.ValidateTier(*t, newObj); !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "metrics"), "(catalog)",
				fmt.Sprintf("this change would break PartnerTier %q: %s; change the tier first", t.Name, msg)))
		}
	}
	return nil, invalid("PartnerProgram", newObj.Name, errs)
}
