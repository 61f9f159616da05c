package webhook

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/tier"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-exceptionrequest,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=exceptionrequests,verbs=create,versions=v1alpha1,name=mexceptionrequest.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-exceptionrequest,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=exceptionrequests,verbs=create;update;delete,versions=v1alpha1,name=vexceptionrequest.governance.partnergov.io,admissionReviewVersions=v1

// RequestDefaulter records who created a request and for which partner (its UID),
// and gives a ReadinessClaim or
// TierPromotion without an expiry the longest its program allows. The requester
// comes from the API server's authentication, never from what the user wrote.
type RequestDefaulter struct {
	Reader client.Reader
	Clock  clock.PassiveClock
}

// Default overwrites spec.requester with the authenticated identity on create.
func (d RequestDefaulter) Default(ctx context.Context, r *v1alpha1.ExceptionRequest) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.Operation != admissionv1.Create {
		return nil
	}
	r.Spec.Requester = &v1alpha1.UserInfo{
		Username: req.UserInfo.Username,
		UID:      req.UserInfo.UID,
		Groups:   append([]string(nil), req.UserInfo.Groups...),
	}
	r.Spec.PartnerUID = ""
	var partner v1alpha1.Partner
	if found, err := getOptional(ctx, d.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &partner); err != nil {
		return err
	} else if found {
		r.Spec.PartnerUID = string(partner.UID)
	}
	if r.Spec.Expires == nil && (r.Spec.Type == v1alpha1.RequestReadinessClaim || r.Spec.Type == v1alpha1.RequestTierPromotion) {
		program, err := programOfPartner(ctx, d.Reader, r.Namespace, r.Spec.Partner)
		if err != nil {
			return err
		}
		expires := metav1.NewTime(d.Clock.Now().Add(v1alpha1.MaxExceptionDuration(program)).Truncate(time.Second))
		r.Spec.Expires = &expires
	}
	return nil
}

// programOfPartner reads the program of a partner; nil (and no error) when the
// partner or its program does not exist.
func programOfPartner(ctx context.Context, r client.Reader, namespace, partner string) (*v1alpha1.PartnerProgram, error) {
	var p v1alpha1.Partner
	if found, err := getOptional(ctx, r, types.NamespacedName{Namespace: namespace, Name: partner}, &p); err != nil || !found {
		return nil, err
	}
	var program v1alpha1.PartnerProgram
	if found, err := getOptional(ctx, r, types.NamespacedName{Name: p.Spec.Program}, &program); err != nil || !found {
		return nil, err
	}
	return &program, nil
}

// RequestValidator refuses a request for a partner that does not exist, a named
// review path that does not exist or does not govern the request (a requester
// may not pick a lighter review), and TierPromotion requests from anyone but the
// controller, which opens them when a partner qualifies.
type RequestValidator struct {
	Reader             client.Reader
	ControllerUsername string
	Clock              clock.PassiveClock
}

// ValidateCreate checks the partner, the named path and who opens a promotion.
func (v *RequestValidator) ValidateCreate(ctx context.Context, r *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	var errs field.ErrorList
	if err := v.checkOnBehalfOf(ctx, r, req.UserInfo.Username, req.UserInfo.Groups); err != nil {
		var fe *field.Error
		if !errors.As(err, &fe) {
			return nil, err
		}
		errs = append(errs, fe)
	}
	if r.Spec.Type == v1alpha1.RequestTierPromotion && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "type"),
			"TierPromotion requests are opened by the partnergov controller when a partner qualifies for a tier that needs review"))
	}
	if r.Spec.Type == v1alpha1.RequestDealRegistration && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "type"),
			"DealRegistration requests are opened by the partnergov controller for registrations that are not approved at submission; create a DealRegistration instead"))
	}
	if r.Spec.Type == v1alpha1.RequestDealConflict && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "type"),
			"DealConflict requests are opened by the partnergov controller: set spec.escalateConflict on the queued DealRegistration instead"))
	}
	if r.Spec.Type == v1alpha1.RequestBusinessPlan && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "type"),
			"BusinessPlan requests are opened by the partnergov controller for a JointBusinessPlan's goals, investments and owners; create or change the JointBusinessPlan instead"))
	}
	if len(r.Spec.Parties) > 0 && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "parties"),
			"spec.parties is set by the partnergov controller on the requests it opens (a plan's author and owners, a deal conflict's holder side); leave it out"))
	}
	var partner v1alpha1.Partner
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &partner)
	if err != nil {
		return nil, err
	}
	if !found {
		errs = append(errs, field.NotFound(field.NewPath("spec", "partner"), r.Spec.Partner))
	} else if err := offboarding.RefuseNew(&partner, "ExceptionRequest", v.Clock.Now()); err != nil {
		errs = append(errs, err)
	} else {
		grantErrs, err := v.validateGrant(ctx, r, &partner)
		if err != nil {
			return nil, err
		}
		errs = append(errs, grantErrs...)
	}
	if r.Spec.ReviewPath != "" {
		var path v1alpha1.ReviewPath
		p := field.NewPath("spec", "reviewPath")
		switch found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: r.Spec.ReviewPath}, &path); {
		case err != nil:
			return nil, err
		case !found:
			errs = append(errs, field.NotFound(p, r.Spec.ReviewPath))
		case !review.Applies(&path, r):
			errs = append(errs, field.Invalid(p, r.Spec.ReviewPath, fmt.Sprintf(
				"ReviewPath %q does not govern %s requests of this amount (see its spec.appliesTo); name a path that does, or none", path.Name, r.Spec.Type)))
		}
	}
	return nil, invalid("ExceptionRequest", r.Name, errs)
}

