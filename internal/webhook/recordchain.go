package webhook

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-governance-partnergov-io-v1alpha1-recordchain,mutating=false,failurePolicy=fail,sideEffects=None,groups=governance.partnergov.io,resources=recordchains,verbs=create;update;delete,versions=v1alpha1,name=vrecordchain.governance.partnergov.io,admissionReviewVersions=v1

// RecordChainValidator keeps the heads of the partners' record chains the
// controller's: only it creates, updates or deletes a RecordChain (the
// namespace controller may delete one, emptying a namespace being deleted).
// The head's seal would give away one written past this webhook anyway; this
// refuses it with a clear message first.
type RecordChainValidator struct {
	ControllerUsername string
}

var recordChainsResource = v1alpha1.GroupVersion.WithResource("recordchains").GroupResource()

// ValidateCreate admits the controller only.
func (v *RecordChainValidator) ValidateCreate(ctx context.Context, rc *v1alpha1.RecordChain) (admission.Warnings, error) {
	return nil, v.writer(ctx, rc)
}

// ValidateUpdate admits the controller only.
func (v *RecordChainValidator) ValidateUpdate(ctx context.Context, _, rc *v1alpha1.RecordChain) (admission.Warnings, error) {
	return nil, v.writer(ctx, rc)
}

// ValidateDelete admits the controller and the namespace controller.
func (v *RecordChainValidator) ValidateDelete(ctx context.Context, rc *v1alpha1.RecordChain) (admission.Warnings, error) {
	if deletingNamespace(ctx) {
		return nil, nil
	}
	return nil, v.writer(ctx, rc)
}

func (v *RecordChainValidator) writer(ctx context.Context, rc *v1alpha1.RecordChain) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	if req.UserInfo.Username == v.ControllerUsername {
		return nil
	}
	return apierrors.NewForbidden(recordChainsResource, rc.Name, fmt.Errorf(
		"only the partnergov controller writes RecordChains (the sealed head of a partner's chain of decision records, extended with each record it makes); %s may read them, not write them",
		req.UserInfo.Username))
}
