package review

import (
	"fmt"
	"sort"
	"strings"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// Resolve picks the path for a request. When spec.reviewPath names a path, that
// path is used if its appliesTo governs the request; otherwise the one path whose appliesTo matches the request
// is used. On success it returns a copy of the path and reason PathResolved; on
// failure nil and PathNotFound, PathNotApplicable, NoMatchingPath or AmbiguousPath. The message says
// why, for people.
func Resolve(req *v1alpha1.ExceptionRequest, paths []v1alpha1.ReviewPath) (*v1alpha1.ReviewPath, string, string) {
	if name := req.Spec.ReviewPath; name != "" {
		for i := range paths {
			if paths[i].Name != name {
				continue
			}
			if !Applies(&paths[i], req) {
				// Naming a path must not let a requester pick a lighter review.
				return nil, v1alpha1.ReasonPathNotApplicable,
					fmt.Sprintf("the request names review path %q, whose appliesTo does not govern %s", name, describeRequest(req))
			}
			return paths[i].DeepCopy(), v1alpha1.ReasonPathResolved,
				fmt.Sprintf("the request names review path %q", name)
		}
		return nil, v1alpha1.ReasonPathNotFound,
			fmt.Sprintf("the request names review path %q, which does not exist", name)
	}

	var matches []*v1alpha1.ReviewPath
	for i := range paths {
		if Applies(&paths[i], req) {
			matches = append(matches, &paths[i])
		}
	}
	what := describeRequest(req)
	switch len(matches) {
	case 1:
		return matches[0].DeepCopy(), v1alpha1.ReasonPathResolved,
			fmt.Sprintf("review path %q governs %s", matches[0].Name, what)
	case 0:
		return nil, v1alpha1.ReasonNoMatchingPath, fmt.Sprintf("no review path governs %s", what)
	default:
		names := make([]string, len(matches))
		for i, p := range matches {
			names[i] = p.Name
		}
		sort.Strings(names)
		return nil, v1alpha1.ReasonAmbiguousPath,
			fmt.Sprintf("%d review paths govern %s: %s; a request can name one in spec.reviewPath",
				len(names), what, strings.Join(names, ", "))
	}
}

// Applies reports whether path's appliesTo selects req: the type is listed and the
// amount lies within the bounds (amountGreaterThan < amount <= amountAtMost,
// compared exactly). A request without an amount matches only a path without
// bounds; a bound that does not parse matches nothing. Bounds carry no currency,
// so only the number is compared.
func Applies(path *v1alpha1.ReviewPath, req *v1alpha1.ExceptionRequest) bool {
	a := path.Spec.AppliesTo
	if !containsType(a.Types, req.Spec.Type) {
		return false
	}
	if req.Spec.Amount == nil {
		return a.AmountGreaterThan == nil && a.AmountAtMost == nil
	}
	amount := req.Spec.Amount.Amount
	if a.AmountGreaterThan != nil {
		if c, err := decimal.Compare(amount, *a.AmountGreaterThan); err != nil || c <= 0 {
			return false
		}
	}
	if a.AmountAtMost != nil {
		if c, err := decimal.Compare(amount, *a.AmountAtMost); err != nil || c > 0 {
			return false
		}
	}
	return true
}

func containsType(types []v1alpha1.RequestType, t v1alpha1.RequestType) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// describeRequest names the request's type and amount, such as
// "Funds requests of 5000 USD".
func describeRequest(req *v1alpha1.ExceptionRequest) string {
	if req.Spec.Amount == nil {
		return fmt.Sprintf("%s requests without an amount", req.Spec.Type)
	}
	return fmt.Sprintf("%s requests of %s", req.Spec.Type, formatMoney(req.Spec.Amount))
}

func formatMoney(m *v1alpha1.Money) string {
	return fmt.Sprintf("%s %s", m.Amount, m.Currency)
}

// resolvedCopy is the part of a path a request keeps in status.reviewPath.
func resolvedCopy(p *v1alpha1.ReviewPath) *v1alpha1.ResolvedReviewPath {
	stages := make([]v1alpha1.ReviewStage, len(p.Spec.Stages))
	copy(stages, p.Spec.Stages)
	return &v1alpha1.ResolvedReviewPath{
		Name:                          p.Name,
		Generation:                    p.Generation,
		Stages:                        stages,
		EscalationOwner:               p.Spec.EscalationOwner,
		EscalationSLA:                 p.Spec.EscalationSLA.DeepCopy(),
		AllowSameReviewerAcrossStages: p.Spec.AllowSameReviewerAcrossStages,
	}
}
