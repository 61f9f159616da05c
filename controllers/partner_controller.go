package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/lifecycle"
	"github.com/partnergov/partnergov/internal/plan"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// Field indexes the controllers look objects up by.
const (
	indexProgram = "spec.program" // Partner and PartnerTier by program name
	indexPartner = "spec.partner" // ExceptionRequest by partner name
	// indexCredited finds the won DealRegistrations that credit a partner
	// (namespace/name), sourced or influenced.
	indexCredited = "status.attribution"
)

// deadlineMargin is added to requeues: stored times have whole seconds, so waking
// a little after a deadline makes sure it has passed.
const deadlineMargin = 500 * time.Millisecond

// PartnerReconciler computes each partner's tier, entitlements and conditions from
// its evidence, and provisions the partner's integration identity.
type PartnerReconciler struct {
	client.Client
	// APIReader reads past the cache, which holds only partnergov's labelled objects.
	APIReader client.Reader
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	// Seals verify evidence and seal tier decisions; nil when sealing is off.
	Seals *seal.Keys
	// Heads reads the partners' RecordChains from the manager's cache (their
	// newest records trimmed: a head costs memory per partner, not per
	// record); nil reads them through APIReader.
	Heads client.Reader
	// TierRecords, the recorder of the tier decisions, tells which records it
	// knows exist (holdTierDecision); nil: they are read from the API server.
	TierRecords *TierRecorder

	// sequences holds, by partner, the sequence of the newest tier decision
	// seen in the partner's history. A history whose newest decision is older
	// was cut back, and is checked against the stored records rather than the
	// head: an older sealed head written back past the webhooks still
	// verifies, and would vouch for the cut history. A partner's entry goes
	// when the partner does (Reconcile finds it gone or deleting), and a
	// partner created again under the name (another UID) starts afresh.
	sequences sync.Map // types.NamespacedName -> seenSequence
}

// +kubebuilder:rbac:groups=records.partnergov.io,resources=decisionrecords,verbs=get;list;create;delete
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=recordchains,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partners,verbs=get;list;watch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=partners/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=exceptionrequests,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// seenSequence is the newest tier decision's sequence seen in the history of
// the partner with uid (PartnerReconciler.sequences).
type seenSequence struct {
	uid      types.UID
	sequence int64
}

