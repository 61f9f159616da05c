package plugin

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// tierNeeds words a tier explanation for the page; nil stays nil.
func tierNeeds(te *TierExplanation, catalog map[string]v1alpha1.MetricDefinition, now time.Time) *TierNeeds {
	if te == nil {
		return nil
	}
	n := &TierNeeds{Name: te.Tier.Name, Rank: te.Tier.Spec.Rank, Problem: te.Problem, ReviewPath: te.Tier.Spec.PromotionReviewPath}
	for _, r := range te.Requirements {
		def, inCatalog := catalog[r.Metric]
		rn := RequirementNeed{Metric: r.Metric, Requirement: requirementText(r.Operator, r.Threshold), Value: none, Met: r.Met}
		if r.Evidence != nil {
			rn.Value = withUnit(r.Evidence.Value, def.Unit)
		}
		if inCatalog && def.Source == v1alpha1.MetricSourceDeals {
			rn.Evidence = r.State // computed from the partner's own won deals
		} else {
			rn.Evidence = evidenceStanding(r.Evidence, catalog, now).Detail
			if r.Evidence == nil {
				rn.Evidence = "no evidence reported"
			}
		}
		switch {
		case r.Met:
			rn.Progress = 100
		case r.Evidence == nil:
			rn.Missing = "a value of " + r.Metric + " (none reported)"
		case !r.Counts:
			rn.Missing = "a current value of " + r.Metric
		default:
			rn.Progress, rn.Missing = shortfall(r.Operator, r.Evidence.Value, r.Threshold)
		}
		if !rn.Met {
			n.Unmet++
		}
		n.Requirements = append(n.Requirements, rn)
	}
	return n
}

// shortfall says how far value is from meeting "op threshold", which it does
// not meet, and how much of it is reached (0 to 99).
func shortfall(op v1alpha1.ComparisonOperator, value, threshold v1alpha1.Decimal) (int, string) {
	v, errV := decimal.Parse(value)
	t, errT := decimal.Parse(threshold)
	if errV != nil || errT != nil {
		return 0, "must be " + requirementText(op, threshold)
	}
	progress := 0
	// reached is a/b in percent, in [0, 99] since the requirement is not met.
	reached := func(a, b *big.Rat) int {
		if a.Sign() <= 0 || b.Sign() <= 0 {
			return 0
		}
		f, _ := new(big.Rat).Quo(a, b).Float64()
		return min(max(int(f*100), 0), 99)
	}
	var missing string
	switch op {
	case v1alpha1.OperatorGreaterThanOrEqual:
		progress = reached(v, t)
		missing = string(decimal.Format(new(big.Rat).Sub(t, v))) + " more"
	case v1alpha1.OperatorGreaterThan:
		progress = reached(v, t)
		missing = fmt.Sprintf("more than %s more", decimal.Format(new(big.Rat).Sub(t, v)))
	case v1alpha1.OperatorLessThanOrEqual:
		progress = reached(t, v)
		missing = fmt.Sprintf("%s less", decimal.Format(new(big.Rat).Sub(v, t)))
	case v1alpha1.OperatorLessThan:
		progress = reached(t, v)
		missing = fmt.Sprintf("more than %s less", decimal.Format(new(big.Rat).Sub(v, t)))
	default:
		missing = "exactly " + string(threshold)
	}
	return progress, missing
}

// evidenceStanding says whether entry e counts as the tier engine counts it
// (explain's evidenceState), without the identity that reported it.
func evidenceStanding(e *v1alpha1.EvidenceEntry, catalog map[string]v1alpha1.MetricDefinition, now time.Time) EvidenceStanding {
	if e == nil {
		return EvidenceStanding{Value: none, Observed: none, State: stateNotCounted, Detail: "no evidence reported"}
	}
	verdict, def, staleAt := judgeEvidence(e, catalog, now)
	observed := e.ObservedAt
	s := EvidenceStanding{Metric: e.Metric, Value: withUnit(e.Value, def.Unit), Observed: timestamp(&observed, now), State: stateNotCounted}
	switch {
	case verdict == evidenceNotInCatalog:
		s.Detail = "not counted: the metric is not in the program's catalog"
	case verdict == evidenceUntrusted:
		s.Detail = "not counted: untrusted (the reporter is no longer trusted by the catalog)"
	case verdict == evidenceNotANumber:
		s.Detail = "not counted: the value is not a number"
	case verdict == evidenceStale:
		s.State, s.Detail = stateStale, fmt.Sprintf("stale since %s; freshness window %s",
			timestamp(ptrTime(staleAt), now), windowText(def.FreshnessWindow.Duration))
	case staleAt.Sub(now) <= goingStaleWithin:
		s.State, s.Detail = stateGoingStale, "fresh until "+timestamp(ptrTime(staleAt), now)
	default:
		s.State, s.Detail = stateFresh, "fresh until "+timestamp(ptrTime(staleAt), now)
	}
	return s
}

// requestAsks says what a request asks for.
func requestAsks(spec v1alpha1.ExceptionRequestSpec) string {
	var parts []string
	if a := spec.Amount; a != nil {
		parts = append(parts, string(a.Amount)+" "+a.Currency)
	}
	if g := spec.Grant; g != nil {
		if g.Tier != "" {
			parts = append(parts, "tier "+g.Tier)
		}
		if len(g.Entitlements) > 0 {
			names := make([]string, len(g.Entitlements))
			for i, n := range g.Entitlements {
				names[i] = string(n)
			}
			parts = append(parts, "entitlements "+strings.Join(names, ", "))
		}
		if g.Listing != "" {
			parts = append(parts, "listing "+g.Listing)
		}
		if c := g.Claim; c != nil {
			parts = append(parts, fmt.Sprintf("%s claim for %s", c.Kind, c.Product))
		}
		if g.Deal != "" {
			parts = append(parts, "deal "+g.Deal)
		}
	}
	if spec.Expires != nil {
		parts = append(parts, "until "+spec.Expires.UTC().Format(time.RFC3339))
	}
	return orNone(strings.Join(parts, "; "))
}

// withUnit prints a value with its unit, unless the unit is empty.
func withUnit(v v1alpha1.Decimal, unit string) string {
	if unit == "" {
		return string(v)
	}
	return string(v) + " " + unit
}

// windowText prints a freshness window in days when it is whole days.
func windowText(d time.Duration) string {
	if day := 24 * time.Hour; d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// ptrTime wraps t for timestamp.
func ptrTime(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}
