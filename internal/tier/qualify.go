package tier

import (
	"fmt"
	"slices"
	"strings"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// ValidateTier reports whether tier t can ever be earned under program p: p must
// exist, every requirement must name a metric of p's catalog, and a tier above rank 0
// must require at least one Outcome metric with a threshold that a value of zero
// does not meet (enablement alone, or a zero outcome, never earns a tier).
// On failure reason is v1alpha1.ReasonProgramNotFound, ReasonUnknownMetric or
// ReasonNoOutcomeRequirement; on success it is v1alpha1.ReasonCatalogResolved. The message
// explains the result for people.
func ValidateTier(t v1alpha1.PartnerTier, p *v1alpha1.PartnerProgram) (reason, message string, ok bool) {
	if p == nil {
		return v1alpha1.ReasonProgramNotFound,
			fmt.Sprintf("program %q does not exist", t.Spec.Program), false
	}
	return validate(t, p.Name, catalogOf(p))
}

// validate is ValidateTier against an already indexed catalog.
func validate(t v1alpha1.PartnerTier, program string, catalog map[string]v1alpha1.MetricDefinition) (reason, message string, ok bool) {
	var unknown []string
	hasOutcome, hasZeroOutcome := false, false
	for _, req := range t.Spec.Requirements {
		def, found := catalog[req.Metric]
		if !found {
			if !slices.Contains(unknown, req.Metric) {
				unknown = append(unknown, req.Metric)
			}
			continue
		}
		if def.Class == v1alpha1.MetricClassOutcome {
			// An Outcome requirement a value of zero meets (">= 0", "<= x") asks
			// for no outcome at all.
			if Satisfies(req.Operator, "0", req.Threshold) {
				hasZeroOutcome = true
			} else {
				hasOutcome = true
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return v1alpha1.ReasonUnknownMetric,
			fmt.Sprintf("requirements name metrics that are not in the catalog of program %q: %s",
				program, strings.Join(unknown, ", ")), false
	}
	if t.Spec.Rank > 0 && !hasOutcome && hasZeroOutcome {
		return v1alpha1.ReasonNoOutcomeRequirement,
			fmt.Sprintf("tier %q has rank %d but every Outcome requirement is met by a value of zero (such as GreaterThanOrEqual 0 or LessThanOrEqual alone); tiers above rank 0 need an Outcome threshold that excludes zero, such as GreaterThan 0 or GreaterThanOrEqual 100000",
				t.Name, t.Spec.Rank), false
	}
	if t.Spec.Rank > 0 && !hasOutcome {
		return v1alpha1.ReasonNoOutcomeRequirement,
			fmt.Sprintf("tier %q has rank %d but requires no Outcome metric; tiers above rank 0 are earned by outcomes, never by enablement alone",
				t.Name, t.Spec.Rank), false
	}
	return v1alpha1.ReasonCatalogResolved,
		fmt.Sprintf("every requirement names a metric of the catalog of program %q", program), true
}

// Satisfies reports whether value meets a requirement's threshold under op, compared
// exactly as rational numbers. An unknown operator or a value or threshold that is not
// a decimal number never satisfies.
func Satisfies(op v1alpha1.ComparisonOperator, value, threshold v1alpha1.Decimal) bool {
	c, err := decimal.Compare(value, threshold)
	if err != nil {
		return false
	}
	switch op {
	case v1alpha1.OperatorGreaterThanOrEqual:
		return c >= 0
	case v1alpha1.OperatorGreaterThan:
		return c > 0
	case v1alpha1.OperatorLessThanOrEqual:
		return c <= 0
	case v1alpha1.OperatorLessThan:
		return c < 0
	case v1alpha1.OperatorEqual:
		return c == 0
	default:
		return false
	}
}

// catalogOf indexes a program's metric catalog by metric name.
func catalogOf(p *v1alpha1.PartnerProgram) map[string]v1alpha1.MetricDefinition {
	catalog := make(map[string]v1alpha1.MetricDefinition, len(p.Spec.Metrics))
	for _, m := range p.Spec.Metrics {
		catalog[m.Name] = m
	}
	return catalog
}

// ladder is a program's tiers ordered from the highest rank down (ties by name),
// with which of them the partner's counted evidence meets, and which it
// qualifies for: those it meets, less those that require a business plan the
// partner does not have.
type ladder struct {
	tiers     []*v1alpha1.PartnerTier
	byName    map[string]*v1alpha1.PartnerTier
	meets     map[string]bool
	qualifies map[string]bool
}

// newLadder orders tiers and works out which ones are both eligible (ValidateTier)
// and met by the counted evidence, and which of those the partner qualifies for
// (hasPlan: it has an approved, current business plan). It never modifies tiers.
func newLadder(tiers []v1alpha1.PartnerTier, program string, catalog map[string]v1alpha1.MetricDefinition, ev evidence, hasPlan bool) ladder {
	l := ladder{
		tiers:     make([]*v1alpha1.PartnerTier, 0, len(tiers)),
		byName:    make(map[string]*v1alpha1.PartnerTier, len(tiers)),
		meets:     make(map[string]bool, len(tiers)),
		qualifies: make(map[string]bool, len(tiers)),
	}
	for i := range tiers {
		t := &tiers[i]
		if _, dup := l.byName[t.Name]; dup || t.Name == "" {
			continue
		}
		l.tiers = append(l.tiers, t)
		l.byName[t.Name] = t
		_, _, eligible := validate(*t, program, catalog)
		// A retired tier is being drained: nobody new qualifies, and holders lose
		// it after its grace period.
		l.meets[t.Name] = eligible && !t.Spec.Retired && meetsAll(t.Spec.Requirements, ev)
		// A tier that requires a joint business plan qualifies nobody without an
		// approved, current one: the partner qualifies no higher than below it.
		l.qualifies[t.Name] = l.meets[t.Name] && (hasPlan || !t.Spec.RequiresBusinessPlan)
	}
	slices.SortFunc(l.tiers, func(a, b *v1alpha1.PartnerTier) int {
		if a.Spec.Rank != b.Spec.Rank {
			return int(b.Spec.Rank - a.Spec.Rank)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return l
}

// meetsAll reports whether counted evidence meets every requirement; missing
// evidence does not meet one. No requirements are met by everyone.
func meetsAll(reqs []v1alpha1.TierRequirement, ev evidence) bool {
	for _, req := range reqs {
		entry, found := ev.counted[req.Metric]
		if !found || !Satisfies(req.Operator, entry.Value, req.Threshold) {
			return false
		}
	}
	return true
}

// waitingForPlan is the highest tier ranked above minRank that the evidence meets
// but that the partner does not qualify for because it requires a business plan
// the partner does not have; nil when there is none.
func (l ladder) waitingForPlan(minRank int32) *v1alpha1.PartnerTier {
	for _, t := range l.tiers {
		if rank(t) <= minRank {
			return nil
		}
		if l.meets[t.Name] && !l.qualifies[t.Name] {
			return t
		}
	}
	return nil
}

// highestQualified is the highest-rank tier the partner qualifies for, or nil.
func (l ladder) highestQualified() *v1alpha1.PartnerTier {
	for _, t := range l.tiers {
		if l.qualifies[t.Name] {
			return t
		}
	}
	return nil
}

// rank is a tier's rank, or -1 for no tier, so that any tier outranks none.
func rank(t *v1alpha1.PartnerTier) int32 {
	if t == nil {
		return -1
	}
	return t.Spec.Rank
}

// nameOf is a tier's name, or "" for no tier.
func nameOf(t *v1alpha1.PartnerTier) string {
	if t == nil {
		return ""
	}
	return t.Name
}

// needsReview reports whether a promotion to t waits for an approved TierPromotion.
func needsReview(t *v1alpha1.PartnerTier) bool {
	return t.Spec.PromotionReviewPath != ""
}

// ProgramReadiness says whether program p can decide tiers: it has at least one
// tier, and every one of its tiers fits its catalog (ValidateTier). On failure
// reason is v1alpha1.ReasonNoTiers or ReasonTiersNotResolved, and the message
// names what is wrong.
func ProgramReadiness(p *v1alpha1.PartnerProgram, tiers []v1alpha1.PartnerTier) (ok bool, reason, message string) {
	catalog := catalogOf(p)
	n := 0
	var broken []string
	for _, t := range tiers {
		if t.Spec.Program != p.Name {
			continue
		}
		n++
		if _, msg, fits := validate(t, p.Name, catalog); !fits {
			broken = append(broken, fmt.Sprintf("%s (%s)", t.Name, msg))
		}
	}
	switch {
	case n == 0:
		return false, v1alpha1.ReasonNoTiers, fmt.Sprintf("program %q has no PartnerTier: its partners can hold no tier", p.Name)
	case len(broken) > 0:
		slices.Sort(broken)
		return false, v1alpha1.ReasonTiersNotResolved, fmt.Sprintf("%d of the program's %d tiers do not fit its catalog, so nobody can earn them: %s",
			len(broken), n, strings.Join(broken, "; "))
	}
	return true, v1alpha1.ReasonReconciled, fmt.Sprintf("the metric catalog is in force for the program's %d tiers", n)
}
