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

// ProgramReconciler keeps a PartnerProgram's status current.
type ProgramReconciler struct {
	client.Client
	Clock clock.PassiveClock
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnerprograms,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnerprograms/status,verbs=get;update;patch

// Reconcile marks the catalog as applied.
func (r *ProgramReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var program v1alpha1.PartnerProgram
	if err := r.Get(ctx, req.NamespacedName, &program); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := program.Status.DeepCopy()
	program.Status.ObservedGeneration = program.Generation
	conditions.Set(&program.Status.Conditions, program.Generation, metav1.NewTime(r.Clock.Now()),
		v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonReconciled, "the metric catalog is in force")
	return ctrl.Result{}, updateStatusIfChanged(ctx, r.Client, &program, before, &program.Status)
}

// SetupWithManager registers the reconciler.
func (r *ProgramReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PartnerProgram{}).
		WithOptions(opts.controller()).
		Named("partnerprogram").
		Complete(r)
}
