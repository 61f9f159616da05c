// Package scorecard summarises a partner program from evidence rather than
// activity: the figures of PartnerProgram.status.scorecard. It is pure: it reads no
// cluster state and changes none of its input.
package scorecard

import (
	"cmp"
	"math/big"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/tier"
)

// Window is how far back slaBreaches and decisionsLast30Days look.
const Window = 30 * 24 * time.Hour

// Untiered is the name partnersByTier counts partners without a tier under.
const Untiered = "None"

// Compute returns the scorecard of program at now. Only objects of the program
// count: partners whose spec.program is the program's name, and the requests and
// listings of those partners (same namespace, spec.partner naming the partner).
// tiers are the PartnerTiers; those of other programs are ignored. UpdatedAt is left
// nil: the caller stamps it when it stores a changed scorecard.
//
// The figures:
//   - partnersByTier counts partners by status.tier, untiered ones as "None";
//     partnersByType counts them by spec.type. Only non-zero counts are listed.
//   - outcomeBackedPercent is, among partners holding a tier of rank > 0
//     (status.tierRank), the share, in percent rounded down, whose tier rests on
//     current Outcome evidence: at least one requirement of the held tier names an
//     Outcome metric of the catalog for which the partner has a current entry
//     (fresh: now < observedAt + freshnessWindow; still trusted: tier.StillTrusted;
//     a decimal value) that meets the requirement (tier.Satisfies). A tier held
//     through a TierException without such evidence is not outcome-backed. Nil when
//     no partner holds a tier of rank > 0.
//   - outcomeTotals lists every Outcome metric of the catalog: the aggregate of the
//     partners' current values under the metric's aggregation (AggregationOf: the
//     exact sum, the exact mean rounded to 9 fractional digits only when written, the
//     maximum, or the value with the newest observedAt, the largest of those observed
//     at that instant), the aggregation used, and how many partners have a current value.
//     A score is averaged, never summed. The total is "0" when no partner has one.
//   - openRequestsByType counts requests in phase Pending or without a phase yet.
//   - slaBreaches counts, once each, the requests that either are open with a
//     status.stageDeadline at or before now (the SLA passed and the request
//     controller has not acted yet), or whose Escalated condition is True with reason
//     SLABreached or whose Denied condition is True with reason TimeoutDenied, with
//     that condition's lastTransitionTime in (now-30d, now]. An escalated request that
//     was decided afterwards no longer carries the SLABreached reason and is not counted.
//   - decisionsLast30Days counts status.decisions whose time is in (now-30d, now].
//   - listingsPublished counts listings whose Published condition is True,
//     listingsUnpublished all others; listingsLowAdoption counts LowAdoption=True.
//
// Lists are sorted by name (outcomeTotals by metric), so equal input gives an equal
// scorecard.
func Compute(program *v1alpha1.PartnerProgram, tiers []v1alpha1.PartnerTier, partners []v1alpha1.Partner,
	requests []v1alpha1.ExceptionRequest, listings []v1alpha1.Listing, now time.Time) v1alpha1.Scorecard {
	var sc v1alpha1.Scorecard
	if program == nil {
		return sc
	}
	catalog := make(map[string]v1alpha1.MetricDefinition, len(program.Spec.Metrics))
	for _, m := range program.Spec.Metrics {
		catalog[m.Name] = m
	}
	tierByName := map[string]*v1alpha1.PartnerTier{}
	for i := range tiers {
		if tiers[i].Spec.Program == program.Name {
			tierByName[tiers[i].Name] = &tiers[i]
		}
	}

	type key struct{ namespace, name string }
	members := map[key]bool{}
	byTier, byType := map[string]int32{}, map[string]int32{}
	var tiered, backed int32
	totals := map[string]*aggregate{}
	for i := range partners {
		p := &partners[i]
		if p.Spec.Program != program.Name {
			continue
		}
		members[key{p.Namespace, p.Name}] = true
		name := p.Status.Tier
		if name == "" {
			name = Untiered
		}
		byTier[name]++
		byType[string(p.Spec.Type)]++

		current := CurrentEvidence(catalog, p.Status.Evidence, now)
		for metric, e := range current {
			if catalog[metric].Class != v1alpha1.MetricClassOutcome {
				continue
			}
			v, _ := decimal.Parse(e.Value) // CurrentEvidence keeps only values that parse
			if totals[metric] == nil {
				totals[metric] = &aggregate{}
			}
			totals[metric].add(v, e.ObservedAt.Time)
		}
		if p.Status.TierRank != nil && *p.Status.TierRank > 0 {
			tiered++
			if OutcomeBacked(catalog, tierByName[p.Status.Tier], current) {
				backed++
			}
		}
	}
	sc.PartnersByTier = counts(byTier)
	sc.PartnersByType = counts(byType)
	if tiered > 0 {
		pct := backed * 100 / tiered
		sc.OutcomeBackedPercent = &pct
	}
	for _, m := range program.Spec.Metrics {
		if m.Class != v1alpha1.MetricClassOutcome {
			continue
		}
		how := AggregationOf(m)
		total := v1alpha1.MetricTotal{Metric: m.Name, Unit: m.Unit, Total: "0", Aggregation: how}
		if a := totals[m.Name]; a != nil {
			total.Total, total.Partners = decimal.Format(a.value(how)), a.n
		}
		sc.OutcomeTotals = append(sc.OutcomeTotals, total)
	}
	slices.SortFunc(sc.OutcomeTotals, func(a, b v1alpha1.MetricTotal) int { return cmp.Compare(a.Metric, b.Metric) })

	since := now.Add(-Window)
	open := map[string]int32{}
	for i := range requests {
		q := &requests[i]
		if !members[key{q.Namespace, q.Spec.Partner}] {
			continue
		}
		pending := q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending
		if pending {
			open[string(q.Spec.Type)]++
		}
		if SLABreached(q, now) {
			sc.SLABreaches++
		}
		for _, d := range q.Status.Decisions {
			if d.Time != nil && within(d.Time.Time, since, now) {
				sc.DecisionsLast30Days++
			}
		}
	}
	sc.OpenRequestsByType = counts(open)

	for i := range listings {
		l := &listings[i]
		if !members[key{l.Namespace, l.Spec.Partner}] {
			continue
		}
		if meta.IsStatusConditionTrue(l.Status.Conditions, v1alpha1.ConditionPublished) {
			sc.ListingsPublished++
		} else {
			sc.ListingsUnpublished++
		}
		if meta.IsStatusConditionTrue(l.Status.Conditions, v1alpha1.ConditionLowAdoption) {
			sc.ListingsLowAdoption++
		}
	}
	return sc
}

