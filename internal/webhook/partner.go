package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-partner,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partners,verbs=create;update,versions=v1alpha1,name=mpartner.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-partner,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=partners,verbs=create;update;delete,versions=v1alpha1,name=vpartner.governance.partnergov.io,admissionReviewVersions=v1

// PartnerDefaulter fills the display name from the object name and stamps when
// the partner joined the program.
type PartnerDefaulter struct {
	Clock clock.PassiveClock
}

// Default sets spec.displayName to the object's name when it is empty, and
// spec.joinedAt to the time of creation when a new partner leaves it out. An
// update that leaves joinedAt out (a full update from a manifest that never
// set it: kubectl replace, a GitOps sync) keeps the stored one, which cannot change.
// It stamps spec.suspendedAt when spec.suspended turns true and otherwise keeps
// the stored value, whatever the writer sent: the record of the last
// suspension outlives it, so a suspension lifted before the controller saw it
// still ends the protection of the deals registered before it.
func (d PartnerDefaulter) Default(ctx context.Context, p *v1alpha1.Partner) error {
	if p.Spec.DisplayName == "" {
		p.Spec.DisplayName = p.Name
	}
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	now := metav1.NewTime(d.Clock.Now().UTC().Truncate(time.Second))
	switch req.Operation {
	case admissionv1.Create:
		if p.Spec.JoinedAt == nil {
			p.Spec.JoinedAt = now.DeepCopy()
		}
		// spec.suspendedAt is the server's: when the partner was last suspended.
		p.Spec.SuspendedAt = nil
		if p.Spec.Suspended {
			p.Spec.SuspendedAt = now.DeepCopy()
		}
	case admissionv1.Update:
		var old v1alpha1.Partner
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil {
			return err
		}
		if p.Spec.JoinedAt == nil {
			p.Spec.JoinedAt = old.Spec.JoinedAt
		}
		p.Spec.SuspendedAt = old.Spec.SuspendedAt
		if p.Spec.Suspended && !old.Spec.Suspended {
			p.Spec.SuspendedAt = now.DeepCopy()
		}
	}
	return nil
}

// JoinedAtSkew is how far in the future spec.joinedAt may be: the clocks of
// the writer and the server may differ a little.
const JoinedAtSkew = 5 * time.Minute

// PartnerValidator refuses a new partner whose program does not exist (it could
// get no tier, and nothing would say why), and one whose own integration identity
// the program trusts to report an Outcome metric: a partner never self-reports the
// outcomes that earn its tier. It refuses a joinedAt in the future, undoing an
// offboarding that took effect, and deleting a partner that is not offboarded.
type PartnerValidator struct {
	// Reader is the cache, read first: partner writes are frequent.
	Reader client.Reader
	// APIReader confirms a program the cache does not have yet (created a moment ago).
	APIReader client.Reader
	Clock     clock.PassiveClock
}

// joinedAt refuses a spec.joinedAt later than now plus JoinedAtSkew.
func (v *PartnerValidator) joinedAt(p *v1alpha1.Partner) field.ErrorList {
	if p.Spec.JoinedAt == nil {
		return nil
	}
	now := v.Clock.Now()
	if p.Spec.JoinedAt.After(now.Add(JoinedAtSkew)) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "joinedAt"), p.Spec.JoinedAt.UTC().Format(time.RFC3339), fmt.Sprintf(
			"joinedAt is when the partner joined the program and may not be in the future (now is %s); leave it out to use the time of creation",
			now.UTC().Format(time.RFC3339)))}
	}
	return nil
}

// ValidateCreate validates a new partner.
func (v *PartnerValidator) ValidateCreate(ctx context.Context, p *v1alpha1.Partner) (admission.Warnings, error) {
	program, err := v.program(ctx, p.Spec.Program)
	if err != nil {
		return nil, err
	}
	errs := v.joinedAt(p)
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
// A joinedAt set for the first time may not be in the future; one already set
// cannot change (the CRD's CEL rule).
func (v *PartnerValidator) ValidateUpdate(ctx context.Context, old, p *v1alpha1.Partner) (admission.Warnings, error) {
	var errs field.ErrorList
	if old.Spec.JoinedAt == nil {
		errs = v.joinedAt(p)
	}
	if err := offboarding.Change(old, p, v.Clock.Now()); err != nil {
		errs = append(errs, err)
	}
	if old.Spec.Program == p.Spec.Program {
		return nil, invalid("Partner", p.Name, errs)
	}
	program, err := v.program(ctx, p.Spec.Program)
	if err != nil {
		return nil, err
	}
	if program != nil {
		return nil, invalid("Partner", p.Name, append(errs, selfReports(program, p)...))
	}
	warning := fmt.Sprintf("PartnerProgram %q does not exist; the partner shows Ready=False until it does", p.Spec.Program)
	return admission.Warnings{warning}, invalid("Partner", p.Name, errs)
}

// ValidateDelete admits deleting a partner only once it is offboarded
// (offboarding.Deletion), or when its namespace is being deleted. Its decision
// records are not owned by it and remain.
func (v *PartnerValidator) ValidateDelete(ctx context.Context, p *v1alpha1.Partner) (admission.Warnings, error) {
	if deletingNamespace(ctx) {
		return nil, nil
	}
	if why := offboarding.Deletion(p, v.Clock.Now()); why != "" {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("partners").GroupResource(), p.Name, errors.New(why))
	}
	return nil, nil
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
