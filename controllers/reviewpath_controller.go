package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/review"
)

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths/status,verbs=get;update;patch

// ReviewPathReconciler reports whether each ReviewPath governs its requests on
// its own (Ready), with observedGeneration. Requests copy the path when they
// resolve it, so an edit never changes a request under review.
type ReviewPathReconciler struct {
	client.Client
	Clock clock.PassiveClock
}

// NewReviewPathReconciler returns the ReviewPath reconciler.
func NewReviewPathReconciler(c client.Client, clk clock.PassiveClock) *ReviewPathReconciler {
	return &ReviewPathReconciler{Client: c, Clock: clk}
}

// Reconcile sets observedGeneration and Ready from review.Readiness, writing only
// when they change.
func (r *ReviewPathReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var path v1alpha1.ReviewPath
	if err := r.Get(ctx, req.NamespacedName, &path); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var paths v1alpha1.ReviewPathList
	if err := r.List(ctx, &paths); err != nil {
		return ctrl.Result{}, err
	}
	before := path.Status.DeepCopy()
	ok, reason, message := review.Readiness(&path, paths.Items)
	path.Status.ObservedGeneration = path.Generation
	conditions.Set(&path.Status.Conditions, path.Generation, metav1.NewTime(r.Clock.Now()),
		v1alpha1.ConditionReady, conditions.Status(ok), reason, message)
	return ctrl.Result{}, updateStatusIfChanged(ctx, r.Client, &path, before, &path.Status)
}

// SetupWithManager registers the reconciler: a path's spec change re-checks every
// path, since readiness depends on the others' appliesTo.
func (r *ReviewPathReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ReviewPath{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.ReviewPath{}, handler.EnqueueRequestsFromMapFunc(r.allPaths),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(opts.controller()).
		Named("reviewpath").
		Complete(r)
}

// allPaths maps a path change to every path.
func (r *ReviewPathReconciler) allPaths(ctx context.Context, _ client.Object) []reconcile.Request {
	var paths v1alpha1.ReviewPathList
	if err := r.List(ctx, &paths); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(paths.Items))
	for _, p := range paths.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return out
}
