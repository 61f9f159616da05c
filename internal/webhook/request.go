package webhook

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
)

// +kubebuilder:webhook:path=/mutate-governance-partnergov-io-v1alpha1-exceptionrequest,mutating=true,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=exceptionrequests,verbs=create,versions=v1alpha1,name=mexceptionrequest.governance.partnergov.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-exceptionrequest,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=exceptionrequests,verbs=create;update,versions=v1alpha1,name=vexceptionrequest.governance.partnergov.io,admissionReviewVersions=v1

// RequestDefaulter records who created a request. The requester comes from the
// API server's authentication, never from what the user wrote.
type RequestDefaulter struct{}

// Default overwrites spec.requester with the authenticated identity on create.
func (RequestDefaulter) Default(ctx context.Context, r *v1alpha1.ExceptionRequest) error {
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
	return nil
}

// RequestValidator refuses a request for a partner that does not exist, a named
// review path that does not exist or does not govern the request (a requester
// may not pick a lighter review), and TierPromotion requests from anyone but the
// controller, which opens them when a partner qualifies.
type RequestValidator struct {
	Reader             client.Reader
	ControllerUsername string
	noDelete[*v1alpha1.ExceptionRequest]
}

// ValidateCreate checks the partner, the named path and who opens a promotion.
func (v *RequestValidator) ValidateCreate(ctx context.Context, r *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	var errs field.ErrorList
	if r.Spec.Type == v1alpha1.RequestTierPromotion && req.UserInfo.Username != v.ControllerUsername {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "type"),
			"TierPromotion requests are opened by the partnergov controller when a partner qualifies for a tier that needs review"))
	}
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &v1alpha1.Partner{})
	if err != nil {
		return nil, err
	}
	if !found {
		errs = append(errs, field.NotFound(field.NewPath("spec", "partner"), r.Spec.Partner))
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

// ValidateUpdate has nothing to add: the schema keeps the spec immutable.
func (v *RequestValidator) ValidateUpdate(context.Context, *v1alpha1.ExceptionRequest, *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	return nil, nil
}
