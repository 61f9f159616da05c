package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/plan"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// RequestReconciler moves ExceptionRequests along their review paths.
type RequestReconciler struct {
	client.Client
	// APIReader reads uncached: funds approvals count what is stored right now.
	APIReader client.Reader
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder

	// Seals verify review decisions; nil when sealing is off.
	Seals *seal.Keys
	// Chain creates the records, each in its partner's chain.
	Chain *Chain

	// fundsLocks serialises Funds evaluations per partner, so two requests
	// cannot both be approved against the same remaining cap.
	fundsLocks sync.Map // namespace/partner -> *sync.Mutex
}

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=exceptionrequests,verbs=get;list;watch
// +kubebuilder:rbac:groups=records.partnergov.io,resources=decisionrecords,verbs=get;list;create;delete
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=exceptionrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=governance.partnergov.io,resources=reviewpaths,verbs=get;list;watch

// Reconcile evaluates one request and writes its status when it changed.
func (r *RequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var request v1alpha1.ExceptionRequest
	if err := r.Get(ctx, req.NamespacedName, &request); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !request.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if request.Spec.Type == v1alpha1.RequestFunds {
		unlock := r.lockFunds(request.Namespace, request.Spec.Partner)
		defer unlock()
	}
	in, program, err := r.inputs(ctx, &request)
	if err != nil {
		return ctrl.Result{}, err
	}
	if behind := r.behindRecords(ctx, &request, program); behind != "" {
		// Confirmed on the stored request, read after its records: a cache
		// behind a decision another manager recorded (a failover) holds
		// nothing, since a held review rejects its deal registration.
		var live v1alpha1.ExceptionRequest
		if err := r.APIReader.Get(ctx, req.NamespacedName, &live); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		if live.ResourceVersion != request.ResourceVersion {
			return retryStale(ctrl.Result{}, errStale)
		}
		return r.hold(ctx, &request, behind, in.Now)
	}
	res := review.Evaluate(in)
	// A Funds approval under a program budget is reserved in the budget's
	// ledger before its Approved status is written (funds_budget.go).
	res, reservation, err := r.checkBudget(ctx, in, res, program)
	if err != nil {
		return ctrl.Result{}, err
	}
	if reservation != nil {
		if err := r.reserve(ctx, reservation, &request, metav1.NewTime(in.Now)); err != nil {
			return retryStale(ctrl.Result{}, err)
		}
	}
	meta.RemoveStatusCondition(&res.Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
	// A decision does not wait for the records store: when records cannot be
	// made (the records server or its database down), the markers stay where
	// they were, the decision is written all the same, and the error makes
	// the request come back until its records are made.
	recordErr := r.record(ctx, &request, &res.Status, program)
	if recordErr != nil {
		recordErr = fmt.Errorf("recording decisions: %w", recordErr)
	}
	written, err := applyStatus(ctx, r.Client, &request, "ExceptionRequest", &request.Status, &res.Status, "decisions")
	if err == nil {
		// Stored now: a final phase other than Approved holds no budget.
		if releaseErr := r.releaseBudget(ctx, &request, res.Status.Phase); releaseErr != nil {
			recordErr = errors.Join(recordErr, fmt.Errorf("releasing the request's funds reservation: %w", releaseErr))
		}
	}
	if err != nil || !written {
		if res, err := retryStale(requeueAt(in.Now, res.NextDeadline), err); err != nil || recordErr == nil {
			return res, err
		}
		return ctrl.Result{}, recordErr
	}
	for _, e := range res.Events {
		r.Recorder.Eventf(&request, nil, eventType(e.Warning), e.Reason, "Review", "%s", e.Message)
	}
	if n := unsealed(&request, r.Seals); n > 0 {
		r.Recorder.Eventf(&request, nil, corev1.EventTypeWarning, "UnsealedDecision", "Review",
			"%d decision(s) were written past the admission webhook (no valid seal) and do not count", n)
	}
	if slaBreached(request.Status, res.Status) {
		slaBreaches.WithLabelValues(string(request.Spec.Type), pathName(&request.Status)).Inc()
	}
	if recordErr != nil {
		return ctrl.Result{}, recordErr
	}
	return requeueAt(in.Now, res.NextDeadline), nil
}

// inputs gathers the paths, the program owner and, for Funds, the remaining cap.
func (r *RequestReconciler) inputs(ctx context.Context, request *v1alpha1.ExceptionRequest) (review.Input, *v1alpha1.PartnerProgram, error) {
	in := review.Input{Now: r.Clock.Now().Truncate(time.Second), Request: request, Seals: r.Seals}
	var paths v1alpha1.ReviewPathList
	if err := r.List(ctx, &paths); err != nil {
		return in, nil, err
	}
	in.Paths = paths.Items
	var partner v1alpha1.Partner
	err := r.Get(ctx, types.NamespacedName{Namespace: request.Namespace, Name: request.Spec.Partner}, &partner)
	if err != nil && !apierrors.IsNotFound(err) {
		return in, nil, err
	}
	if apierrors.IsNotFound(err) || !tier.SamePartner(request, &partner) {
		// The partner is gone (or replaced by a new one of the same name): a
		// pending request has no subject any more.
		in.Withdraw, in.WithdrawReason = fmt.Sprintf("partner %s, whom the request is for, no longer exists", request.Spec.Partner), v1alpha1.ReasonPartnerNotFound
		return in, nil, nil
	}
	var program *v1alpha1.PartnerProgram
	var p v1alpha1.PartnerProgram
	if err := r.Get(ctx, types.NamespacedName{Name: partner.Spec.Program}, &p); err == nil {
		in.ProgramOwner, program = p.Spec.Owner, &p
	} else if !apierrors.IsNotFound(err) {
		return in, nil, err
	}
	in.Partner = &partner
	in.PartnerSuspended = partner.Spec.Suspended
	in.PartnerOwner = partner.Spec.Owner
	if request.Spec.Type == v1alpha1.RequestTierPromotion && request.Spec.Grant != nil {
		if err := r.promotionInputs(ctx, request, &partner, &in); err != nil {
			return in, nil, err
		}
	}
	if (request.Spec.Type == v1alpha1.RequestDealRegistration || request.Spec.Type == v1alpha1.RequestDealConflict) && request.Spec.Grant != nil && request.Status.Phase != v1alpha1.PhaseApproved {
		// A registration that is gone, replaced or ended (withdrawn, rejected,
		// expired) has nothing left to decide. Only an ended one: a registration
		// that just took its customer opens the review before its status says so.
		var d v1alpha1.DealRegistration
		switch err := r.Get(ctx, types.NamespacedName{Namespace: request.Namespace, Name: request.Spec.Grant.Deal}, &d); {
		case apierrors.IsNotFound(err):
			in.Withdraw = fmt.Sprintf("deal registration %s no longer exists", request.Spec.Grant.Deal)
		case err != nil:
			return in, nil, err
		case deal.ReviewName(&d) != request.Name && deal.ExtensionName(&d) != request.Name && deal.ConflictName(&d) != request.Name:
			in.Withdraw = fmt.Sprintf("deal registration %s was replaced by a new one of the same name, which is reviewed through its own request", d.Name)
		case deal.Final(d.Status.Phase):
			in.Withdraw = fmt.Sprintf("deal registration %s is %s: there is nothing left to review", d.Name, d.Status.Phase)
		case request.Spec.Type == v1alpha1.RequestDealConflict && d.Status.Conflict != nil && d.Status.Conflict.Result == "Superseded":
			in.Withdraw = fmt.Sprintf("the conflict of deal registration %s is superseded: the customer's holder changed, or the registration took the customer in turn", d.Name)
		}
	}
	if request.Spec.Type == v1alpha1.RequestDealConflict && request.Spec.Grant != nil {
		// Both sides of a deal conflict are parties: the holder's relationship
		// owner now counts as the one spec.parties recorded at the opening.
		var d v1alpha1.DealRegistration
		switch err := r.Get(ctx, types.NamespacedName{Namespace: request.Namespace, Name: request.Spec.Grant.Deal}, &d); {
		case err == nil:
			if key, ok := deal.ConflictHolderPartner(&d); ok && deal.ConflictName(&d) == request.Name {
				var holder v1alpha1.Partner
				switch err := r.Get(ctx, key, &holder); {
				case err == nil:
					in.Request = review.WithParties(request, holder.Spec.Owner)
				case !apierrors.IsNotFound(err):
					return in, nil, err
				}
			}
		case !apierrors.IsNotFound(err):
			return in, nil, err
		}
	}
	if request.Spec.Type == v1alpha1.RequestBusinessPlan && request.Spec.Grant != nil && request.Status.Phase != v1alpha1.PhaseApproved {
		// A plan that is gone, or whose content changed since the request was
		// opened (a new request reviews the new content), has nothing left to decide.
		var jbp v1alpha1.JointBusinessPlan
		switch err := r.Get(ctx, types.NamespacedName{Namespace: request.Namespace, Name: request.Spec.Grant.BusinessPlan}, &jbp); {
		case apierrors.IsNotFound(err):
			in.Withdraw = fmt.Sprintf("joint business plan %s no longer exists", request.Spec.Grant.BusinessPlan)
		case err != nil:
			return in, nil, err
		case plan.RequestName(&jbp) != request.Name:
			in.Withdraw = fmt.Sprintf("joint business plan %s changed since the request was opened; request %s reviews its current content", jbp.Name, plan.RequestName(&jbp))
		default:
			// Nobody approves their own plan: its author and owners are
			// parties, also to a request opened before spec.parties existed.
			in.Request = review.WithParties(in.Request, plan.Parties(&jbp)...)
		}
	}
	if request.Spec.Type == v1alpha1.RequestFunds {
		remaining, err := r.fundsRemaining(ctx, &partner, request.Name, in.Now)
		if err != nil {
			return in, nil, err
		}
		in.FundsRemaining = remaining
	}
	return in, program, nil
}

// behindRecords says how request q's status is behind its records ("" when
// it is not, or when that cannot be told): rule 7, a sealed decision has one
// place in history. Stage decisions are recorded from the stored status,
// each under a name derived from its index, so a record of the next index
// (len(status.decisions)) means decisions were cut from the status (a final
// Deny, say, leaving it Pending), and a record at an unrecorded index that
// holds another decision, or the recorded decision with its seal broken (it no
// longer counts), means one was cut and another written in its place.
// A recorded outcome (record.OutcomeName, any final phase) of a request not
// final means it was settled and written back: it is held too, so a denial
// made after the reviewers' quorum is never turned into an approval later.
// Records are read uncached (one read per stored decision, one for the
// next index and one per final phase), for requests not yet final only; when the
// records store cannot be read the request is decided as it is (a decision
// never waits for the records store), and the error is logged.
func (r *RequestReconciler) behindRecords(ctx context.Context, q *v1alpha1.ExceptionRequest, program *v1alpha1.PartnerProgram) string {
	if record.Final(q.Status.Phase) {
		return ""
	}
	// Every index is read, from the first: status.recordedDecisions is the
	// controller's marker, not sealed, and raised past the webhooks over a
	// decision written in place of a cut one it would hide that index.
	n := len(q.Status.Decisions)
	from := 0
	programName := ""
	if program != nil {
		programName = program.Name
	}
	want := record.StageDecisions(q, programName, from, v1alpha1.RecordRetention(program), nil)
	for i := from; i <= n; i++ {
		var stored recordsv1alpha1.DecisionRecord
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: q.Namespace, Name: record.StageDecisionName(q, i)}, &stored)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			ctrl.LoggerFrom(ctx).Error(err, "reading the request's stage decision records; it is decided without checking them", "index", i)
			return ""
		case i == n:
			return fmt.Sprintf("status.decisions holds %d stage decision(s), but record %s holds decision %d (%s at stage %s by %s at %s): decisions were cut from the status past the admission webhooks. "+
				"The request decides nothing until its decisions are restored (kubectl partnergov history %s)",
				n, stored.Name, n, stored.Spec.Reason, stored.Spec.Stage, stored.Spec.Actor, stored.Spec.Time.UTC().Format(time.RFC3339), q.Spec.Partner)
		case !r.Seals.Verify(q.Status.Decisions[i].Seal, seal.Decision(string(q.UID), i, q.Status.Decisions[i])...):
			// Only sealed decisions are recorded: the decision at a recorded
			// index that no longer verifies in its place (its seal, or a field
			// the record does not hold such as its rationale, changed past the
			// webhooks) counts for nothing, as if it were cut.
			d := q.Status.Decisions[i]
			return fmt.Sprintf("status.decisions[%d] (%s at stage %s by %s), recorded as %s, no longer carries a valid seal: it was altered past the admission webhooks and counts for nothing. "+
				"The request decides nothing until its decisions are restored (kubectl partnergov history %s)",
				i, d.Decision, d.Stage, d.Reviewer, stored.Name, q.Spec.Partner)
		case !record.SameDecision(&stored, want[i-from]):
			d := q.Status.Decisions[i]
			return fmt.Sprintf("status.decisions[%d] (%s at stage %s by %s) is not the decision record %s holds (%s at stage %s by %s at %s): the recorded decision was cut from the status past the admission webhooks and another written in its place. "+
				"The request decides nothing until its decisions are restored (kubectl partnergov history %s)",
				i, d.Decision, d.Stage, d.Reviewer, stored.Name, stored.Spec.Reason, stored.Spec.Stage, stored.Spec.Actor, stored.Spec.Time.UTC().Format(time.RFC3339), q.Spec.Partner)
		}
	}
	// A request not final whose outcome is recorded was settled and written
	// back past the webhooks (its sealed outcome removed): decided again, a
	// denial made after the reviewers' quorum (OverCap, NotEntitled or
	// BudgetExhausted at approval) would become an approval without a new
	// review once the cap or budget has room. Settlements are final.
	recorded, err := outcomeRecords(ctx, r.APIReader, q)
	if err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "reading the request's outcome records; it is decided without checking them")
		return ""
	}
	if len(recorded) > 0 {
		o := recorded[0]
		return fmt.Sprintf("the request is %s, but its outcome %s (%s at %s) is recorded (record %s): it was settled, and written back past the admission webhooks. "+
			"A settled request is not decided again; it decides nothing (kubectl partnergov history %s)",
			q.Status.Phase, o.Phase, o.Reason, o.Time.UTC().Format(time.RFC3339), record.OutcomeName(q, o.Phase), q.Spec.Partner)
	}
	return ""
}

