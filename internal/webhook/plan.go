package webhook

import (
	"context"
	"encoding/json"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/plan"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-jointbusinessplan,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=jointbusinessplans,verbs=create;update,versions=v1alpha1,name=mjointbusinessplan.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-jointbusinessplan,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=jointbusinessplans,verbs=create;update,versions=v1alpha1,name=vjointbusinessplan.governance.partnergov.io,admissionReviewVersions=v1

// PlanDefaulter stamps spec.author, who wrote the plan's goals, investments and
// owners, from the API server's authentication (plan.StampAuthor): on create,
// and on an update that changes them; any other update keeps the stored author,
// whatever it says. The author is on the requester side of the plan's
// BusinessPlan request.
type PlanDefaulter struct{}

// Default stamps spec.author.
func (PlanDefaulter) Default(ctx context.Context, p *v1alpha1.JointBusinessPlan) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	var old *v1alpha1.JointBusinessPlan
	switch req.Operation {
	case admissionv1.Create:
	case admissionv1.Update:
		old = &v1alpha1.JointBusinessPlan{}
		if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
			return err
		}
	default:
		return nil
	}
	plan.StampAuthor(old, p, v1alpha1.UserInfo{Username: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: append([]string(nil), req.UserInfo.Groups...)})
	return nil
}

// PlanValidator refuses a JointBusinessPlan for a partner that does not exist,
// with a goal on a metric its program's catalog lacks (or a Risk metric), with
// investments or reviews outside its period, or with investments in a currency
// other than the partner's funds cap's (plan.Validate).
type PlanValidator struct {
	noDelete[*v1alpha1.JointBusinessPlan]
	Reader client.Reader
}

// ValidateCreate checks the plan against its partner and program.
func (v *PlanValidator) ValidateCreate(ctx context.Context, p *v1alpha1.JointBusinessPlan) (admission.Warnings, error) {
	return nil, v.validate(ctx, p)
}

// ValidateUpdate checks the plan again: goals and investments may change (and
// then need a new approval).
func (v *PlanValidator) ValidateUpdate(ctx context.Context, _, p *v1alpha1.JointBusinessPlan) (admission.Warnings, error) {
	if !p.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	return nil, v.validate(ctx, p)
}

func (v *PlanValidator) validate(ctx context.Context, p *v1alpha1.JointBusinessPlan) error {
	var partner v1alpha1.Partner
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.Partner}, &partner)
	if err != nil {
		return err
	}
	if !found {
		return invalid("JointBusinessPlan", p.Name, plan.Validate(p, nil, nil))
	}
	program, err := programOfPartner(ctx, v.Reader, p.Namespace, p.Spec.Partner)
	if err != nil {
		return err
	}
	return invalid("JointBusinessPlan", p.Name, plan.Validate(p, &partner, program))
}