// Reconcile evaluates one partner and writes its status when it changed.
func (r *PartnerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var partner v1alpha1.Partner
	if err := r.Get(ctx, req.NamespacedName, &partner); err != nil {
		if apierrors.IsNotFound(err) {
			r.sequences.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !partner.DeletionTimestamp.IsZero() {
		r.sequences.Delete(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	in, requests, err := r.inputs(ctx, &partner)
	if err != nil {
		return ctrl.Result{}, err
	}
	if in.NewestRecorded, in.Recorded, err = r.behindRecords(ctx, &partner); err != nil {
		return retryStale(ctrl.Result{}, err)
	}
	dealMetrics, dealsChange, err := r.dealMetrics(ctx, &partner, &in)
	if err != nil {
		return ctrl.Result{}, err
	}
	planChange, err := r.currentPlan(ctx, &partner, &in, requests)
	if err != nil {
		return ctrl.Result{}, err
	}
	res := tier.Evaluate(in)
	// A decision made with a TierPromotion approval is confirmed on the
	// approval's records first: one recorded as Expired (used up, or lapsed)
	// gives nothing, whatever its stored status says now.
	for res.Decision != nil {
		used, err := r.expiredPromotion(ctx, res.Decision, requests)
		if err != nil || used == "" {
			if err != nil {
				return ctrl.Result{}, err
			}
			break
		}
		in.Grants = slices.DeleteFunc(in.Grants, func(g tier.Grant) bool { return g.Request == used })
		res = tier.Evaluate(in)
	}
	res.Status.DealMetrics = dealMetrics
	res.NextDeadline = earliest(earliest(res.NextDeadline, dealsChange), planChange)
	// Funds and claims follow the approved requests, program or not: a claim
	// still lapses and a quarter still ends while a program is missing.
	res.Status.ReadinessClaims = effects.Claims(requests, in.Now, r.Seals)
	// The lifecycle filters what the tier gives (probation, offboarding) before
	// the funds cap is read from it.
	life := lifecycle.Apply(lifecycle.Input{Now: in.Now, Partner: &partner, Program: in.Program,
		Evidence: tier.Current(in), Claims: res.Status.ReadinessClaims, Seals: r.Seals}, &res.Status)
	res.Status.Funds = effects.Funds(requests, effects.FundsCap(res.Status.Entitlements), in.Now, r.Seals)
	res.NextDeadline = earliest(res.NextDeadline, life.NextDeadline) // includes the offboarding's effective time
	res.NextDeadline = earliest(res.NextDeadline, effects.NextChange(res.Status.Funds, res.Status.ReadinessClaims, in.Now))

	stored := &partner
	if life.Unsealed {
		// A lifecycle written past the webhooks is removed outright before the
		// decided one is applied: the status apply would leave in place the
		// fields another writer owns and the decision omits (onboardedAt, a
		// step of another name). Removed, it reads as what it counted for: none.
		stored = partner.DeepCopy()
		stored.Status.Lifecycle = nil
		if err := r.Status().Patch(ctx, stored, client.MergeFromWithOptions(&partner, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldOwner)); err != nil {
			if apierrors.IsConflict(err) {
				err = errStale
			}
			return retryStale(ctrl.Result{}, client.IgnoreNotFound(err))
		}
	}
	if held, err := r.holdTierDecision(ctx, stored, &res.Status, res.Decision, in.Program, in.NewestRecorded, in.Now); err != nil {
		return retryStale(ctrl.Result{}, err)
	} else if held {
		return ctrl.Result{RequeueAfter: tierHoldRetry}, nil
	}
	written, err := applyStatus(ctx, r.Client, stored, "Partner", &stored.Status, &res.Status, "evidence")
	if err != nil {
		return retryStale(ctrl.Result{}, err)
	}
	// The decision is in force once stored; the TierRecorder, with workers of
	// its own, records it from the stored history.
	if c := meta.FindStatusCondition(res.Status.Conditions, v1alpha1.ConditionEvidenceTrusted); written && c != nil &&
		strings.Contains(c.Message, "not sealed") {
		r.Recorder.Eventf(&partner, nil, corev1.EventTypeWarning, "UnsealedEvidence", "Evaluate", "%s", c.Message)
	}
	if d := res.Decision; d != nil && written {
		r.Recorder.Eventf(&partner, nil, eventType(d.Reason == v1alpha1.ReasonStatusBehindRecords), d.Reason, "TierChange", "%s", d.Message)
		tierTransitions.WithLabelValues(partner.Spec.Program, d.From, d.To, d.Reason).Inc()
	}
	if life.Unsealed && written {
		r.Recorder.Eventf(&partner, nil, corev1.EventTypeWarning, v1alpha1.ReasonUnsealedLifecycle, "LifecycleChange",
			"the stored lifecycle (phase %s) is not sealed: it was written past the admission webhooks and counts for nothing; the partner's lifecycle is decided again from its program's steps",
			partner.Status.Lifecycle.Phase)
	}
	if t := life.Transition; t != nil && written {
		r.Recorder.Eventf(&partner, nil, eventType(t.To == v1alpha1.LifecycleProbation), t.Reason, "LifecycleChange", "%s -> %s: %s", orNone(t.From), t.To, t.Message)
		lifecycleTransitions.WithLabelValues(partner.Spec.Program, string(t.From), string(t.To), t.Reason).Inc()
	}
	// Side effects come after the decision is stored, so a problem with them
	// (reported as an error and retried) never holds back a tier decision.
	if err := ensureIntegrationAccess(ctx, r.Client, r.APIReader, &partner, in.Now); err != nil {
		return ctrl.Result{}, fmt.Errorf("provisioning the integration identity: %w", err)
	}
	if res.Promotion != nil && !partner.OffboardingEffective(in.Now) {
		if err := r.openPromotionRequest(ctx, &partner, in, requests, res.Promotion); err != nil {
			return ctrl.Result{}, fmt.Errorf("opening a promotion request: %w", err)
		}
	}
	return requeueAt(in.Now, res.NextDeadline), nil
}

// expiredPromotion names the TierPromotion request decision d was made with
// when the request has a GrantExpiry record ("" otherwise): its approval was
// used up (PromotionUsed) or lapsed, and a stored status that says Approved
// again was written back past the webhooks. A final phase is compared with no
// record by the request controller, and once the approval is used the
// partner's status no longer remembers it (status.grants drops it, and
// status.history the decision that applied it), so the record alone tells.
// The record is read uncached, for decisions made with a promotion approval
// only; while the records store cannot be read the decision waits (the error),
// since an approval's promotion may be delayed but not given twice.
func (r *PartnerReconciler) expiredPromotion(ctx context.Context, d *v1alpha1.TierDecision, requests []v1alpha1.ExceptionRequest) (string, error) {
	if d.Request == "" {
		return "", nil
	}
	i := slices.IndexFunc(requests, func(q v1alpha1.ExceptionRequest) bool {
		return q.Name == d.Request && q.Spec.Type == v1alpha1.RequestTierPromotion
	})
	if i < 0 {
		return "", nil
	}
	q := &requests[i]
	var stored recordsv1alpha1.DecisionRecord
	switch err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: q.Namespace, Name: record.OutcomeName(q, v1alpha1.PhaseExpired)}, &stored); {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("reading the expiry record of promotion request %s before promoting with it: %w", q.Name, err)
	}
	if stored.Spec.Request != q.Name {
		return "", nil
	}
	return q.Name, nil
}

// behindRecords returns the newest recorded tier decision the partner's
// cached, sealed head names (newest, for status.history to drop the decisions
// before it: tier.Present; nil without such a head), and the one that
// partner's stored history lacks (tier.StatusBehindRecords: the history was
// cut back past its records), for the engine to decide the tier again; nil
// when the history is not behind, or when that cannot be told.
//
// The cached head is read first (one per partner); a detection is then
// confirmed with uncached reads, the head first and then the partner: the
// head moves only after the decision it names is stored, so a partner read
// after it holds that decision unless the status was rolled back, and a cache
// whose head is newer than its partner demotes nobody. A cached partner older
// than the stored one is errStale (the cache catches up and the partner is
// evaluated again). A head that cannot be read, or that is not sealed by the
// controller, holds nothing: a tier decision never waits for it.
func (r *PartnerReconciler) behindRecords(ctx context.Context, partner *v1alpha1.Partner) (newest, behind *v1alpha1.RecordedDecision, err error) {
	var newestSeq int64
	if h := partner.Status.History; len(h) > 0 {
		newestSeq = h[len(h)-1].Sequence
	}
	name := client.ObjectKeyFromObject(partner)
	if seen, ok := r.sequences.Load(name); ok && seen.(seenSequence).uid == partner.UID && newestSeq < seen.(seenSequence).sequence {
		recorded, checked, err := r.behindStoredRecords(ctx, partner)
		if checked && recorded == nil && err == nil {
			r.sequences.Store(name, seenSequence{partner.UID, newestSeq}) // the records agree with the history
		}
		return nil, recorded, err
	}
	r.sequences.Store(name, seenSequence{partner.UID, newestSeq})
	key := types.NamespacedName{Namespace: partner.Namespace, Name: record.ChainName(partner.Name)}
	heads := r.Heads
	if heads == nil {
		heads = r.APIReader
	}
	log := ctrl.LoggerFrom(ctx)
	var rc v1alpha1.RecordChain
	if err := heads.Get(ctx, key, &rc); err != nil {
		if !apierrors.IsNotFound(err) {
			log.Error(err, "reading the partner's record chain head; its tier is decided without it", "recordChain", key)
			return nil, nil, nil
		}
		recorded, _, err := r.behindStoredRecords(ctx, partner)
		return nil, recorded, err
	}
	if !headSealed(r.Seals, &rc, partner.Name) {
		// Written past the webhooks (another partner's, or its seal broken):
		// it says nothing, and the stored records are read instead.
		recorded, _, err := r.behindStoredRecords(ctx, partner)
		return nil, recorded, err
	}
	newest = HeadTierChange(r.Seals, &rc, partner.Name).DeepCopy()
	if !tier.StatusBehindRecords(r.Seals, partner, newest) {
		return newest, nil, nil
	}
	if err := r.APIReader.Get(ctx, key, &rc); err != nil {
		log.Error(err, "confirming the partner's record chain head; its tier is decided without it", "recordChain", key)
		return newest, nil, nil
	}
	recorded := HeadTierChange(r.Seals, &rc, partner.Name)
	var live v1alpha1.Partner
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(partner), &live); err != nil {
		return newest, nil, client.IgnoreNotFound(err)
	}
	if !tier.StatusBehindRecords(r.Seals, &live, recorded) {
		if live.ResourceVersion != partner.ResourceVersion {
			return newest, nil, errStale
		}
		return newest, nil, nil
	}
	if live.ResourceVersion != partner.ResourceVersion {
		return newest, nil, errStale
	}
	return newest, recorded, nil
}

// behindStoredRecords is behindRecords for a partner without a head it can
// trust (none stored: deleted past the webhooks, or no record made yet; one
// that is not the controller's; or a history seen cut back, which an older
// sealed head would vouch for): the newest TierChange record stored for the
// partner is read instead, uncached, and then the partner, as with a head.
// checked says the records were read. A partner without history has nothing
// to cut and costs no read.
func (r *PartnerReconciler) behindStoredRecords(ctx context.Context, partner *v1alpha1.Partner) (recorded *v1alpha1.RecordedDecision, checked bool, err error) {
	if len(partner.Status.History) == 0 || !r.Seals.On() {
		return nil, true, nil
	}
	recorded, err = storedTierChange(ctx, r.APIReader, partner.Namespace, partner.Name)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "reading the partner's tier records (its record chain head is missing or not sealed, or its history was cut); its tier is decided without them")
		return nil, false, nil
	}
	if !tier.StatusBehindRecords(r.Seals, partner, recorded) {
		return nil, true, nil
	}
	var live v1alpha1.Partner
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(partner), &live); err != nil {
		return nil, false, client.IgnoreNotFound(err)
	}
	if live.ResourceVersion != partner.ResourceVersion {
		return nil, false, errStale
	}
	if !tier.StatusBehindRecords(r.Seals, &live, recorded) {
		return nil, true, nil
	}
	return recorded, true, nil
}

