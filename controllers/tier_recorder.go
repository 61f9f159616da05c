package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
)

// TierRecorder keeps a DecisionRecord for every tier decision a Partner's
// status holds, and one (a LifecycleChange) for every lifecycle transition of
// status.lifecycle.transitions. It is a controller of its own, with its own queue and
// workers, so the partner workers that decide write only the status and are
// free for the next decision while the record is created: a decision is in
// force once its status is stored, and the record follows it.
//
// Only what is stored is recorded: the recorder reads the history the partner
// controller wrote, never one it is about to write. Record names derive from
// the decisions, so a crash anywhere records each decision later, once; which
// records exist is read from the cache's metadata of DecisionRecords, so a
// decision already recorded costs no API request. A decision without a valid
// seal (written past the webhooks) is not recorded: the engine replaces it.
// Nor is one older than the program's record retention: its record was made
// and pruned, and is not made again.
type TierRecorder struct {
	client.Client
	Clock clock.PassiveClock
	// Seals verify the decisions; nil when sealing is off.
	Seals *seal.Keys
}

// Reconcile records the partner's stored tier decisions that have no record yet.
func (r *TierRecorder) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p v1alpha1.Partner
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if len(p.Status.History) == 0 && lifecycleTransitionsOf(&p) == nil {
		return ctrl.Result{}, nil
	}
	var program *v1alpha1.PartnerProgram
	var pp v1alpha1.PartnerProgram
	switch err := r.Get(ctx, types.NamespacedName{Name: p.Spec.Program}, &pp); {
	case err == nil:
		program = &pp
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	retention := v1alpha1.RecordRetention(program)
	for i, d := range p.Status.History {
		if !r.Seals.TierSealed(string(p.UID), p.Status.History, i) || !now.Before(d.Time.Add(retention)) {
			continue
		}
		if err := ensureRecord(ctx, r.Client, record.TierChange(&p, d, FieldOwner, retention)); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording the tier decision of %s: %w", d.Time.UTC().Format("2006-01-02T15:04:05Z"), err)
		}
	}
	// Lifecycle transitions are recorded the same way. They need no seal: only
	// the controller may write status.lifecycle (the partners/status webhook
	// refuses anyone else).
	for _, t := range lifecycleTransitionsOf(&p) {
		if !now.Before(t.Time.Add(retention)) {
			continue
		}
		if err := ensureRecord(ctx, r.Client, record.LifecycleChange(&p, t, FieldOwner, retention)); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording the lifecycle transition of %s: %w", t.Time.UTC().Format("2006-01-02T15:04:05Z"), err)
		}
	}
	return ctrl.Result{}, nil
}

// SetupWithManager registers the recorder; it follows Partners whose history
// changed (and every partner once at start, and on each resync).
func (r *TierRecorder) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Partner{}, builder.WithPredicates(historyChanged)).
		WithOptions(opts.controller()).
		Named("tierrecord").
		Complete(r)
}

// historyChanged passes creations, resyncs and updates whose tier history or
// lifecycle transitions changed; deletions need no record.
var historyChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Partner), e.ObjectNew.(*v1alpha1.Partner)
		return o.ResourceVersion == n.ResourceVersion || !equality.Semantic.DeepEqual(o.Status.History, n.Status.History) ||
			!equality.Semantic.DeepEqual(lifecycleTransitionsOf(o), lifecycleTransitionsOf(n))
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}
