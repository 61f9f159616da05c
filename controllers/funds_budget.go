package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/funds"
	"github.com/partnergov/partnergov/internal/review"
)

// +kubebuilder:rbac:groups=governance.partnergov.io,resources=fundsledgers,verbs=get;list;watch;create;update

// budgetReservation is the write that reserves an approved Funds request's
// amount in its program budget's ledger.
type budgetReservation struct {
	name    string
	program string
	budget  v1alpha1.FundsBudget
	// ledger is the ledger as read from the API server (its resourceVersion
	// makes the write conditional), nil when there is none yet.
	ledger *v1alpha1.FundsLedger
	// kept is what the ledger counts (funds.Count), without the request's reservation.
	kept []v1alpha1.FundsReservation
}

// checkBudget evaluates a Funds request that res newly approves again, against
// the budget of its program for the quarter and currency the approval counts
// in (funds.ApprovalQuarter), read from the budget's ledger on the API server
// and the program's approvals. It returns that evaluation, and the reservation
// to write before its Approved status when it still approves; res itself, and
// no reservation, when no budget applies.
func (r *RequestReconciler) checkBudget(ctx context.Context, in review.Input, res review.Result, program *v1alpha1.PartnerProgram) (review.Result, *budgetReservation, error) {
	q := in.Request
	if q.Spec.Type != v1alpha1.RequestFunds || q.Spec.Amount == nil || program == nil ||
		q.Status.Phase == v1alpha1.PhaseApproved || res.Status.Phase != v1alpha1.PhaseApproved {
		return res, nil, nil
	}
	quarter := funds.ApprovalQuarter(q, &res.Status, in.Now, r.Seals)
	b := funds.BudgetOf(program, quarter, q.Spec.Amount.Currency)
	if b == nil {
		return res, nil, nil
	}
	u := &budgetReservation{name: funds.LedgerName(program.Name, quarter, b.Currency), program: program.Name, budget: *b}
	var ledger v1alpha1.FundsLedger
	var stored []v1alpha1.FundsReservation
	switch err := r.APIReader.Get(ctx, types.NamespacedName{Name: u.name}, &ledger); {
	case err == nil:
		u.ledger, stored = &ledger, ledger.Spec.Reservations
	case !apierrors.IsNotFound(err):
		return res, nil, err
	}
	requests, moved, err := r.programFunds(ctx, program.Name)
	if err != nil {
		return res, nil, err
	}
	elsewhere, err := r.reservedElsewhere(ctx, program.Name, b)
	if err != nil {
		return res, nil, err
	}
	u.kept, _ = funds.Count(*b, stored, requests, moved, elsewhere, r.Seals)
	in.Budget = funds.Check(program.Name, *b, u.kept, q)
	res = review.Evaluate(in)
	if res.Status.Phase != v1alpha1.PhaseApproved {
		return res, nil, nil
	}
	return res, u, nil
}

// programFunds are the Funds requests of the program's partners, from the
// cache: the approvals a budget counts whether or not its ledger lists them
// (the ledger, read uncached, holds the approvals being written); and every
// other Funds request (moved: among them those of partners moved to another
// program, whose reservations in this program's ledgers keep counting).
func (r *RequestReconciler) programFunds(ctx context.Context, program string) (requests, moved []v1alpha1.ExceptionRequest, err error) {
	var partners v1alpha1.PartnerList
	if err := r.List(ctx, &partners, client.MatchingFields{indexProgram: program}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, err
	}
	var all v1alpha1.ExceptionRequestList
	if err := r.List(ctx, &all, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, err
	}
	requests = funds.OfProgram(partners.Items, all.Items)
	for _, q := range all.Items {
		if q.Spec.Type == v1alpha1.RequestFunds {
			moved = append(moved, q)
		}
	}
	return requests, moved, nil
}

// reservedElsewhere is the set of request UIDs the ledgers of other programs'
// budgets of b's quarter and currency list (from the cache): approvals made
// under another program, by partners moved since, which count there.
func (r *RequestReconciler) reservedElsewhere(ctx context.Context, program string, b *v1alpha1.FundsBudget) (map[string]bool, error) {
	var ledgers v1alpha1.FundsLedgerList
	if err := r.List(ctx, &ledgers); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, l := range ledgers.Items {
		if l.Spec.Program == program || l.Spec.Quarter != b.Quarter || l.Spec.Currency != b.Currency {
			continue
		}
		for _, res := range l.Spec.Reservations {
			out[res.UID] = true
		}
	}
	return out, nil
}

// reserve writes q's reservation into its budget's ledger, conditional on the
// ledger's resourceVersion read by checkBudget: when another approval wrote
// the ledger since (or created it), the write fails with errStale and q is
// decided again against that approval's reservation.
func (r *RequestReconciler) reserve(ctx context.Context, u *budgetReservation, q *v1alpha1.ExceptionRequest, now metav1.Time) error {
	spec := funds.LedgerSpec(u.program, u.budget, funds.Reserve(u.kept, q, now.Time))
	if u.ledger == nil {
		err := r.Create(ctx, &v1alpha1.FundsLedger{ObjectMeta: metav1.ObjectMeta{Name: u.name}, Spec: spec}, client.FieldOwner(FieldOwner))
		if apierrors.IsAlreadyExists(err) {
			return errStale
		}
		return err
	}
	if equality.Semantic.DeepEqual(u.ledger.Spec, spec) {
		// Reserved before (a crash or a conflict after the reservation): the
		// decision was made against this very ledger.
		return nil
	}
	ledger := u.ledger.DeepCopy()
	ledger.Spec = spec
	err := r.Update(ctx, ledger, client.FieldOwner(FieldOwner))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return errStale
	}
	return err
}

// releaseBudget drops the reservations of q, a Funds request whose stored
// phase is final and not Approved (denied, withdrawn or expired: a final phase
// never changes again), from every ledger that holds one: its approval was
// reserved but never written, or is over. Ledgers are found in the cache (a
// ledger it does not show yet is written again in full, without the
// reservation, by the next approval against it) and written uncached.
func (r *RequestReconciler) releaseBudget(ctx context.Context, q *v1alpha1.ExceptionRequest, phase v1alpha1.RequestPhase) error {
	if q.Spec.Type != v1alpha1.RequestFunds || !finalNotApproved(phase) {
		return nil
	}
	var ledgers v1alpha1.FundsLedgerList
	if err := r.List(ctx, &ledgers); err != nil {
		return err
	}
	uid := string(q.UID)
	for _, l := range ledgers.Items {
		if !funds.Holds(&l, uid) {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var live v1alpha1.FundsLedger
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(&l), &live); err != nil {
				return err
			}
			left, held := funds.Release(live.Spec.Reservations, uid)
			if !held {
				return nil
			}
			live.Spec.Reservations = left
			live.Spec.Committed = funds.Committed(left, "")
			return r.Update(ctx, &live, client.FieldOwner(FieldOwner))
		})
		if client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

func finalNotApproved(p v1alpha1.RequestPhase) bool {
	return p == v1alpha1.PhaseDenied || p == v1alpha1.PhaseWithdrawn || p == v1alpha1.PhaseExpired
}