// aggregate accumulates the current values of one metric over the partners.
type aggregate struct {
	n      int32
	sum    big.Rat
	max    *big.Rat
	latest *big.Rat
	at     time.Time // observedAt of latest
}

// add counts one partner's current value v, observed at.
func (a *aggregate) add(v *big.Rat, at time.Time) {
	a.n++
	a.sum.Add(&a.sum, v)
	if a.max == nil || v.Cmp(a.max) > 0 {
		a.max = v
	}
	// The newest observation wins; of values observed at the same instant, the
	// largest, so the result does not depend on the order of the partners.
	if a.latest == nil || at.After(a.at) || (at.Equal(a.at) && v.Cmp(a.latest) > 0) {
		a.latest, a.at = v, at
	}
}

// value is the aggregate under how; a.n is at least 1.
func (a *aggregate) value(how v1alpha1.MetricAggregation) *big.Rat {
	switch how {
	case v1alpha1.MetricAggregationAverage:
		return new(big.Rat).Quo(&a.sum, new(big.Rat).SetInt64(int64(a.n)))
	case v1alpha1.MetricAggregationMax:
		return a.max
	case v1alpha1.MetricAggregationLatest:
		return a.latest
	}
	return &a.sum
}

// CurrentEvidence returns, by metric, the entries that count at now: the metric is
// in the catalog, the rule that admitted the entry is still trusted
// (tier.StillTrusted), the value is a decimal number and now is before observedAt
// plus the metric's freshness window. Of several entries of a metric, the most
// recently observed counts, as in the tier engine.
func CurrentEvidence(catalog map[string]v1alpha1.MetricDefinition, entries []v1alpha1.EvidenceEntry, now time.Time) map[string]v1alpha1.EvidenceEntry {
	out := make(map[string]v1alpha1.EvidenceEntry, len(entries))
	for _, e := range entries {
		def, found := catalog[e.Metric]
		if !found || !tier.StillTrusted(def, e.TrustedVia) || !now.Before(e.ObservedAt.Add(def.FreshnessWindow.Duration)) {
			continue
		}
		if _, err := decimal.Parse(e.Value); err != nil {
			continue
		}
		if prev, dup := out[e.Metric]; dup && !e.ObservedAt.After(prev.ObservedAt.Time) {
			continue
		}
		out[e.Metric] = e
	}
	return out
}

// OutcomeBacked reports whether held, a partner's tier, rests on current Outcome
// evidence: some requirement of held names an Outcome metric of the catalog whose
// current entry meets it. A nil tier is never outcome-backed.
func OutcomeBacked(catalog map[string]v1alpha1.MetricDefinition, held *v1alpha1.PartnerTier, current map[string]v1alpha1.EvidenceEntry) bool {
	if held == nil {
		return false
	}
	for _, req := range held.Spec.Requirements {
		if catalog[req.Metric].Class != v1alpha1.MetricClassOutcome {
			continue
		}
		if e, found := current[req.Metric]; found && tier.Satisfies(req.Operator, e.Value, req.Threshold) {
			return true
		}
	}
	return false
}

// SLABreached reports whether the request counts as an SLA breach at now (see Compute).
func SLABreached(q *v1alpha1.ExceptionRequest, now time.Time) bool {
	pending := q.Status.Phase == "" || q.Status.Phase == v1alpha1.PhasePending
	if pending && q.Status.StageDeadline != nil && !now.Before(q.Status.StageDeadline.Time) {
		return true
	}
	since := now.Add(-Window)
	recent := func(typ, reason string) bool {
		c := meta.FindStatusCondition(q.Status.Conditions, typ)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason && within(c.LastTransitionTime.Time, since, now)
	}
	return recent(v1alpha1.ConditionEscalated, v1alpha1.ReasonSLABreached) ||
		recent(v1alpha1.ConditionDenied, v1alpha1.ReasonTimeoutDenied)
}

// within reports whether t is in (since, now].
func within(t, since, now time.Time) bool {
	return t.After(since) && !t.After(now)
}

// counts turns a map of counts into a list sorted by name, without zero counts.
func counts(m map[string]int32) []v1alpha1.Count {
	var out []v1alpha1.Count
	for name, n := range m {
		if n > 0 {
			out = append(out, v1alpha1.Count{Name: name, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.Count) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
