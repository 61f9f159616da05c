// Package effects derives what approved ExceptionRequests give a partner beyond
// tiers and entitlements: funds committed against the quarter's cap and recorded
// readiness claims. It is pure, and computed from the approved requests
// themselves, so applying an approval twice cannot commit funds twice.
package effects

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
)

// Quarter returns the calendar quarter containing t (UTC), such as "2026-Q4",
// and the instant the next quarter starts.
func Quarter(t time.Time) (name string, end time.Time) {
	t = t.UTC()
	q := (int(t.Month())-1)/3 + 1
	start := time.Date(t.Year(), time.Month((q-1)*3+1), 1, 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("%d-Q%d", t.Year(), q), start.AddDate(0, 3, 0)
}

// Approved reports whether r's approval counts: the one place every effect of
// an approval (a grant, a funds commitment, a readiness claim, a deal's review,
// extension or conflict, a business plan's approval) reads a request's phase.
// With sealing on (seals not nil) an Approved phase counts only when r's sealed
// stage decisions meet its review path (review.Outcome); one they do not
// explain was written past the webhooks and gives nothing.
func Approved(r *v1alpha1.ExceptionRequest, seals *seal.Keys) bool {
	ok, _ := review.Outcome(r, seals)
	return ok
}

// Unexplained reports whether r is Approved but its approval does not count
// (Approved): with sealing on, no sealed decisions explain the phase. Such a
// request gives nothing and is treated as still undecided.
func Unexplained(r *v1alpha1.ExceptionRequest, seals *seal.Keys) bool {
	return r != nil && r.Status.Phase == v1alpha1.PhaseApproved && !Approved(r, seals)
}

// ApprovedAt is when a request was approved; nil when its approval does not
// count (Approved). With sealing on it is re-derived too: when the last sealed
// approval that met the path was made (review.OutcomeAt), so a rewritten
// Approved condition moves no commitment to another quarter and no deal's
// protection; otherwise (and for decisions without a time) the Approved
// condition's transition time.
func ApprovedAt(r *v1alpha1.ExceptionRequest, seals *seal.Keys) *time.Time {
	ok, at, _ := review.OutcomeAt(r, seals)
	if !ok {
		return nil
	}
	if at != nil {
		return at
	}
	for _, c := range r.Status.Conditions {
		if c.Type == v1alpha1.ConditionApproved && c.Status == metav1.ConditionTrue {
			t := c.LastTransitionTime.Time
			return &t
		}
	}
	return nil
}

// FundsCap is the Funds cap among the partner's effective entitlements, if any.
func FundsCap(entitlements []v1alpha1.EffectiveEntitlement) *v1alpha1.Money {
	for _, e := range entitlements {
		if e.Name == v1alpha1.EntitlementFunds && e.Cap != nil {
			c := *e.Cap
			return &c
		}
	}
	return nil
}

// Funds is the partner's funds position in the quarter containing now: every
// Funds request approved in that quarter, summed. Amounts are only ever added in
// one currency: the cap's (or, with no cap, the first commitment's by request
// name); a commitment in another currency is listed but not added (admission and
// review refuse such requests, so only a cap whose currency changed mid-quarter
// leaves one). It returns nil when there is neither a cap nor a commitment.
// Only approvals that count (Approved, under seals) commit funds.
func Funds(requests []v1alpha1.ExceptionRequest, cap *v1alpha1.Money, now time.Time, seals *seal.Keys) *v1alpha1.FundsStatus {
	quarter, _ := Quarter(now)
	var commitments []v1alpha1.FundsCommitment
	for i := range requests {
		r := &requests[i]
		at := ApprovedAt(r, seals)
		if r.Spec.Type != v1alpha1.RequestFunds || r.Spec.Amount == nil || at == nil {
			continue
		}
		if q, _ := Quarter(*at); q != quarter {
			continue
		}
		if _, err := decimal.Parse(r.Spec.Amount.Amount); err != nil {
			continue
		}
		commitments = append(commitments, v1alpha1.FundsCommitment{
			Request: r.Name, Amount: *r.Spec.Amount, CommittedAt: metav1.NewTime(*at),
		})
	}
	if cap == nil && len(commitments) == 0 {
		return nil
	}
	slices.SortFunc(commitments, func(a, b v1alpha1.FundsCommitment) int { return cmp.Compare(a.Request, b.Request) })
	currency := ""
	if cap != nil {
		currency = cap.Currency
	} else {
		currency = commitments[0].Amount.Currency
	}
	f := &v1alpha1.FundsStatus{Quarter: quarter, Cap: cap, Committed: decimal.Format(sumIn(commitments, currency, ""))}
	f.Commitments, f.FoldedCommitments = fold(commitments)
	return f
}

// MaxCommitments is the API's bound on FundsStatus.Commitments.
const MaxCommitments = 256

// fold keeps the newest MaxCommitments commitments (sorted by request) and counts
// the rest, so the controller's write is never refused for a busy quarter.
func fold(commitments []v1alpha1.FundsCommitment) ([]v1alpha1.FundsCommitment, int32) {
	n := len(commitments)
	if n <= MaxCommitments {
		return commitments, 0
	}
	slices.SortStableFunc(commitments, func(a, b v1alpha1.FundsCommitment) int {
		return cmp.Or(b.CommittedAt.Compare(a.CommittedAt.Time), cmp.Compare(a.Request, b.Request))
	})
	kept := slices.Clone(commitments[:MaxCommitments])
	slices.SortFunc(kept, func(a, b v1alpha1.FundsCommitment) int { return cmp.Compare(a.Request, b.Request) })
	return kept, int32(n - MaxCommitments)
}

// sumIn adds the commitments in currency, leaving out the request named exclude.
func sumIn(commitments []v1alpha1.FundsCommitment, currency, exclude string) *big.Rat {
	total := new(big.Rat)
	for _, c := range commitments {
		if c.Request == exclude || c.Amount.Currency != currency {
			continue
		}
		if amount, err := decimal.Parse(c.Amount.Amount); err == nil {
			total.Add(total, amount)
		}
	}
	return total
}

// Remaining is the cap left in the funds position, not counting the commitment
// of the request named exclude; nil when there is no cap.
func Remaining(f *v1alpha1.FundsStatus, exclude string) *v1alpha1.Money {
	if f == nil || f.Cap == nil {
		return nil
	}
	left, err := decimal.Parse(f.Cap.Amount)
	if err != nil {
		return nil
	}
	// committed counts every commitment in the cap's currency, folded ones too;
	// the excluded request's own amount is given back.
	committed, err := decimal.Parse(f.Committed)
	if err != nil {
		return nil
	}
	left.Sub(left, committed)
	for _, c := range f.Commitments {
		if c.Request == exclude {
			left.Add(left, sumIn([]v1alpha1.FundsCommitment{c}, f.Cap.Currency, ""))
		}
	}
	if left.Sign() < 0 {
		left.SetInt64(0)
	}
	return &v1alpha1.Money{Amount: decimal.Format(left), Currency: f.Cap.Currency}
}

// Claims are the partner's approved (Approved, under seals), unexpired readiness
// claims, by request name.
func Claims(requests []v1alpha1.ExceptionRequest, now time.Time, seals *seal.Keys) []v1alpha1.ApprovedClaim {
	var out []v1alpha1.ApprovedClaim
	for i := range requests {
		r := &requests[i]
		if r.Spec.Type != v1alpha1.RequestReadinessClaim || r.Spec.Grant == nil || r.Spec.Grant.Claim == nil || ApprovedAt(r, seals) == nil {
			continue
		}
		if r.Spec.Expires != nil && !now.Before(r.Spec.Expires.Time) {
			continue
		}
		out = append(out, v1alpha1.ApprovedClaim{
			Kind: r.Spec.Grant.Claim.Kind, Product: r.Spec.Grant.Claim.Product, Request: r.Name, Expires: r.Spec.Expires.DeepCopy(),
		})
	}
	return boundClaims(out)
}

// MaxClaims is the API's bound on PartnerStatus.ReadinessClaims.
const MaxClaims = 64

// boundClaims keeps one claim per kind and product, the one in force longest
// (no expiry first, then the latest, then the first request), and at most
// MaxClaims of them, sorted by request.
func boundClaims(claims []v1alpha1.ApprovedClaim) []v1alpha1.ApprovedClaim {
	longest := func(a, b v1alpha1.ApprovedClaim) int {
		switch {
		case a.Expires == nil && b.Expires != nil:
			return -1
		case a.Expires != nil && b.Expires == nil:
			return 1
		case a.Expires != nil && !a.Expires.Equal(b.Expires):
			return b.Expires.Compare(a.Expires.Time)
		}
		return cmp.Compare(a.Request, b.Request)
	}
	slices.SortStableFunc(claims, longest)
	var out []v1alpha1.ApprovedClaim
	seen := map[[2]string]bool{}
	for _, c := range claims {
		key := [2]string{string(c.Kind), c.Product}
		if seen[key] || len(out) == MaxClaims {
			continue
		}
		seen[key] = true
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b v1alpha1.ApprovedClaim) int { return cmp.Compare(a.Request, b.Request) })
	return out
}

// NextChange is the earliest instant after now at which Funds or Claims could
// change on their own: the next quarter, or a claim's expiry.
func NextChange(funds *v1alpha1.FundsStatus, claims []v1alpha1.ApprovedClaim, now time.Time) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	if funds != nil {
		_, end := Quarter(now)
		consider(end)
	}
	for _, c := range claims {
		if c.Expires != nil {
			consider(c.Expires.Time)
		}
	}
	return next
}
