package review

import (
	"fmt"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// overCap reports whether a Funds request for amount exceeds the remaining cap,
// and why. It fails closed: a missing amount, a missing entitlement (remaining
// nil), a different currency or a number that does not parse all count as over cap.
func overCap(amount, remaining *v1alpha1.Money) (bool, string) {
	switch {
	case amount == nil:
		return true, "the Funds request has no amount"
	case remaining == nil:
		return true, fmt.Sprintf("the partner has no Funds entitlement, so %s cannot be granted", formatMoney(amount))
	case amount.Currency != remaining.Currency:
		return true, fmt.Sprintf("the amount %s cannot be counted against the remaining quarterly cap of %s: the currencies differ",
			formatMoney(amount), formatMoney(remaining))
	}
	c, err := decimal.Compare(amount.Amount, remaining.Amount)
	if err != nil {
		return true, fmt.Sprintf("the amount %s cannot be compared with the remaining quarterly cap of %s: %v",
			formatMoney(amount), formatMoney(remaining), err)
	}
	if c > 0 {
		return true, fmt.Sprintf("the amount %s exceeds the partner's remaining quarterly cap of %s",
			formatMoney(amount), formatMoney(remaining))
	}
	return false, ""
}

// allowsOverCap reports whether some stage of the path may approve above the cap.
func allowsOverCap(stages []v1alpha1.ReviewStage) bool {
	for _, s := range stages {
		if s.AllowOverCap {
			return true
		}
	}
	return false
}
