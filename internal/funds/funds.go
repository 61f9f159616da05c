// Package funds holds the program-wide rules of Funds requests: the program's
// budget per quarter and currency (PartnerProgram spec.funds.budgets) and the
// FundsLedger that counts the approvals against it. It is pure: the controller
// reads the ledger and the requests, and writes what these functions return.
//
// The ledger is what makes the budget hold when approvals race: every
// approval under a budget reserves its amount in the budget's one ledger
// (LedgerName) with the ledger's resourceVersion before the request's Approved
// status is written, so of two approvals computed against the same ledger the
// second write conflicts and is decided again. What the ledger counts is
// re-derived from the requests at each write (Count): an approval that counts
// (effects.ApprovedAt, sealed) in the ledger's quarter and currency counts
// whether or not the ledger lists it, a reservation of a request still under
// review counts (its approval may be being written), and any other reservation
// (its request denied, withdrawn, deleted, approved in another quarter, or
// Approved without sealed decisions that explain it) counts for nothing and is
// dropped. A crash between a reservation and its request's status write leaves
// a reservation the request's next evaluation either keeps (approved again, not
// counted twice) or releases.
package funds

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// maxName is the longest name an object may have.
const maxName = 253

// LedgerName is the name of the FundsLedger of program's budget for quarter
// ("2026-Q4") and currency ("USD"): "<program>-2026-q4-usd". The suffix has a
// fixed length, so no two budgets share a name. When that is longer than a
// name may be, it is "funds-" and the first 40 hex digits of the SHA-256 of
// "<program>/<quarter>/<currency>".
func LedgerName(program, quarter, currency string) string {
	name := program + "-" + strings.ToLower(quarter) + "-" + strings.ToLower(currency)
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(program + "/" + quarter + "/" + currency))
	return "funds-" + hex.EncodeToString(sum[:])[:40]
}

// BudgetOf is program's budget for quarter and currency, nil when it has none
// (no limit beyond the partners' caps).
func BudgetOf(program *v1alpha1.PartnerProgram, quarter, currency string) *v1alpha1.FundsBudget {
	if program == nil || program.Spec.Funds == nil {
		return nil
	}
	for _, b := range program.Spec.Funds.Budgets {
		if b.Quarter == quarter && b.Currency == currency {
			return &b
		}
	}
	return nil
}

// HasBudgets reports whether program has any budget in currency.
func HasBudgets(program *v1alpha1.PartnerProgram, currency string) bool {
	if program == nil || program.Spec.Funds == nil {
		return false
	}
	return slices.ContainsFunc(program.Spec.Funds.Budgets, func(b v1alpha1.FundsBudget) bool { return b.Currency == currency })
}

// ApprovalQuarter is the quarter an approval of q with status counts in: the
// quarter of its approval instant as effects.ApprovedAt derives it (the sealed
// decisions' time, as a partner's status.funds places the commitment), or of
// now when that cannot be told.
func ApprovalQuarter(q *v1alpha1.ExceptionRequest, status *v1alpha1.ExceptionRequestStatus, now time.Time, seals *seal.Keys) string {
	approved := q.DeepCopy()
	approved.Status = *status.DeepCopy()
	at := now
	if t := effects.ApprovedAt(approved, seals); t != nil {
		at = *t
	}
	name, _ := effects.Quarter(at)
	return name
}

// OfProgram keeps the Funds requests filed for one of partners (tier.SamePartner,
// in the partner's namespace): the requests a program's budgets count.
func OfProgram(partners []v1alpha1.Partner, requests []v1alpha1.ExceptionRequest) []v1alpha1.ExceptionRequest {
	byKey := make(map[types.NamespacedName]*v1alpha1.Partner, len(partners))
	for i := range partners {
		byKey[types.NamespacedName{Namespace: partners[i].Namespace, Name: partners[i].Name}] = &partners[i]
	}
	var out []v1alpha1.ExceptionRequest
	for _, q := range requests {
		p := byKey[types.NamespacedName{Namespace: q.Namespace, Name: q.Spec.Partner}]
		if q.Spec.Type == v1alpha1.RequestFunds && p != nil && tier.SamePartner(&q, p) {
			out = append(out, q)
		}
	}
	return out
}

// inFlight reports whether q may be having its approval written: it is not
// decided yet.
func inFlight(q *v1alpha1.ExceptionRequest) bool {
	return q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending
}

