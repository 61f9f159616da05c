package plan

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/effects"
)

// Validate is what admission checks of a plan beyond its schema: every goal names
// an Outcome or Enablement metric of the partner's program catalog, investments
// and reviews name quarters of the period, and investments are in the currency of
// the partner's funds cap when it has one. partner and program are nil when they
// do not exist (the partner's absence is refused; a missing program cannot be
// checked and is left to the controller).
func Validate(p *v1alpha1.JointBusinessPlan, partner *v1alpha1.Partner, program *v1alpha1.PartnerProgram) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if partner == nil {
		return append(errs, field.NotFound(spec.Child("partner"), p.Spec.Partner))
	}
	if program != nil {
		catalog := map[string]v1alpha1.MetricDefinition{}
		var names []string
		for _, m := range program.Spec.Metrics {
			catalog[m.Name] = m
			if m.Class != v1alpha1.MetricClassRisk {
				names = append(names, m.Name)
			}
		}
		slices.Sort(names)
		for i, g := range p.Spec.Goals {
			path := spec.Child("goals").Index(i).Child("metric")
			def, found := catalog[g.Metric]
			switch {
			case !found:
				errs = append(errs, field.Invalid(path, g.Metric, fmt.Sprintf(
					"metric %q is not in the catalog of program %s; a goal must name one of its Outcome or Enablement metrics: %s",
					g.Metric, program.Name, strings.Join(names, ", "))))
			case def.Class == v1alpha1.MetricClassRisk:
				errs = append(errs, field.Invalid(path, g.Metric, fmt.Sprintf(
					"metric %q is a Risk metric: a goal is a value to reach, so it must name an Outcome or Enablement metric: %s",
					g.Metric, strings.Join(names, ", "))))
			}
		}
	}
	quarters, _ := Quarters(p.Spec.Period)
	within := fmt.Sprintf("a quarter of the plan's period (%s)", strings.Join(quarters, ", "))
	for i, inv := range p.Spec.Investments {
		if !slices.Contains(quarters, inv.Quarter) {
			errs = append(errs, field.Invalid(spec.Child("investments").Index(i).Child("quarter"), inv.Quarter, "must be "+within))
		}
	}
	for i, r := range p.Spec.Reviews {
		if !slices.Contains(quarters, r.Quarter) {
			errs = append(errs, field.Invalid(spec.Child("reviews").Index(i).Child("quarter"), r.Quarter, "must be "+within))
		}
	}
	if cap := effects.FundsCap(partner.Status.Entitlements); cap != nil {
		for i, inv := range p.Spec.Investments {
			if inv.Amount.Currency != cap.Currency {
				errs = append(errs, field.Invalid(spec.Child("investments").Index(i).Child("amount", "currency"), inv.Amount.Currency, fmt.Sprintf(
					"partner %s's funds cap is in %s; planned funds in %s could never be counted against it (amounts in different currencies are never added): plan in %s",
					partner.Name, cap.Currency, inv.Amount.Currency, cap.Currency)))
			}
		}
	}
	return errs
}
