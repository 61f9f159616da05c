package controllers

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/tier"
)

// TierReconciler reports whether each PartnerTier fits its program's catalog.
type TierReconciler struct {
	client.Client
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnertiers,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnertiers/status,verbs=get;update;patch

// Reconcile sets CatalogResolved and Ready from the tier and its program.
func (r *TierReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var t v1alpha1.PartnerTier
	if err := r.Get(ctx, req.NamespacedName, &t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var program *v1alpha1.PartnerProgram
	var p v1alpha1.PartnerProgram
	if err := r.Get(ctx, types.NamespacedName{Name: t.Spec.Program}, &p); err == nil {
		program = &p
	} else if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, err
	}

	before := t.Status.DeepCopy()
	now := metav1.NewTime(r.Clock.Now())
	reason, message, ok := tier.ValidateTier(t, program)
	if ok {
		reason, message = v1alpha1.ReasonReconciled, "the tier's requirements fit the program's catalog"
	}
	t.Status.ObservedGeneration = t.Generation
	conditions.Set(&t.Status.Conditions, t.Generation, now, v1alpha1.ConditionCatalogResolved, conditions.Status(ok), reason, message)
	conditions.Set(&t.Status.Conditions, t.Generation, now, v1alpha1.ConditionReady, conditions.Status(ok), reason, message)
	return ctrl.Result{}, updateStatusIfChanged(ctx, r.Client, &t, before, &t.Status)
}

// SetupWithManager registers the reconciler; a catalog change re-checks its tiers.
func (r *TierReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PartnerTier{}).
		Watches(&v1alpha1.PartnerProgram{}, handler.EnqueueRequestsFromMapFunc(r.tiersOfProgram)).
		WithOptions(opts.controller()).
		Named("partnertier").
		Complete(r)
}

func (r *TierReconciler) tiersOfProgram(ctx context.Context, obj client.Object) []reconcile.Request {
	var tiers v1alpha1.PartnerTierList
	if err := r.List(ctx, &tiers); err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, t := range tiers.Items {
		if t.Spec.Program == obj.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}})
		}
	}
	return reqs
}