// Count re-derives what budget b counts from the ledger's stored reservations
// and requests (the Funds requests of the program's partners, OfProgram). It
// keeps a reservation whose request still exists (same UID), in b's currency,
// and is either under review (its approval may be being written) or Approved
// in b's quarter (an approval that counts: effects.ApprovedAt), and adds every
// approval that counts in b's quarter and currency that no reservation lists,
// reserved at its approval. Everything else stored is released. Both lists
// are sorted by namespace and request.
//
// An approval counts against the program it was approved under for as long as
// it counts: a stored reservation is looked up among moved too (Funds requests
// of partners that are no longer the program's: a partner moved to another
// program frees none of the budget its approvals took), and an approval that
// no reservation lists is not added when elsewhere (the request UIDs that the
// ledgers of other programs' budgets of b's quarter and currency list) holds
// it: it was approved under that other program, and is counted there.
func Count(b v1alpha1.FundsBudget, stored []v1alpha1.FundsReservation, requests, moved []v1alpha1.ExceptionRequest, elsewhere map[string]bool, seals *seal.Keys) (kept, released []v1alpha1.FundsReservation) {
	ofBudget := func(q *v1alpha1.ExceptionRequest) bool {
		return q.Spec.Type == v1alpha1.RequestFunds && q.Spec.Amount != nil && q.Spec.Amount.Currency == b.Currency
	}
	byUID := make(map[types.UID]*v1alpha1.ExceptionRequest, len(requests))
	for i := range requests {
		if q := &requests[i]; ofBudget(q) {
			byUID[q.UID] = q
		}
	}
	movedByUID := make(map[types.UID]*v1alpha1.ExceptionRequest, len(moved))
	for i := range moved {
		if q := &moved[i]; ofBudget(q) && byUID[q.UID] == nil {
			movedByUID[q.UID] = q
		}
	}
	// approvedIn is when q was approved, if its approval counts in b's quarter.
	approvedIn := func(q *v1alpha1.ExceptionRequest) *time.Time {
		at := effects.ApprovedAt(q, seals)
		if at == nil {
			return nil
		}
		if name, _ := effects.Quarter(*at); name != b.Quarter {
			return nil
		}
		return at
	}
	seen := map[types.UID]bool{}
	for _, r := range stored {
		q := byUID[types.UID(r.UID)]
		if q == nil {
			q = movedByUID[types.UID(r.UID)]
		}
		if q == nil || seen[q.UID] || (!inFlight(q) && approvedIn(q) == nil) {
			released = append(released, r)
			continue
		}
		seen[q.UID] = true
		kept = append(kept, reservationOf(q, r.ReservedAt.Time))
	}
	for _, q := range byUID {
		if seen[q.UID] || elsewhere[string(q.UID)] {
			continue
		}
		if at := approvedIn(q); at != nil {
			kept = append(kept, reservationOf(q, *at))
		}
	}
	sortReservations(kept)
	sortReservations(released)
	return kept, released
}

// reservationOf is q's reservation, made at.
func reservationOf(q *v1alpha1.ExceptionRequest, at time.Time) v1alpha1.FundsReservation {
	return v1alpha1.FundsReservation{
		Namespace: q.Namespace, Request: q.Name, UID: string(q.UID), Partner: q.Spec.Partner,
		Amount: q.Spec.Amount.Amount, ReservedAt: metav1.NewTime(at.UTC().Truncate(time.Second)),
	}
}

func sortReservations(rs []v1alpha1.FundsReservation) {
	slices.SortFunc(rs, func(a, b v1alpha1.FundsReservation) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Request, b.Request), cmp.Compare(a.UID, b.UID))
	})
}

// Committed is the sum of the reservations' amounts, leaving out the one of the
// request whose UID is exclude. An amount that does not parse (the schema
// refuses one) makes the sum unparseable too, so that the budget check fails closed.
func Committed(rs []v1alpha1.FundsReservation, exclude string) v1alpha1.Decimal {
	total := new(big.Rat)
	for _, r := range rs {
		if r.UID == exclude {
			continue
		}
		v, err := decimal.Parse(r.Amount)
		if err != nil {
			return v1alpha1.Decimal(fmt.Sprintf("unreadable amount %q of request %s/%s", r.Amount, r.Namespace, r.Request))
		}
		total.Add(total, v)
	}
	return decimal.Format(total)
}