// checkOnBehalfOf enforces who files for whom: automation the program lists
// (spec.automation) must name the person in spec.onBehalfOf, and nobody else may
// file on someone else's behalf (it would move the separation-of-duties rules onto
// another person). It returns a *field.Error for a refusal.
func (v *RequestValidator) checkOnBehalfOf(ctx context.Context, r *v1alpha1.ExceptionRequest, username string, groups []string) error {
	if username == v.ControllerUsername {
		return nil // the controller opens promotions for nobody in particular
	}
	program, err := programOfPartner(ctx, v.Reader, r.Namespace, r.Spec.Partner)
	if err != nil {
		return err
	}
	automation := false
	via := ""
	if program != nil {
		via, automation = tier.Matches(program.Spec.Automation, username, groups)
	}
	p := field.NewPath("spec", "onBehalfOf")
	switch {
	case automation && r.Spec.OnBehalfOf == "":
		return field.Required(p, fmt.Sprintf(
			"%s is automation of program %s (%s in spec.automation): name the person the request is filed for, who counts as the requester for separation of duties",
			username, program.Name, via))
	case automation && r.Spec.OnBehalfOf == username:
		return field.Invalid(p, r.Spec.OnBehalfOf, "automation cannot file on its own behalf: name the person the request is for")
	case !automation && r.Spec.OnBehalfOf != "" && r.Spec.OnBehalfOf != username:
		return field.Forbidden(p, fmt.Sprintf(
			"only identities a program lists in spec.automation may file on behalf of someone else; %s files as itself", username))
	}
	return nil
}

// validateGrant checks what a request may ask of its partner's program: a Funds
// amount in the currency of the partner's cap (amounts in two currencies are never
// added), and an expiry no further than the program's maxExceptionDuration.
func (v *RequestValidator) validateGrant(ctx context.Context, r *v1alpha1.ExceptionRequest, partner *v1alpha1.Partner) (field.ErrorList, error) {
	var errs field.ErrorList
	if cap := effects.FundsCap(partner.Status.Entitlements); r.Spec.Type == v1alpha1.RequestFunds && cap != nil &&
		r.Spec.Amount != nil && r.Spec.Amount.Currency != cap.Currency {
		errs = append(errs, field.Invalid(field.NewPath("spec", "amount", "currency"), r.Spec.Amount.Currency, fmt.Sprintf(
			"partner %s's funds cap is in %s; a Funds request in %s cannot be counted against it (amounts in different currencies are never added): ask in %s",
			partner.Name, cap.Currency, r.Spec.Amount.Currency, cap.Currency)))
	}
	if r.Spec.Expires == nil {
		return errs, nil
	}
	var program v1alpha1.PartnerProgram
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Name: partner.Spec.Program}, &program)
	if err != nil || !found {
		return errs, err
	}
	max := v1alpha1.MaxExceptionDuration(&program)
	if latest := v.Clock.Now().Add(max); r.Spec.Expires.After(latest) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "expires"), r.Spec.Expires.UTC().Format(time.RFC3339), fmt.Sprintf(
			"program %s allows exceptions of at most %s (spec.maxExceptionDuration): expires must be no later than %s; ask again when it lapses",
			program.Name, max, latest.UTC().Format(time.RFC3339))))
	}
	return errs, nil
}

// ValidateDelete keeps decided requests for their program's recordRetention: an
// approved, denied or expired request is a decision record (deleting an approved
// Funds request would also free its cap). Pending and withdrawn ones may go once
// the controller has recorded what they store (record.Unrecorded), so deleting a
// request just decided never loses the decision.
func (v *RequestValidator) ValidateDelete(ctx context.Context, r *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	if deletingNamespace(ctx) {
		return nil, nil
	}
	if what := record.Unrecorded(r); what != "" {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("exceptionrequests").GroupResource(), r.Name, fmt.Errorf(
			"ExceptionRequest %s/%s stores %s that the controller has not recorded yet (status.recordedDecisions, status.recordedPhase); "+
				"deleting it now would lose them: try again once the controller has written their DecisionRecords",
			r.Namespace, r.Name, what))
	}
	until := r.Status.RetainUntil // fixed when it was decided
	if until == nil {
		// Decided before the controller stored it (or a moment ago): the
		// program's retention now.
		program, err := programOfPartner(ctx, v.Reader, r.Namespace, r.Spec.Partner)
		if err != nil {
			return nil, err
		}
		if until = record.RetainUntil(r, v1alpha1.RecordRetention(program)); until == nil {
			return nil, nil
		}
	}
	if v.Clock.Now().Before(until.Time) {
		return nil, apierrors.NewForbidden(v1alpha1.GroupVersion.WithResource("exceptionrequests").GroupResource(), r.Name, fmt.Errorf(
			"ExceptionRequest %s/%s is %s: a decided request is kept until %s (status.retainUntil: the program's spec.recordRetention when it was decided); file a new request that supersedes it instead",
			r.Namespace, r.Name, r.Status.Phase, until.UTC().Format(time.RFC3339)))
	}
	return nil, nil
}

// ValidateUpdate has nothing to add: the schema keeps the spec immutable.
func (v *RequestValidator) ValidateUpdate(context.Context, *v1alpha1.ExceptionRequest, *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	return nil, nil
}