// hold keeps request q as it is stored, deciding nothing, with condition
// StatusBehindRecords saying why (and a Warning Event when it is set).
func (r *RequestReconciler) hold(ctx context.Context, q *v1alpha1.ExceptionRequest, why string, now time.Time) (ctrl.Result, error) {
	next := q.Status.DeepCopy()
	conditions.Set(&next.Conditions, q.Generation, metav1.NewTime(now), v1alpha1.ConditionStatusBehindRecords, metav1.ConditionTrue,
		v1alpha1.ReasonStatusBehindRecords, why)
	written, err := applyStatus(ctx, r.Client, q, "ExceptionRequest", &q.Status, next, "decisions")
	if err != nil {
		return retryStale(ctrl.Result{}, err)
	}
	if written {
		r.Recorder.Eventf(q, nil, corev1.EventTypeWarning, v1alpha1.ReasonStatusBehindRecords, "Review", "%s", why)
	}
	return ctrl.Result{}, nil
}

// record creates the DecisionRecords of what is stored and not yet recorded: the
// reviewers' decisions after status.recordedDecisions, and the stored final phase
// unless status.recordedPhase has it. Records come after the fact they record is
// stored and before the marker that says so, so a crash in between creates the
// same record again (same name: AlreadyExists), never a second one, and never one
// of a decision that did not happen. The markers go into the status written next,
// and only when every record was made: after an error they stay as they were
// (the records made meanwhile exist when they are made again).
func (r *RequestReconciler) record(ctx context.Context, q *v1alpha1.ExceptionRequest, next *v1alpha1.ExceptionRequestStatus, program *v1alpha1.PartnerProgram) error {
	retention := v1alpha1.RecordRetention(program)
	programName := ""
	if program != nil {
		programName = program.Name
	}
	uid := string(q.UID)
	sealed := func(i int, d v1alpha1.ReviewDecision) bool {
		return r.Seals.Verify(d.Seal, seal.Decision(uid, i, d)...)
	}
	recs := record.StageDecisions(q, programName, int(q.Status.RecordedDecisions), retention, sealed)
	// An Approved phase no sealed decision explains is not a decision: no record.
	outcome := !effects.Unexplained(q, r.Seals)
	if outcome && record.Final(q.Status.Phase) && q.Status.RecordedPhase != q.Status.Phase {
		if o := record.Outcome(q, programName, FieldOwner, retention); o != nil {
			recs = append(recs, o)
		}
	}
	var err error
	for _, rec := range recs {
		if err = r.Chain.Record(ctx, rec); err != nil {
			break
		}
	}
	if err == nil {
		next.RecordedDecisions = int32(len(q.Status.Decisions))
		if outcome && record.Final(q.Status.Phase) {
			next.RecordedPhase = q.Status.Phase
		}
	}
	// The retention in force at the decision is the request's for good.
	switch {
	case q.Status.RetainUntil != nil:
		next.RetainUntil = q.Status.RetainUntil
	case outcome:
		next.RetainUntil = record.RetainUntil(q, retention)
	}
	return err
}

