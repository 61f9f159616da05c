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

// RequestValidator refuses a request for a partner that does not exist and warns
// about a named review path that does not exist.
type RequestValidator struct {
	Reader client.Reader
	noDelete[*v1alpha1.ExceptionRequest]
}

// ValidateCreate checks the partner and the named path.
func (v *RequestValidator) ValidateCreate(ctx context.Context, r *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	found, err := getOptional(ctx, v.Reader, types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}, &v1alpha1.Partner{})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, invalid("ExceptionRequest", r.Name, field.ErrorList{field.NotFound(field.NewPath("spec", "partner"), r.Spec.Partner)})
	}
	if r.Spec.ReviewPath == "" {
		return nil, nil
	}
	found, err = getOptional(ctx, v.Reader, types.NamespacedName{Name: r.Spec.ReviewPath}, &v1alpha1.ReviewPath{})
	if err != nil || found {
		return nil, err
	}
	return admission.Warnings{fmt.Sprintf("ReviewPath %q does not exist; the request escalates to the program owner until it does", r.Spec.ReviewPath)}, nil
}

// ValidateUpdate has nothing to add: the schema keeps the spec immutable.
func (v *RequestValidator) ValidateUpdate(context.Context, *v1alpha1.ExceptionRequest, *v1alpha1.ExceptionRequest) (admission.Warnings, error) {
	return nil, nil
}