// dealMetrics computes the partner's Deals metrics from the won registrations
// that credit it (deal.Metrics) into in.Computed, and returns them for status
// with the next instant one changes by itself.
func (r *PartnerReconciler) dealMetrics(ctx context.Context, partner *v1alpha1.Partner, in *tier.Input) ([]v1alpha1.ComputedMetric, *time.Time, error) {
	if in.Program == nil || !slices.ContainsFunc(in.Program.Spec.Metrics, func(m v1alpha1.MetricDefinition) bool { return m.Source == v1alpha1.MetricSourceDeals }) {
		return nil, nil, nil
	}
	var won v1alpha1.DealRegistrationList
	id := partner.Namespace + "/" + partner.Name
	if err := r.List(ctx, &won, client.MatchingFields{indexCredited: id}); err != nil {
		return nil, nil, err
	}
	entries, status, next := deal.Metrics(in.Program, id, won.Items, in.Now, r.Seals)
	in.Computed = entries
	return status, next, nil
}

// currentPlan finds the partner's approved, current JointBusinessPlan
// (plan.Current: approved by one of its own requests) for tiers that require
// one, and returns when that answer next changes by itself.
// Without such a tier (most programs) nothing is read.
func (r *PartnerReconciler) currentPlan(ctx context.Context, partner *v1alpha1.Partner, in *tier.Input, requests []v1alpha1.ExceptionRequest) (*time.Time, error) {
	if !slices.ContainsFunc(in.Tiers, func(t v1alpha1.PartnerTier) bool { return t.Spec.RequiresBusinessPlan }) {
		return nil, nil
	}
	var plans v1alpha1.JointBusinessPlanList
	if err := r.List(ctx, &plans, client.InNamespace(partner.Namespace), client.MatchingFields{indexPartner: partner.Name}); err != nil {
		return nil, err
	}
	var next *time.Time
	in.CurrentPlan, next = plan.Current(plans.Items, requests, in.Now, r.Seals)
	return next, nil
}

