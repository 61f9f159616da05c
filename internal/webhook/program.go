package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partnerprogram,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partnerprograms,verbs=create;update;delete,versions=v1alpha1,name=vpartnerprogram.governance.partnergov.io,admissionReviewVersions=v1

// ProgramValidator refuses catalog changes that would silently break a tier
// (removing a metric a tier requires, leaving a tier above the entry rank without
// an Outcome requirement), catalogs that let a partner's own integration report
// Outcome evidence, and deleting a program that tiers or partners still use.
type ProgramValidator struct {
	Reader client.Reader
}

// ValidateCreate refuses Outcome metrics that trust every ServiceAccount.
func (v *ProgramValidator) ValidateCreate(_ context.Context, p *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	return nil, invalid("PartnerProgram", p.Name, selfReporting(p, tier.SelfReporting(p, "", ""), ""))
}

// ValidateUpdate checks the program's tiers against the new catalog (a tier that
// fitted the old catalog must fit the new one) and the new catalog against the
// program's partners.
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
	errs = append(errs, selfReporting(newObj, tier.SelfReporting(newObj, "", ""), "")...)
	partners, err := partnersOf(ctx, v.Reader, newObj.Name)
	if err != nil {
		return nil, err
	}
	for i := range partners {
		p := &partners[i]
		if rules := tier.SelfReporting(newObj, p.Namespace, p.Name); len(rules) > 0 {
			errs = append(errs, selfReporting(newObj, rules, p.Namespace+"/"+p.Name)...)
			break // one partner names the problem; the rule is the same for the rest
		}
	}
	return nil, invalid("PartnerProgram", newObj.Name, errs)
}

// ValidateDelete refuses deleting a program that tiers or partners reference: its
// partners would be left with no catalog to judge their evidence by.
func (v *ProgramValidator) ValidateDelete(ctx context.Context, p *v1alpha1.PartnerProgram) (admission.Warnings, error) {
	var tiers v1alpha1.PartnerTierList
	if err := v.Reader.List(ctx, &tiers); err != nil {
		return nil, err
	}
	partners, err := partnersOf(ctx, v.Reader, p.Name)
	if err != nil {
		return nil, err
	}
	if why := tier.ProgramDeletionRefusal(p.Name, tiers.Items, partners); why != "" {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("partnerprograms").GroupResource(), p.Name, errors.New(why))
	}
	return nil, nil
}

// partnersOf lists a program's partners; spec.program is a selectable field, so
// the API server filters.
func partnersOf(ctx context.Context, r client.Reader, program string) ([]v1alpha1.Partner, error) {
	var partners v1alpha1.PartnerList
	if err := r.List(ctx, &partners, client.MatchingFields{"spec.program": program}); err != nil {
		return nil, err
	}
	return partners.Items, nil
}

// selfReporting turns the rules that let a partner report its own outcomes into
// field errors; partner names the partner concerned, if one is.
func selfReporting(p *v1alpha1.PartnerProgram, rules []string, partner string) field.ErrorList {
	if len(rules) == 0 {
		return nil
	}
	who := "every partner's integration identity"
	if partner != "" {
		who = "the integration identity of partner " + partner
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "metrics"), fmt.Sprintf(
		"%s would be trusted to report Outcome evidence (%s): a partner may not self-report the outcomes that earn its tier; trust the CRM or finance integration instead",
		who, strings.Join(rules, "; ")))}
}