// unsealed counts the decisions of q whose seal does not verify.
func unsealed(q *v1alpha1.ExceptionRequest, seals *seal.Keys) int {
	n := 0
	for i, d := range q.Status.Decisions {
		if !seals.Verify(d.Seal, seal.Decision(string(q.UID), i, d)...) {
			n++
		}
	}
	return n
}

// promotionInputs withdraws a pending TierPromotion whose partner no longer
// qualifies for its tier, and ends an approved one the partner has used up.
func (r *RequestReconciler) promotionInputs(ctx context.Context, request *v1alpha1.ExceptionRequest, partner *v1alpha1.Partner, in *review.Input) error {
	target := request.Spec.Grant.Tier
	switch request.Status.Phase {
	case v1alpha1.PhaseApproved:
		if at, spent := tier.PromotionSpent(partner.Status, request.Name); spent {
			in.Used = fmt.Sprintf("the promotion to tier %s was used, and partner %s dropped below that tier at %s; promoting it again needs a new review",
				target, partner.Name, at.UTC().Format(time.RFC3339))
		}
	case "", v1alpha1.PhasePending:
		var tiers v1alpha1.PartnerTierList
		if err := r.List(ctx, &tiers, client.MatchingFields{indexProgram: partner.Spec.Program}); err != nil {
			return err
		}
		if tier.QualifiesFor(partner.Status, tiers.Items, target) {
			return nil
		}
		// The cache may not have the status write that preceded the request's
		// creation yet: withdraw only on what the API server stores now.
		var live v1alpha1.Partner
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(partner), &live); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !tier.QualifiesFor(live.Status, tiers.Items, target) {
			in.Withdraw = fmt.Sprintf("partner %s no longer qualifies for tier %s (its evidence qualifies it for %q); the promotion request is withdrawn",
				partner.Name, target, live.Status.QualifiedTier)
		}
	}
	return nil
}