// inputs reads what the evaluation needs: the program, its tiers and the
// partner's exception requests (the approved ones are its grants).
func (r *PartnerReconciler) inputs(ctx context.Context, partner *v1alpha1.Partner) (tier.Input, []v1alpha1.ExceptionRequest, error) {
	in := tier.Input{Now: r.Clock.Now().Truncate(time.Second), Partner: partner, Seals: r.Seals}
	var program v1alpha1.PartnerProgram
	switch err := r.Get(ctx, types.NamespacedName{Name: partner.Spec.Program}, &program); {
	case err == nil:
		in.Program = &program
	case !apierrors.IsNotFound(err):
		return in, nil, err
	}
	var tiers v1alpha1.PartnerTierList
	if err := r.List(ctx, &tiers, client.MatchingFields{indexProgram: partner.Spec.Program}); err != nil {
		return in, nil, err
	}
	in.Tiers = tiers.Items
	var requests v1alpha1.ExceptionRequestList
	if err := r.List(ctx, &requests, client.InNamespace(partner.Namespace), client.MatchingFields{indexPartner: partner.Name}); err != nil {
		return in, nil, err
	}
	mine := tier.RequestsOf(requests.Items, partner)
	in.Grants = tier.GrantsFrom(mine, r.Seals)
	in.Promotions = tier.PromotionsFrom(mine)
	return in, mine, nil
}

