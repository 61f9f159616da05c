// Package webhook holds partnergov's admission webhooks: defaulting and validation
// that needs more than the OpenAPI schema and CEL rules can see (other objects,
// the authenticated identity, the current time).
package webhook

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// The webhooks read these objects from the API server to decide admissions.
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnerprograms;partnertiers;partners;reviewpaths,verbs=get;list;watch

// Options configure the webhooks.
type Options struct {
	// ControllerUsername is the identity the controller writes status with; only
	// it may change the status fields the controller computes.
	ControllerUsername string
	Clock              clock.PassiveClock
	// Seals seal evidence provenance and review decisions; nil when sealing is off.
	Seals *seal.Keys
	// MinRecordRetention is the least recordRetention a program may set; zero
	// is v1alpha1.MinRecordRetention.
	MinRecordRetention time.Duration
}

func (o Options) minRecordRetention() time.Duration {
	if o.MinRecordRetention > 0 {
		return o.MinRecordRetention
	}
	return v1alpha1.MinRecordRetention
}

// Setup registers every webhook with the manager. Reads that decide an admission of
// program configuration go to the API server (reader), not the cache, so a program
// created a moment ago is already seen when its tiers arrive; the high-rate status
// guard reads the cache.
func Setup(mgr ctrl.Manager, o Options) error {
	mgr.GetWebhookServer().Register(PartnerStatusPath, &admission.Webhook{Handler: &PartnerStatusGuard{
		Seals:              o.Seals,
		Reader:             mgr.GetClient(),
		Decoder:            admission.NewDecoder(mgr.GetScheme()),
		ControllerUsername: o.ControllerUsername,
		Clock:              o.Clock,
	}})
	mgr.GetWebhookServer().Register(RequestStatusPath, &admission.Webhook{Handler: &RequestStatusGuard{
		Seals:              o.Seals,
		Client:             mgr.GetClient(),
		Decoder:            admission.NewDecoder(mgr.GetScheme()),
		ControllerUsername: o.ControllerUsername,
		Clock:              o.Clock,
	}})
	mgr.GetWebhookServer().Register(ListingStatusPath, &admission.Webhook{Handler: &ListingStatusGuard{
		Reader:             mgr.GetClient(),
		Decoder:            admission.NewDecoder(mgr.GetScheme()),
		ControllerUsername: o.ControllerUsername,
	}})
	mgr.GetWebhookServer().Register(DealStatusPath, &admission.Webhook{Handler: &DealStatusGuard{
		Reader:             mgr.GetClient(),
		Decoder:            admission.NewDecoder(mgr.GetScheme()),
		ControllerUsername: o.ControllerUsername,
		Seals:              o.Seals,
	}})
	reader := mgr.GetAPIReader()
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DealRegistration{}).
		WithDefaulter(&DealDefaulter{Reader: reader, Clock: o.Clock}).
		WithValidator(&DealValidator{Reader: reader, Clock: o.Clock, Seals: o.Seals}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.DealLock{}).
		WithDefaulter(&DealLockDefaulter{Reader: reader, ControllerUsername: o.ControllerUsername, Seals: o.Seals}).
		WithValidator(&DealLockValidator{Reader: reader, ControllerUsername: o.ControllerUsername}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.PartnerProgram{}).
		WithValidator(&ProgramValidator{Reader: reader, Partners: mgr.GetClient(), MinRetention: o.minRecordRetention(), Clock: o.Clock}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.PartnerTier{}).
		WithValidator(&TierValidator{Reader: reader, Partners: mgr.GetClient()}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Partner{}).
		WithDefaulter(&PartnerDefaulter{Clock: o.Clock}).
		// The program check only warns, so the cache will do: a live read per
		// partner write would put the webhook behind the manager's QPS limit.
		WithValidator(&PartnerValidator{Reader: mgr.GetClient(), APIReader: reader, Clock: o.Clock}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.Listing{}).
		WithValidator(&ListingValidator{Reader: reader, Clock: o.Clock}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.ReviewPath{}).
		WithValidator(&ReviewPathValidator{Reader: reader}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.JointBusinessPlan{}).
		WithDefaulter(PlanDefaulter{}).
		WithValidator(&PlanValidator{Reader: reader}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &recordsv1alpha1.DecisionRecord{}).
		WithValidator(&DecisionRecordValidator{ControllerUsername: o.ControllerUsername, Clock: o.Clock}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.RecordChain{}).
		WithValidator(&RecordChainValidator{ControllerUsername: o.ControllerUsername}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha1.FundsLedger{}).
		WithValidator(&FundsLedgerValidator{ControllerUsername: o.ControllerUsername}).Complete(); err != nil {
		return err
	}
	return ctrl.NewWebhookManagedBy(mgr, &v1alpha1.ExceptionRequest{}).
		WithDefaulter(&RequestDefaulter{Reader: reader, Clock: o.Clock}).
		WithValidator(&RequestValidator{Reader: reader, ControllerUsername: o.ControllerUsername, Clock: o.Clock}).Complete()
}

// invalid wraps field errors in the API's Invalid status, so kubectl prints each
// field path and rule.
func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(v1alpha1.GroupVersion.WithKind(kind).GroupKind(), name, errs)
}

// getOptional fetches obj; found is false (and err nil) when it does not exist.
func getOptional(ctx context.Context, r client.Reader, key client.ObjectKey, obj client.Object) (found bool, err error) {
	err = r.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// noDelete is the ValidateDelete of validators that allow every delete.
type noDelete[T runtime.Object] struct{}

func (noDelete[T]) ValidateDelete(context.Context, T) (admission.Warnings, error) { return nil, nil }
