package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
)

// ReviewPathReconciler keeps a ReviewPath's status current.
type ReviewPathReconciler struct {
	client.Client
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths/status,verbs=get;update;patch

// Reconcile marks the path as in force. Requests copy the path when they resolve
// it, so an edit here never changes a request already under review.
func (r *ReviewPathReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var path v1alpha1.ReviewPath
	if err := r.Get(ctx, req.NamespacedName, &path); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := path.Status.DeepCopy()
	path.Status.ObservedGeneration = path.Generation
	conditions.Set(&path.Status.Conditions, path.Generation, metav1.NewTime(r.Clock.Now()),
		v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "the review path is in force for new requests")
	return ctrl.Result{}, updateStatusIfChanged(ctx, r.Client, &path, before, &path.Status)
}

// SetupWithManager registers the reconciler.
func (r *ReviewPathReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ReviewPath{}).
		WithOptions(opts.controller()).
		Named("reviewpath").
		Complete(r)
}
