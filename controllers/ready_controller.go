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

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths/status,verbs=get;update;patch

// readyReconciler marks configuration objects whose schema and webhooks already
// validated them (review paths) as applied: observedGeneration and Ready.
type readyReconciler[T client.Object] struct {
	client.Client
	Clock   clock.PassiveClock
	name    string
	message string
	newObj  func() T
	// status returns pointers to the object's observedGeneration and conditions.
	status func(T) (*int64, *[]metav1.Condition)
}

// NewReviewPathReconciler reports each ReviewPath as in force. Requests copy the
// path when they resolve it, so an edit never changes a request under review.
func NewReviewPathReconciler(c client.Client, clk clock.PassiveClock) *readyReconciler[*v1alpha1.ReviewPath] {
	return &readyReconciler[*v1alpha1.ReviewPath]{Client: c, Clock: clk, name: "reviewpath",
		message: "the review path is in force for new requests",
		newObj:  func() *v1alpha1.ReviewPath { return &v1alpha1.ReviewPath{} },
		status: func(p *v1alpha1.ReviewPath) (*int64, *[]metav1.Condition) {
			return &p.Status.ObservedGeneration, &p.Status.Conditions
		},
	}
}

// Reconcile sets observedGeneration and Ready, writing only when they change.
func (r *readyReconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.newObj()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	observed, conds := r.status(obj)
	before := *observed
	beforeConds := append([]metav1.Condition(nil), *conds...)
	*observed = obj.GetGeneration()
	conditions.Set(conds, obj.GetGeneration(), metav1.NewTime(r.Clock.Now()),
		v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, r.message)
	return ctrl.Result{}, updateStatusIfChanged(ctx, r.Client, obj, []any{before, beforeConds}, []any{*observed, *conds})
}

// SetupWithManager registers the reconciler.
func (r *readyReconciler[T]) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newObj()).
		WithOptions(opts.controller()).
		Named(r.name).
		Complete(r)
}
