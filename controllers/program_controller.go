package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/funds"
	"github.com/partnergov/partnergov/internal/scorecard"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// DefaultScorecardInterval is the least time between two scorecard writes of one
// program when ProgramReconciler.Interval is zero.
const DefaultScorecardInterval = 5 * time.Second

// scorecardResync is how often a program is recomputed without any event. The
// scorecard also changes on its own: evidence goes stale, a stage deadline passes,
// decisions and SLA breaches leave the 30-day window, approvals leave the 90-day
// window of deals.approval. The first two are written into the partner's or the
// request's status by their own controllers at that instant, which is an event
// here; the windows are only caught by this resync, so decisionsLast30Days,
// slaBreaches and deals.approval may lag by up to a minute. A minute of
// recomputation from the cache, written only when a figure changed, is cheaper than
// tracking every window edge.
const scorecardResync = time.Minute

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnerprograms,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partnerprograms/status,verbs=get;update;patch

// ProgramReconciler reports each PartnerProgram's catalog as in force
// (observedGeneration and Ready) and keeps status.scorecard current.
//
// Scorecard writes are coalesced: every partner, tier, request, listing and deal
// registration event enqueues its program, and the workqueue holds each program
// once however many events arrive. Reconcile recomputes only when at least Interval has passed since
// the last write (status.scorecard.updatedAt, plus one second because stored times
// have whole seconds); sooner, it requeues for the rest of the interval without
// computing or writing. A program therefore gets at most one scorecard write per
// Interval under any load, never one per partner event. A spec change (a new
// generation) is applied at once.
//
// It reads partners and tiers through the spec.program field index and requests,
// listings and deal registrations through the spec.partner index, which the
// partner, listing and deal controllers register on the same manager.
type ProgramReconciler struct {
	client.Client
	Clock clock.PassiveClock
	// Interval is the least time between two scorecard writes of a program; zero
	// means DefaultScorecardInterval.
	Interval time.Duration
	// Seals verify the approvals the funds budgets count; nil when sealing is off.
	Seals *seal.Keys
}

