package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
)

// +kubebuilder:webhook:path=/validate-records-partnergov-io-v1alpha1-decisionrecord,mutating=false,failurePolicy=fail,sideEffects=None,groups=records.partnergov.io,resources=decisionrecords,verbs=create;update;delete,versions=v1alpha1,name=vdecisionrecord.records.partnergov.io,admissionReviewVersions=v1

// DecisionRecordValidator keeps decision records trustworthy: only the
// controller creates them, nobody changes them (CEL keeps the spec immutable;
// this refuses metadata edits too), and nobody deletes one before its
// spec.retainUntil.
type DecisionRecordValidator struct {
	ControllerUsername string
	Clock              clock.PassiveClock
}

var recordsResource = recordsv1alpha1.GroupVersion.WithResource("decisionrecords").GroupResource()

// ValidateCreate admits records from the controller only.
func (v *DecisionRecordValidator) ValidateCreate(ctx context.Context, r *recordsv1alpha1.DecisionRecord) (admission.Warnings, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if req.UserInfo.Username != v.ControllerUsername {
		return nil, apierrors.NewForbidden(recordsResource, r.Name, fmt.Errorf(
			"only the partnergov controller records decisions; %s may read records, not write them", req.UserInfo.Username))
	}
	return nil, nil
}

// ValidateUpdate refuses every change: a record is kept as it was made.
func (v *DecisionRecordValidator) ValidateUpdate(_ context.Context, _, r *recordsv1alpha1.DecisionRecord) (admission.Warnings, error) {
	return nil, apierrors.NewForbidden(recordsResource, r.Name, errors.New("a DecisionRecord never changes: records are immutable"))
}

// namespaceController is the identity that empties a namespace being deleted.
// Deleting a namespace is the one way to delete records early: it is let
// through, or the namespace would stay Terminating for years.
const namespaceController = "system:serviceaccount:kube-system:namespace-controller"

// deletingNamespace reports whether the admission request comes from the
// namespace controller tearing a namespace down.
func deletingNamespace(ctx context.Context) bool {
	req, err := admission.RequestFromContext(ctx)
	return err == nil && req.UserInfo.Username == namespaceController
}

// ValidateDelete refuses deleting a record before its retention has passed.
func (v *DecisionRecordValidator) ValidateDelete(ctx context.Context, r *recordsv1alpha1.DecisionRecord) (admission.Warnings, error) {
	if deletingNamespace(ctx) {
		return nil, nil
	}
	if now := v.Clock.Now(); now.Before(r.Spec.RetainUntil.Time) {
		return nil, apierrors.NewForbidden(recordsResource, r.Name, fmt.Errorf(
			"DecisionRecord %s/%s is retained until %s (its program's spec.recordRetention); the controller prunes it then",
			r.Namespace, r.Name, r.Spec.RetainUntil.UTC().Format(time.RFC3339)))
	}
	return nil, nil
}
