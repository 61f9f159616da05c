package webhook

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partnertier,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partnertiers,verbs=create;update;delete,versions=v1alpha1,name=vpartnertier.governance.partnergov.io,admissionReviewVersions=v1

// TierValidator checks a tier against its program's catalog: every requirement names
// a catalog metric, every tier above the entry rank requires an Outcome metric, and
// no two tiers of a program share a rank.
type TierValidator struct {
	Reader client.Reader
	// Partners reads partners from the manager's cache, by the indexes
	// indexPartners registers.
	Partners client.Reader
}

// ValidateCreate validates a new tier; its program must exist.
func (v *TierValidator) ValidateCreate(ctx context.Context, t *v1alpha1.PartnerTier) (admission.Warnings, error) {
	return v.validate(ctx, t, true)
}

// ValidateUpdate validates a changed tier.
func (v *TierValidator) ValidateUpdate(ctx context.Context, _, t *v1alpha1.PartnerTier) (admission.Warnings, error) {
	return v.validate(ctx, t, false)
}

// ValidateDelete refuses deleting a tier that partners hold: retire it first
// (spec.retired), so holders get its grace period instead of losing it at once.
func (v *TierValidator) ValidateDelete(ctx context.Context, t *v1alpha1.PartnerTier) (admission.Warnings, error) {
	// From the cache, without copies: the API server is not asked to list them.
	var partners v1alpha1.PartnerList
	if err := v.Partners.List(ctx, &partners, client.MatchingFields{IndexPartnerProgram: t.Spec.Program}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	if why := tier.TierDeletionRefusal(*t, partners.Items); why != "" {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("partnertiers").GroupResource(), t.Name, errors.New(why))
	}
	return nil, nil
}

func (v *TierValidator) validate(ctx context.Context, t *v1alpha1.PartnerTier, create bool) (admission.Warnings, error) {
	var warnings admission.Warnings
	var errs field.ErrorList
	var program v1alpha1.PartnerProgram
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: t.Spec.Program}, &program)
	if err != nil {
		return nil, err
	}
	if found {
		if _, msg, ok := tier.ValidateTier(*t, &program); !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "requirements"), len(t.Spec.Requirements), msg))
		}
	} else if create {
		// A tier for no program could never be checked against a catalog: apply
		// the program first (GitOps tools retry until it exists).
		errs = append(errs, field.NotFound(field.NewPath("spec", "program"), t.Spec.Program))
	} else {
		warnings = append(warnings, fmt.Sprintf("PartnerProgram %q does not exist; the tier's requirements are checked when it does", t.Spec.Program))
	}

	var tiers v1alpha1.PartnerTierList
	if err := v.Reader.List(ctx, &tiers); err != nil {
		return nil, err
	}
	for _, other := range tiers.Items {
		if other.Name != t.Name && other.Spec.Program == t.Spec.Program && other.Spec.Rank == t.Spec.Rank {
			errs = append(errs, field.Invalid(field.NewPath("spec", "rank"), t.Spec.Rank,
				fmt.Sprintf("PartnerTier %q of program %q already has this rank; each tier of a program needs its own rank", other.Name, t.Spec.Program)))
		}
	}
	return warnings, invalid("PartnerTier", t.Name, errs)
}