// Reconcile computes the program's scorecard and writes status when it changed.
func (r *ProgramReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var program v1alpha1.PartnerProgram
	if err := r.Get(ctx, req.NamespacedName, &program); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !program.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	if wait := r.coalesce(&program, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	stamp := now.Truncate(time.Second)
	m, err := r.members(ctx, program.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	sc := scorecard.Compute(&program, m.tiers, m.partners, m.requests, m.listings, stamp)
	sc.Deals = scorecard.Deals(&program, m.partners, m.deals, m.requests, stamp)
	sc.FundsBudgets = funds.Figures(&program, funds.OfProgram(m.partners, m.requests), r.Seals)

	status := program.Status.DeepCopy()
	if status.ObservedGeneration != program.Generation || status.CatalogSince == nil {
		since := metav1.NewTime(stamp)
		status.CatalogSince = &since
	}
	status.ObservedGeneration = program.Generation
	ok, reason, message := tier.ProgramReadiness(&program, m.tiers)
	conditions.Set(&status.Conditions, program.Generation, metav1.NewTime(stamp),
		v1alpha1.ConditionReady, conditions.Status(ok), reason, message)
	status.Scorecard = &sc
	before, after := withoutUpdatedAt(program.Status), withoutUpdatedAt(*status)
	if equality.Semantic.DeepEqual(before, after) {
		return ctrl.Result{RequeueAfter: scorecardResync}, nil
	}
	updated := metav1.NewTime(stamp)
	sc.UpdatedAt = &updated
	program.Status = *status
	return ctrl.Result{RequeueAfter: scorecardResync}, updateStatusIfChanged(ctx, r.Client, &program, before, after)
}

// coalesce returns how long to wait before the program's scorecard may be written
// again, or 0 when it may be computed now.
func (r *ProgramReconciler) coalesce(program *v1alpha1.PartnerProgram, now time.Time) time.Duration {
	sc := program.Status.Scorecard
	if program.Status.ObservedGeneration != program.Generation || sc == nil || sc.UpdatedAt == nil {
		return 0
	}
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultScorecardInterval
	}
	// The write happened within the second after the whole-second updatedAt.
	next := sc.UpdatedAt.Add(time.Second + interval)
	if now.Before(next) {
		return next.Sub(now)
	}
	return 0
}

// programMembers are the objects a program's scorecard is computed from.
type programMembers struct {
	tiers    []v1alpha1.PartnerTier
	partners []v1alpha1.Partner
	requests []v1alpha1.ExceptionRequest
	listings []v1alpha1.Listing
	deals    []v1alpha1.DealRegistration
}

// members reads the program's tiers and partners and its partners' requests,
// listings and deal registrations from the cache. The scorecard functions only
// read them, so the lists skip the cache's deep copy. Requests, listings and
// registrations are listed once each and kept when their partner is one of the
// program's: three lists per scorecard rather than three per partner, whose
// allocations kept the garbage collector busy at 10,000 partners.
func (r *ProgramReconciler) members(ctx context.Context, program string) (programMembers, error) {
	var m programMembers
	var tiers v1alpha1.PartnerTierList
	if err := r.List(ctx, &tiers, client.MatchingFields{indexProgram: program}); err != nil {
		return m, err
	}
	var partners v1alpha1.PartnerList
	if err := r.List(ctx, &partners, client.MatchingFields{indexProgram: program}, client.UnsafeDisableDeepCopy); err != nil {
		return m, err
	}
	m.tiers, m.partners = tiers.Items, partners.Items
	ours := make(map[types.NamespacedName]struct{}, len(partners.Items))
	for _, p := range partners.Items {
		ours[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = struct{}{}
	}
	isOurs := func(namespace, partner string) bool {
		_, ok := ours[types.NamespacedName{Namespace: namespace, Name: partner}]
		return ok
	}
	var rs v1alpha1.ExceptionRequestList
	if err := r.List(ctx, &rs, client.UnsafeDisableDeepCopy); err != nil {
		return m, err
	}
	for _, q := range rs.Items {
		if isOurs(q.Namespace, q.Spec.Partner) {
			m.requests = append(m.requests, q)
		}
	}
	var ls v1alpha1.ListingList
	if err := r.List(ctx, &ls, client.UnsafeDisableDeepCopy); err != nil {
		return m, err
	}
	for _, l := range ls.Items {
		if isOurs(l.Namespace, l.Spec.Partner) {
			m.listings = append(m.listings, l)
		}
	}
	var ds v1alpha1.DealRegistrationList
	if err := r.List(ctx, &ds, client.UnsafeDisableDeepCopy); err != nil {
		return m, err
	}
	for _, d := range ds.Items {
		if isOurs(d.Namespace, d.Spec.Partner) {
			m.deals = append(m.deals, d)
		}
	}
	return m, nil
}

// withoutUpdatedAt is the status as compared: the scorecard's updatedAt changes
// only because something else did.
func withoutUpdatedAt(s v1alpha1.PartnerProgramStatus) v1alpha1.PartnerProgramStatus {
	if s.Scorecard != nil {
		sc := *s.Scorecard
		sc.UpdatedAt = nil
		s.Scorecard = &sc
	}
	return s
}

// SetupWithManager registers the reconciler: a program follows its own spec, its
// tiers, its partners and their requests, listings and deal registrations.
func (r *ProgramReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	toProgram := func(program func(context.Context, client.Object) string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			name := program(ctx, o)
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
		})
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PartnerProgram{}).
		Watches(&v1alpha1.PartnerTier{}, toProgram(func(_ context.Context, o client.Object) string {
			return o.(*v1alpha1.PartnerTier).Spec.Program
		})).
		Watches(&v1alpha1.Partner{}, toProgram(func(_ context.Context, o client.Object) string {
			return o.(*v1alpha1.Partner).Spec.Program
		})).
		Watches(&v1alpha1.ExceptionRequest{}, toProgram(func(ctx context.Context, o client.Object) string {
			return r.programOf(ctx, o.GetNamespace(), o.(*v1alpha1.ExceptionRequest).Spec.Partner)
		})).
		Watches(&v1alpha1.Listing{}, toProgram(func(ctx context.Context, o client.Object) string {
			return r.programOf(ctx, o.GetNamespace(), o.(*v1alpha1.Listing).Spec.Partner)
		})).
		Watches(&v1alpha1.DealRegistration{}, toProgram(func(ctx context.Context, o client.Object) string {
			return r.programOf(ctx, o.GetNamespace(), o.(*v1alpha1.DealRegistration).Spec.Partner)
		})).
		WithOptions(opts.controller()).
		Named("partnerprogram").
		Complete(r)
}

// programOf is the program of the named partner, or "" when it does not exist.
func (r *ProgramReconciler) programOf(ctx context.Context, namespace, partner string) string {
	var p v1alpha1.Partner
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: partner}, &p); err != nil {
		return ""
	}
	return p.Spec.Program
}
