package deal

import (
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/seal"
)

// DefaultMetricWindow is DealMetric.Window's default: a year.
const DefaultMetricWindow = 365 * 24 * time.Hour

// ComputedSource is the evidence source of Deals metrics, and ComputedVia their
// trust: partnergov computed them from won deals.
const (
	ComputedSource = "partnergov"
	ComputedVia    = "deals"
)

// Metrics computes a partner's Deals metrics (the program's catalog metrics
// with source Deals) from the won registrations that credit it (namespace/name
// of the partner): sourced amounts, influenced amounts or the count of sourced
// wins whose close lies within the metric's trailing window, never adding
// amounts in different currencies. It returns them as evidence entries for the
// tier engine (observed when the value last changed, so a demotion's grace
// counts from then), as status entries naming the deals (with sealing on, a
// deal whose outcome or standing is not sealed counts for nothing), and the next instant a
// value changes by itself (a counted close leaving its window, or a close
// reported ahead of time being reached).
func Metrics(program *v1alpha1.PartnerProgram, partner string, won []v1alpha1.DealRegistration, now time.Time, seals *seal.Keys) ([]v1alpha1.EvidenceEntry, []v1alpha1.ComputedMetric, *time.Time) {
	if program == nil {
		return nil, nil, nil
	}
	var entries []v1alpha1.EvidenceEntry
	var status []v1alpha1.ComputedMetric
	var next *time.Time
	for _, def := range program.Spec.Metrics {
		if def.Source != v1alpha1.MetricSourceDeals || def.Deals == nil {
			continue
		}
		window := DefaultMetricWindow
		if def.Deals.Window != nil && def.Deals.Window.Duration > 0 {
			window = def.Deals.Window.Duration
		}
		var amounts []v1alpha1.Decimal
		var names []string
		// latest is when the value last changed: a counted deal's close, or an
		// earlier deal leaving the window. A demotion's grace counts from it.
		latest := time.Time{}
		for i := range won {
			d := &won[i]
			amount, ok := credit(d, partner, def.Deals)
			if !ok || !seals.OutcomeSealed(d) || !seals.StandingSealed(d) {
				continue
			}
			closed := d.Status.Outcome.ClosedAt.Time
			leaves := closed.Add(window)
			if closed.After(now) {
				if next == nil || closed.Before(*next) {
					next = &closed // counts from its close
				}
				continue
			}
			if !now.Before(leaves) {
				if leaves.After(latest) {
					latest = leaves
				}
				continue
			}
			if next == nil || leaves.Before(*next) {
				next = &leaves
			}
			amounts = append(amounts, amount)
			names = append(names, d.Namespace+"/"+d.Name)
			if closed.After(latest) {
				latest = closed
			}
		}
		value := v1alpha1.Decimal(strconv.Itoa(len(names)))
		if def.Deals.Measure != v1alpha1.DealMeasureWonDeals {
			sum, err := decimal.Sum(amounts...)
			if err != nil {
				continue
			}
			value = sum
		}
		if latest.IsZero() {
			latest = now
		}
		slices.Sort(names)
		entries = append(entries, v1alpha1.EvidenceEntry{Metric: def.Name, Value: value, ObservedAt: metav1.NewTime(latest.UTC().Truncate(time.Second)),
			Source: ComputedSource, TrustedVia: ComputedVia})
		c := v1alpha1.ComputedMetric{Metric: def.Name, Value: value, DealCount: int32(len(names))}
		c.Deals = names[:min(len(names), 16)]
		status = append(status, c)
	}
	return entries, status, next
}

// credit is what won registration d credits partner with under measure m.
func credit(d *v1alpha1.DealRegistration, partner string, m *v1alpha1.DealMetric) (v1alpha1.Decimal, bool) {
	a := d.Status.Attribution
	if d.Status.Phase != v1alpha1.DealWon || a == nil || d.Status.Outcome == nil {
		return "", false
	}
	switch m.Measure {
	case v1alpha1.DealMeasureSourcedAmount, v1alpha1.DealMeasureWonDeals:
		if a.Sourced == nil || a.Sourced.Namespace+"/"+a.Sourced.Partner != partner {
			return "", false
		}
		if m.Measure == v1alpha1.DealMeasureWonDeals {
			return "1", true
		}
		return a.Sourced.Amount.Amount, a.Sourced.Amount.Currency == m.Currency
	case v1alpha1.DealMeasureInfluencedAmount:
		for _, c := range a.Influenced {
			if c.Namespace+"/"+c.Partner == partner {
				return c.Amount.Amount, c.Amount.Currency == m.Currency
			}
		}
	}
	return "", false
}

// Credited lists who won registration d credits, as namespace/name: the
// sourcing partner and each influencer. The partner controller indexes won
// deals by it.
func Credited(d *v1alpha1.DealRegistration) []string {
	a := d.Status.Attribution
	if d.Status.Phase != v1alpha1.DealWon || a == nil {
		return nil
	}
	var out []string
	if a.Sourced != nil {
		out = append(out, a.Sourced.Namespace+"/"+a.Sourced.Partner)
	}
	for _, c := range a.Influenced {
		out = append(out, c.Namespace+"/"+c.Partner)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
