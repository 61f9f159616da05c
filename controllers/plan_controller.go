package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/plan"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// PlanReconciler opens the BusinessPlan request that approves a
// JointBusinessPlan's content, and keeps the plan's status: its approval, each
// goal against the partner's current evidence, and its business reviews
// (internal/plan decides all of it).
type PlanReconciler struct {
	client.Client
	// APIReader reads a partner the cache has not seen yet.
	APIReader client.Reader
	Clock     clock.PassiveClock
	// Seals verify evidence as the tier engine does; nil when sealing is off.
	Seals *seal.Keys
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=jointbusinessplans,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=jointbusinessplans/status,verbs=get;update;patch

// Reconcile evaluates one plan, opens its review and writes its status when it changed.
func (r *PlanReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p v1alpha1.JointBusinessPlan
	if err := r.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !p.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now().Truncate(time.Second)
	in := plan.Input{Now: now, Plan: &p, Seals: r.Seals}
	var partner v1alpha1.Partner
	key := types.NamespacedName{Namespace: p.Namespace, Name: p.Spec.Partner}
	err := r.Get(ctx, key, &partner)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, key, &partner)
	}
	var stale *time.Time
	switch {
	case err == nil:
		in.PartnerFound = true
		var program v1alpha1.PartnerProgram
		switch err := r.Get(ctx, types.NamespacedName{Name: partner.Spec.Program}, &program); {
		case err == nil:
			in.Program = &program
		case !apierrors.IsNotFound(err):
			return ctrl.Result{}, err
		}
		in.Values, stale = tier.CurrentValues(tier.Input{Now: now, Program: in.Program, Partner: &partner, Seals: r.Seals,
			Computed: computedEntries(partner.Status.DealMetrics, now)})
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	var q v1alpha1.ExceptionRequest
	switch err := r.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: plan.RequestName(&p)}, &q); {
	case err == nil:
		if !in.PartnerFound || tier.SamePartner(&q, &partner) {
			in.Request = &q
		}
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	}
	res := plan.Evaluate(in)
	if res.OpenRequest {
		if err := r.openRequest(ctx, &p, in.Program); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening the BusinessPlan request: %w", err)
		}
	}
	if _, err := applyStatus(ctx, r.Client, &p, "JointBusinessPlan", &p.Status, &res.Status); err != nil {
		return retryStale(ctrl.Result{}, err)
	}
	return requeueAt(now, earliest(res.Next, stale)), nil
}

// computedEntries are a partner's stored Deals metrics as evidence the tier
// engine counts (they never go stale).
func computedEntries(metrics []v1alpha1.ComputedMetric, now time.Time) []v1alpha1.EvidenceEntry {
	out := make([]v1alpha1.EvidenceEntry, 0, len(metrics))
	for _, m := range metrics {
		out = append(out, v1alpha1.EvidenceEntry{Metric: m.Metric, Value: m.Value, ObservedAt: metav1.NewTime(now)})
	}
	return out
}

// openRequest opens the BusinessPlan request for the plan's current content,
// through the program's businessPlans.reviewPath (or the path whose appliesTo
// matches), for the total planned investment when there is one, with the
// plan's author and owners as its parties (plan.Parties). Like every
// request the controller opens, it has no owner: a decided request is a record
// that outlives the plan.
func (r *PlanReconciler) openRequest(ctx context.Context, p *v1alpha1.JointBusinessPlan, program *v1alpha1.PartnerProgram) error {
	path := ""
	if program != nil && program.Spec.BusinessPlans != nil {
		path = program.Spec.BusinessPlans.ReviewPath
	}
	goals := make([]string, 0, len(p.Spec.Goals))
	for _, g := range p.Spec.Goals {
		goals = append(goals, fmt.Sprintf("%s %s", g.Metric, g.Target))
	}
	why := fmt.Sprintf("Joint business plan %s with partner %s for the %s starting %s: goals %s; company owners %s, partner owners %s.",
		p.Name, p.Spec.Partner, strings.ToLower(string(p.Spec.Period.Kind)), p.Spec.Period.Start.UTC().Format("2006-01-02"),
		strings.Join(goals, ", "), strings.Join(p.Spec.Owners.Company, ", "), strings.Join(p.Spec.Owners.Partner, ", "))
	q := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: plan.RequestName(p)},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type:          v1alpha1.RequestBusinessPlan,
			Partner:       p.Spec.Partner,
			Justification: why,
			Grant:         &v1alpha1.Grant{BusinessPlan: p.Name},
			ReviewPath:    path,
			// Nobody approves their own plan: its author and owners on both
			// sides are the requester side, and decide no stage.
			Parties: plan.Parties(p),
		},
	}
	if len(p.Spec.Investments) > 0 {
		amounts := make([]v1alpha1.Decimal, 0, len(p.Spec.Investments))
		for _, i := range p.Spec.Investments {
			amounts = append(amounts, i.Amount.Amount)
		}
		if total, err := decimal.Sum(amounts...); err == nil {
			q.Spec.Amount = &v1alpha1.Money{Amount: total, Currency: p.Spec.Investments[0].Amount.Currency}
		}
	}
	if err := r.Create(ctx, q); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// SetupWithManager registers the reconciler and its watches: a plan follows its
// partner (evidence moves its goals), its BusinessPlan requests and its
// partner's program (the review SLA).
func (r *PlanReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if err := indexPlans(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.JointBusinessPlan{}).
		Watches(&v1alpha1.Partner{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.list(ctx, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPartner: o.GetName()})
		})).
		Watches(&v1alpha1.ExceptionRequest{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			q := o.(*v1alpha1.ExceptionRequest)
			if q.Spec.Type != v1alpha1.RequestBusinessPlan || q.Spec.Grant == nil || q.Spec.Grant.BusinessPlan == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Grant.BusinessPlan}}}
		})).
		Watches(&v1alpha1.PartnerProgram{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
			return r.list(ctx)
		}), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(opts.controller()).
		Named("jointbusinessplan").
		Complete(r)
}

// indexPlans indexes JointBusinessPlans by partner, once for both controllers
// that look plans up by it.
func indexPlans(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.JointBusinessPlan{}, indexPartner, func(o client.Object) []string {
		return []string{o.(*v1alpha1.JointBusinessPlan).Spec.Partner}
	})
	if err != nil && strings.Contains(err.Error(), "indexer conflict") { // the other controller indexed them
		return nil
	}
	return err
}

func (r *PlanReconciler) list(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list v1alpha1.JointBusinessPlanList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
