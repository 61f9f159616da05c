package webhook

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
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

// PartnerValidator refuses a new partner whose program does not exist (it could
// get no tier, and nothing would say why), and one whose own integration identity
// the program trusts to report an Outcome metric: a partner never self-reports the
// outcomes that earn its tier.
type PartnerValidator struct {
	// Reader is the cache, read first: partner writes are frequent.
	Reader client.Reader
	// APIReader confirms a program the cache does not have yet (created a moment ago).
	APIReader client.Reader
	noDelete[*v1alpha1.Partner]
}

// ValidateCreate validates a new partner.
func (v *PartnerValidator) ValidateCreate(ctx context.Context, p *v1alpha1.Partner) (admission.Warnings, error) {
	program, err := v.program(ctx, p.Spec.Program)
	if err != nil {
		return nil, err
	}
	var errs field.ErrorList
	if program == nil {
		errs = append(errs, field.NotFound(field.NewPath("spec", "program"), p.Spec.Program))
	}
	return nil, invalid("Partner", p.Name, append(errs, selfReports(program, p)...))
}

// selfReports refuses a partner whose program would trust its own integration
// identity to report an Outcome metric.
func selfReports(program *v1alpha1.PartnerProgram, p *v1alpha1.Partner) field.ErrorList {
	var errs field.ErrorList
	if program == nil {
		return nil
	}
	if rules := tier.SelfReporting(program, p.Namespace, p.Name); len(rules) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "program"), fmt.Sprintf(
			"PartnerProgram %q would let this partner's own integration identity report the outcomes that earn its tier (%s); trust the CRM or finance integration for Outcome metrics, never a partner's namespace or ServiceAccount",
			program.Name, strings.Join(rules, "; "))))
	}
	return errs
}

// ValidateUpdate warns when the partner moves to a program that does not exist.
func (v *PartnerValidator) ValidateUpdate(ctx context.Context, old, p *v1alpha1.Partner) (admission.Warnings, error) {
	if old.Spec.Program == p.Spec.Program {
		return nil, nil
	}
	program, err := v.program(ctx, p.Spec.Program)
	if err != nil {
		return nil, err
	}
	if program != nil {
		return nil, invalid("Partner", p.Name, selfReports(program, p))
	}
	return admission.Warnings{fmt.Sprintf("PartnerProgram %q does not exist; the partner shows Ready=False until it does", p.Spec.Program)}, nil
}

// program reads a program from the cache, then from the API server; nil when it
// does not exist.
func (v *PartnerValidator) program(ctx context.Context, name string) (*v1alpha1.PartnerProgram, error) {
	var program v1alpha1.PartnerProgram
	for _, r := range []client.Reader{v.Reader, v.APIReader} {
		if found, err := getOptional(ctx, r, types.NamespacedName{Name: name}, &program); err != nil || found {
			if err != nil {
				return nil, err
			}
			return &program, nil
		}
	}
	return nil, nil
}
