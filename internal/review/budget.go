package review

import (
	"fmt"
	"math/big"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// Budget is the program's funds budget (PartnerProgram spec.funds.budgets) of
// the quarter and currency a Funds request's approval is counted in, with what
// the program has committed against it, the request itself not counted. The
// controller computes it (internal/funds) from the budget's FundsLedger and the
// program's approvals.
type Budget struct {
	// Program names the program.
	Program string
	// Quarter is the calendar quarter the approval counts in, such as "2026-Q4".
	Quarter string
	// Limit is the budget: its amount and currency.
	Limit v1alpha1.Money
	// Committed is what the program's other Funds requests commit against the
	// budget: approved in the quarter, or reserved while their approval is written.
	Committed v1alpha1.Decimal
	// Full: the budget's ledger already holds v1alpha1.MaxFundsReservations
	// reservations, so no other approval can be counted against it.
	Full bool
}

// overBudget reports whether approving this Funds request would take its
// program's committed funds above the budget of the quarter it is approved in
// (in.Budget; nil: no budget, nothing to check), and why. No stage's
// allowOverCap changes this: the budget is the program's limit, not a
// partner's. It fails closed: an amount or a figure that does not parse, or a
// currency other than the budget's, counts as over the budget.
func (e *evaluator) overBudget() (string, bool) {
	b := e.in.Budget
	if b == nil || e.req.Spec.Type != v1alpha1.RequestFunds {
		return "", false
	}
	name := fmt.Sprintf("program %s's funds budget for %s of %s", b.Program, b.Quarter, formatMoney(&b.Limit))
	amount := e.req.Spec.Amount
	if amount == nil {
		return "the Funds request has no amount to count against " + name, true
	}
	if amount.Currency != b.Limit.Currency {
		return fmt.Sprintf("the amount %s cannot be counted against %s: the currencies differ", formatMoney(amount), name), true
	}
	if b.Full {
		return fmt.Sprintf("%s already counts %d approvals, the most one quarter's ledger holds; %s cannot be counted against it",
			name, v1alpha1.MaxFundsReservations, formatMoney(amount)), true
	}
	limit, err1 := decimal.Parse(b.Limit.Amount)
	committed, err2 := decimal.Parse(b.Committed)
	want, err3 := decimal.Parse(amount.Amount)
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Sprintf("the amount %s cannot be compared with %s (%s committed)", formatMoney(amount), name, b.Committed), true
	}
	total := new(big.Rat).Add(committed, want)
	if total.Cmp(limit) <= 0 {
		return "", false
	}
	left := new(big.Rat).Sub(limit, committed)
	if left.Sign() < 0 {
		left.SetInt64(0)
	}
	return fmt.Sprintf("approving %s would commit %s %s against %s: %s %s is already committed, %s %s is left; the budget is the program's limit, whatever allowOverCap says",
		formatMoney(amount), decimal.Format(total), b.Limit.Currency, name,
		b.Committed, b.Limit.Currency, decimal.Format(left), b.Limit.Currency), true
}