// earliest returns the earlier of two optional instants.
func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

// openPromotionRequest opens the TierPromotion request the engine asks for, under
// the name it chose (never an old request's), recording the qualifying evidence
// it was opened on and expiring after the program's maxExceptionDuration.
func (r *PartnerReconciler) openPromotionRequest(ctx context.Context, partner *v1alpha1.Partner, in tier.Input,
	requests []v1alpha1.ExceptionRequest, p *tier.PromotionToOpen) error {
	if slices.ContainsFunc(requests, func(q v1alpha1.ExceptionRequest) bool { return q.Name == p.Name }) {
		return nil // already open (or decided): nothing to send
	}
	var target *v1alpha1.PartnerTier
	for i := range in.Tiers {
		if in.Tiers[i].Name == p.Tier {
			target = &in.Tiers[i]
		}
	}
	if target == nil || in.Program == nil {
		return nil
	}
	expires := metav1.NewTime(in.Now.Add(v1alpha1.MaxExceptionDuration(in.Program)))
	req := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: partner.Namespace, Name: p.Name,
			Annotations: map[string]string{v1alpha1.AnnotationQualifyingEvidence: p.Evidence}},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type:          v1alpha1.RequestTierPromotion,
			Partner:       partner.Name,
			Justification: fmt.Sprintf("%s qualifies for tier %s on current, trusted evidence; the tier requires review before promotion.", partner.Name, p.Tier),
			Grant:         &v1alpha1.Grant{Tier: p.Tier},
			ReviewPath:    target.Spec.PromotionReviewPath,
			Expires:       &expires,
		},
	}
	// No owner reference: a decided request is a record that outlives its partner.
	if err := r.Create(ctx, req); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// requeueAt requeues at the next deadline, if there is one.
func requeueAt(now time.Time, next *time.Time) ctrl.Result {
	if next == nil {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: next.Sub(now) + deadlineMargin}
}

