package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// Overlap reports whether some request could match both selectors: they share a
// type and their amount ranges (greaterThan, atMost] intersect.
func Overlap(a, b v1alpha1.AppliesTo) bool {
	if !slices.ContainsFunc(a.Types, func(t v1alpha1.RequestType) bool { return slices.Contains(b.Types, t) }) {
		return false
	}
	lo := maxBound(a.AmountGreaterThan, b.AmountGreaterThan, 1)
	hi := maxBound(a.AmountAtMost, b.AmountAtMost, -1)
	if lo == nil || hi == nil {
		return true
	}
	c, err := decimal.Compare(*lo, *hi)
	return err != nil || c < 0
}

// maxBound returns the tighter of two optional bounds: the larger when sign is 1,
// the smaller when sign is -1; nil only when both are nil.
func maxBound(a, b *v1alpha1.Decimal, sign int) *v1alpha1.Decimal {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if c, err := decimal.Compare(*a, *b); err == nil && c*sign < 0 {
		return b
	}
	return a
}

// Readiness says whether path governs the requests its appliesTo selects on its
// own: a request that matches two paths and names neither cannot be resolved and
// escalates to the program owner. ok is false, with reason AmbiguousPath and the
// overlapping paths named, when another path's appliesTo overlaps.
func Readiness(path *v1alpha1.ReviewPath, paths []v1alpha1.ReviewPath) (ok bool, reason, message string) {
	var overlapping []string
	for i := range paths {
		if paths[i].Name != path.Name && Overlap(path.Spec.AppliesTo, paths[i].Spec.AppliesTo) {
			overlapping = append(overlapping, paths[i].Name)
		}
	}
	if len(overlapping) == 0 {
		return true, v1alpha1.ReasonReconciled, "the review path alone governs the requests its appliesTo selects"
	}
	slices.Sort(overlapping)
	return false, v1alpha1.ReasonAmbiguousPath, fmt.Sprintf(
		"appliesTo overlaps review path(s) %s: a request matching both that names no path in spec.reviewPath escalates to the program owner",
		strings.Join(overlapping, ", "))
}