// Check is what the evaluation of q's approval sees of budget b of program:
// what kept (Count) commits, q itself not counted, and whether the ledger has
// room for q's reservation.
func Check(program string, b v1alpha1.FundsBudget, kept []v1alpha1.FundsReservation, q *v1alpha1.ExceptionRequest) *review.Budget {
	holds := slices.ContainsFunc(kept, func(r v1alpha1.FundsReservation) bool { return r.UID == string(q.UID) })
	return &review.Budget{
		Program: program, Quarter: b.Quarter,
		Limit:     v1alpha1.Money{Amount: b.Amount, Currency: b.Currency},
		Committed: Committed(kept, string(q.UID)),
		Full:      !holds && len(kept) >= v1alpha1.MaxFundsReservations,
	}
}

// Reserve is kept with q's reservation, made at now unless q already held one
// (reserved before a crash or a conflict), which it keeps as it was made.
func Reserve(kept []v1alpha1.FundsReservation, q *v1alpha1.ExceptionRequest, now time.Time) []v1alpha1.FundsReservation {
	if i := slices.IndexFunc(kept, func(r v1alpha1.FundsReservation) bool { return r.UID == string(q.UID) }); i >= 0 {
		now = kept[i].ReservedAt.Time
	}
	out := slices.DeleteFunc(slices.Clone(kept), func(r v1alpha1.FundsReservation) bool { return r.UID == string(q.UID) })
	out = append(out, reservationOf(q, now))
	sortReservations(out)
	return out
}

// Release is stored without the reservation of the request whose UID is uid,
// and whether there was one.
func Release(stored []v1alpha1.FundsReservation, uid string) ([]v1alpha1.FundsReservation, bool) {
	out := slices.DeleteFunc(slices.Clone(stored), func(r v1alpha1.FundsReservation) bool { return r.UID == uid })
	return out, len(out) != len(stored)
}

// Holds reports whether ledger holds a reservation of the request whose UID is uid.
func Holds(ledger *v1alpha1.FundsLedger, uid string) bool {
	return slices.ContainsFunc(ledger.Spec.Reservations, func(r v1alpha1.FundsReservation) bool { return r.UID == uid })
}

// LedgerSpec is the ledger of program's budget b holding reservations.
func LedgerSpec(program string, b v1alpha1.FundsBudget, reservations []v1alpha1.FundsReservation) v1alpha1.FundsLedgerSpec {
	return v1alpha1.FundsLedgerSpec{
		Program: program, Quarter: b.Quarter, Currency: b.Currency, Budget: b.Amount,
		Committed: Committed(reservations, ""), Reservations: reservations,
	}
}

// Figures are the program's budgets, each with what the approvals that count
// (effects.ApprovedAt) of requests (the program's partners' Funds requests,
// OfProgram) commit in its quarter and currency, for the scorecard. Each
// approval is derived once, whatever the number of budgets.
func Figures(program *v1alpha1.PartnerProgram, requests []v1alpha1.ExceptionRequest, seals *seal.Keys) []v1alpha1.FundsBudgetFigure {
	if program == nil || program.Spec.Funds == nil || len(program.Spec.Funds.Budgets) == 0 {
		return nil
	}
	type key struct{ quarter, currency string }
	budgeted := map[key]bool{}
	for _, b := range program.Spec.Funds.Budgets {
		budgeted[key{b.Quarter, b.Currency}] = true
	}
	committed := map[key]*big.Rat{}
	for i := range requests {
		q := &requests[i]
		if q.Spec.Type != v1alpha1.RequestFunds || q.Spec.Amount == nil {
			continue
		}
		at := effects.ApprovedAt(q, seals)
		if at == nil {
			continue
		}
		quarter, _ := effects.Quarter(*at)
		k := key{quarter, q.Spec.Amount.Currency}
		v, err := decimal.Parse(q.Spec.Amount.Amount)
		if !budgeted[k] || err != nil {
			continue
		}
		if committed[k] == nil {
			committed[k] = new(big.Rat)
		}
		committed[k].Add(committed[k], v)
	}
	var out []v1alpha1.FundsBudgetFigure
	for _, b := range program.Spec.Funds.Budgets {
		limit, err := decimal.Parse(b.Amount)
		if err != nil {
			continue // the schema refuses amounts that do not parse
		}
		used := committed[key{b.Quarter, b.Currency}]
		if used == nil {
			used = new(big.Rat)
		}
		f := v1alpha1.FundsBudgetFigure{Quarter: b.Quarter, Currency: b.Currency, Budget: b.Amount, Committed: decimal.Format(used), Remaining: "0"}
		if left := new(big.Rat).Sub(limit, used); left.Sign() > 0 {
			f.Remaining = decimal.Format(left)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b v1alpha1.FundsBudgetFigure) int {
		return cmp.Or(cmp.Compare(a.Quarter, b.Quarter), cmp.Compare(a.Currency, b.Currency))
	})
	return out
}