// SetupWithManager registers the reconciler, its indexes and its watches.
func (r *PartnerReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Partner{}, indexProgram, func(o client.Object) []string {
		return []string{o.(*v1alpha1.Partner).Spec.Program}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.PartnerTier{}, indexProgram, func(o client.Object) []string {
		return []string{o.(*v1alpha1.PartnerTier).Spec.Program}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.ExceptionRequest{}, indexPartner, func(o client.Object) []string {
		return []string{o.(*v1alpha1.ExceptionRequest).Spec.Partner}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.DealRegistration{}, indexCredited, func(o client.Object) []string {
		return deal.Credited(o.(*v1alpha1.DealRegistration))
	}); err != nil {
		return err
	}
	if err := indexPlans(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Partner{}, builder.WithPredicates(inputsChanged(r.Seals))).
		// A tier may require an approved, current business plan.
		Watches(&v1alpha1.JointBusinessPlan{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.JointBusinessPlan).Spec.Partner}}}
		})).
		// A won deal moves the Deals metrics of every partner it credits.
		Watches(&v1alpha1.DealRegistration{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			var out []reconcile.Request
			for _, id := range deal.Credited(o.(*v1alpha1.DealRegistration)) {
				ns, name, _ := strings.Cut(id, "/")
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
			}
			return out
		})).
		// The integration objects are watched to repair changes and deletions;
		// their creation is partnergov's own doing and needs no second look.
		Owns(&corev1.ServiceAccount{}, builder.WithPredicates(notCreated)).
		Owns(&rbacv1.Role{}, builder.WithPredicates(notCreated)).
		Owns(&rbacv1.RoleBinding{}, builder.WithPredicates(notCreated)).
		// Only a catalog or tier spec change concerns partners: the status the
		// program and tier controllers keep (scorecard, partner counts) changes
		// with every decision and would re-enqueue every partner each time.
		Watches(&v1alpha1.PartnerProgram{}, handler.EnqueueRequestsFromMapFunc(r.partnersOf(func(o client.Object) string { return o.GetName() })),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.PartnerTier{}, handler.EnqueueRequestsFromMapFunc(r.partnersOf(func(o client.Object) string {
			return o.(*v1alpha1.PartnerTier).Spec.Program
		})), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Listing{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.Listing).Spec.Partner}}}
		})).
		Watches(&v1alpha1.ExceptionRequest{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.ExceptionRequest).Spec.Partner}}}
		})).
		// A head that names a newer recorded tier decision: the partner's
		// history must hold it (the cache may have seen the partner first).
		Watches(&v1alpha1.RecordChain{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.RecordChain).Spec.Partner}}}
		}), builder.WithPredicates(tierChangeRecorded)).
		WithOptions(opts.controller()).
		Named("partner").
		Complete(r)
}

// inputsChanged passes the partner updates a decision may depend on: spec,
// evidence, metadata, deletion, and resyncs. It drops the update that the
// controller's own status write causes, which would only confirm the decision.
func inputsChanged(seals *seal.Keys) predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Partner), e.ObjectNew.(*v1alpha1.Partner)
		return o.ResourceVersion == n.ResourceVersion || o.Generation != n.Generation || unexplainedTier(seals, n) || !seals.LifecycleSealed(n) ||
			historyCut(o, n) ||
			!equality.Semantic.DeepEqual(o.Status.Evidence, n.Status.Evidence) ||
			!equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Annotations, n.Annotations) ||
			!equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) || !equality.Semantic.DeepEqual(o.Finalizers, n.Finalizers) ||
			!o.DeletionTimestamp.Equal(n.DeletionTimestamp)
	}}
}

// unexplainedTier reports whether p holds a tier no sealed decision gave it: a
// status written past the webhooks, which the controller recomputes at once.
// The controller's own writes are always explained.
func unexplainedTier(seals *seal.Keys, p *v1alpha1.Partner) bool {
	return !tier.TierExplained(seals, p.UID, p.Status.Tier, p.Status.History)
}

// historyCut reports whether n's history lost decisions o's held: the
// controller only appends (trimming keeps the length), so a shorter history or
// an older newest decision was written by someone else, maybe cut back past
// its records.
func historyCut(o, n *v1alpha1.Partner) bool {
	ho, hn := o.Status.History, n.Status.History
	return len(hn) < len(ho) || (len(ho) > 0 && hn[len(hn)-1].Sequence < ho[len(ho)-1].Sequence)
}

// tierChangeRecorded passes heads that name a newer recorded tier decision
// (and every head once, at start and on resyncs).
var tierChangeRecorded = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.RecordChain), e.ObjectNew.(*v1alpha1.RecordChain)
		return o.ResourceVersion == n.ResourceVersion || !equality.Semantic.DeepEqual(o.Spec.NewestTierChange, n.Spec.NewestTierChange)
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}

// notCreated drops create events.
var notCreated = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}

// partnersOf maps a program-level object to every partner of its program.
func (r *PartnerReconciler) partnersOf(program func(client.Object) string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var partners v1alpha1.PartnerList
		if err := r.List(ctx, &partners, client.MatchingFields{indexProgram: program(o)}, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(partners.Items))
		for _, p := range partners.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
		}
		return reqs
	}
}