// fundsRemaining is the partner's cap this quarter minus every other approved
// Funds request, read from the API server (not the cache) under the partner's lock.
func (r *RequestReconciler) fundsRemaining(ctx context.Context, partner *v1alpha1.Partner, exclude string, now time.Time) (*v1alpha1.Money, error) {
	var requests v1alpha1.ExceptionRequestList
	// spec.partner and spec.type are selectable fields of the CRD: the server filters.
	if err := r.APIReader.List(ctx, &requests, client.InNamespace(partner.Namespace),
		client.MatchingFields{"spec.partner": partner.Name, "spec.type": string(v1alpha1.RequestFunds)}); err != nil {
		return nil, fmt.Errorf("listing the partner's funds requests: %w", err)
	}
	return effects.Remaining(effects.Funds(tier.RequestsOf(requests.Items, partner), effects.FundsCap(partner.Status.Entitlements), now, r.Seals), exclude), nil
}

func (r *RequestReconciler) lockFunds(namespace, partner string) (unlock func()) {
	m, _ := r.fundsLocks.LoadOrStore(namespace+"/"+partner, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// slaBreached reports whether this evaluation escalated or denied the request
// because a stage's SLA passed.
func slaBreached(before, after v1alpha1.ExceptionRequestStatus) bool {
	newly := func(typ, reason string) bool {
		a, b := meta.FindStatusCondition(after.Conditions, typ), meta.FindStatusCondition(before.Conditions, typ)
		return a != nil && a.Status == metav1.ConditionTrue && a.Reason == reason &&
			(b == nil || b.Status != metav1.ConditionTrue || b.Reason != reason || !b.LastTransitionTime.Equal(&a.LastTransitionTime))
	}
	return newly(v1alpha1.ConditionEscalated, v1alpha1.ReasonSLABreached) || newly(v1alpha1.ConditionDenied, v1alpha1.ReasonTimeoutDenied)
}

func pathName(s *v1alpha1.ExceptionRequestStatus) string {
	if s.ReviewPath == nil {
		return ""
	}
	return s.ReviewPath.Name
}

// SetupWithManager registers the reconciler: requests are reconciled on their own
// changes and when their partner's entitlements (the funds cap) change.
func (r *RequestReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ExceptionRequest{}).
		Watches(&v1alpha1.Partner{}, handler.EnqueueRequestsFromMapFunc(r.pendingRequestsOf)).
		// A plan that changes or goes withdraws its pending review.
		Watches(&v1alpha1.JointBusinessPlan{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			var list v1alpha1.ExceptionRequestList
			if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPartner: o.(*v1alpha1.JointBusinessPlan).Spec.Partner}); err != nil {
				return nil
			}
			var out []reconcile.Request
			for i := range list.Items {
				if q := &list.Items[i]; q.Spec.Type == v1alpha1.RequestBusinessPlan && q.Spec.Grant != nil && q.Spec.Grant.BusinessPlan == o.GetName() {
					out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(q)})
				}
			}
			return out
		})).
		// A registration that ends withdraws its pending review, extension and
		// conflict requests (a superseded conflict too).
		Watches(&v1alpha1.DealRegistration{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			d := o.(*v1alpha1.DealRegistration)
			var out []reconcile.Request
			if d.Status.Request != "" {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Status.Request}})
			}
			if d.Status.Extension != nil {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Status.Extension.Request}})
			}
			if d.Status.Conflict != nil {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Status.Conflict.Request}})
			}
			return out
		})).
		WithOptions(opts.recorder()).
		Named("exceptionrequest").
		Complete(r)
}

// pendingRequestsOf maps a partner to its requests that are still under review,
// and to its approved promotions, which end once the partner has used them up.
func (r *RequestReconciler) pendingRequestsOf(ctx context.Context, o client.Object) []reconcile.Request {
	var requests v1alpha1.ExceptionRequestList
	if err := r.List(ctx, &requests, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexPartner: o.GetName()}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, q := range requests.Items {
		if q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending ||
			(q.Status.Phase == v1alpha1.PhaseApproved && q.Spec.Type == v1alpha1.RequestTierPromotion) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&q)})
		}
	}
	return out
}
