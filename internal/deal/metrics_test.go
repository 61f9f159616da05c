package deal

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func TestMetricsFromWonDeals(t *testing.T) {
	day := 24 * time.Hour
	metric := func(name string, m v1alpha1.DealMeasure, currency string) v1alpha1.MetricDefinition {
		return v1alpha1.MetricDefinition{Name: name, Class: v1alpha1.MetricClassOutcome, Source: v1alpha1.MetricSourceDeals,
			Deals: &v1alpha1.DealMetric{Measure: m, Currency: currency}}
	}
	p := program(nil)
	p.Spec.Metrics = []v1alpha1.MetricDefinition{
		metric("sourced-revenue", v1alpha1.DealMeasureSourcedAmount, "USD"),
		metric("influenced-revenue", v1alpha1.DealMeasureInfluencedAmount, "USD"),
		metric("won-deals", v1alpha1.DealMeasureWonDeals, ""),
		{Name: "reported", Class: v1alpha1.MetricClassOutcome},
	}
	wonDeal := func(name, currency, amount string, closedAgo time.Duration, sourced string, influenced ...string) v1alpha1.DealRegistration {
		money := v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: currency}
		d := v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name}}
		d.Status.Phase = v1alpha1.DealWon
		d.Status.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: metav1.NewTime(now.Add(-closedAgo)), Amount: &money}
		d.Status.Attribution = &v1alpha1.Attribution{Sourced: &v1alpha1.Credit{Namespace: "partners", Partner: sourced, Amount: money}}
		for _, i := range influenced {
			d.Status.Attribution.Influenced = append(d.Status.Attribution.Influenced, v1alpha1.Credit{Namespace: "partners", Partner: i, Amount: money})
		}
		return d
	}
	won := []v1alpha1.DealRegistration{
		wonDeal("a", "USD", "100000", 10*day, "acme"),
		wonDeal("b", "EUR", "50000", 20*day, "acme"),          // another currency: not added to USD
		wonDeal("c", "USD", "20000", 400*day, "acme"),         // closed outside the year
		wonDeal("d", "USD", "30000", 5*day, "nimbus", "acme"), // acme influenced it
		wonDeal("e", "USD", "70000", 1*day, "nimbus"),         // nothing to do with acme
		wonDeal("f", "USD", "5000", -day, "acme"),             // closes in the future: not yet
	}
	lost := wonDeal("g", "USD", "999999", day, "acme")
	lost.Status.Phase = v1alpha1.DealLost
	won = append(won, lost)

	entries, status, next := Metrics(p, "partners/acme", won, now, nil)
	got := map[string]string{}
	for _, e := range entries {
		got[e.Metric] = string(e.Value)
		if e.Source != ComputedSource || e.TrustedVia != ComputedVia {
			t.Errorf("%s provenance %s via %s", e.Metric, e.Source, e.TrustedVia)
		}
	}
	want := map[string]string{"sourced-revenue": "100000", "influenced-revenue": "30000", "won-deals": "2"}
	for m, v := range want {
		if got[m] != v {
			t.Errorf("%s = %q, want %q (all: %v)", m, got[m], v, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("metrics %v: only the Deals metrics are computed", got)
	}
	for _, c := range status {
		if c.Metric == "won-deals" && (c.DealCount != 2 || len(c.Deals) != 2 || c.Deals[0] != "partners/a" || c.Deals[1] != "partners/b") {
			t.Errorf("won-deals names %v (%d), want partners/a and partners/b", c.Deals, c.DealCount)
		}
	}
	if next == nil || !next.Equal(now.Add(day)) {
		t.Errorf("next = %v, want when deal f's close (tomorrow) starts counting", next)
	}
	for _, e := range entries {
		if e.Metric == "sourced-revenue" && !e.ObservedAt.Equal(&metav1.Time{Time: now.Add(-10 * day)}) {
			t.Errorf("sourced-revenue observed %v, want deal a's close: the value last changed then", e.ObservedAt)
		}
	}
	// When a deal leaves the window the value changes then: that is its observation.
	late := now.Add(DefaultMetricWindow - 5*day)
	entries, _, next = Metrics(p, "partners/acme", won[:1], late, nil)
	if len(entries) == 0 || !entries[0].ObservedAt.Equal(&metav1.Time{Time: now.Add(-10 * day).Add(DefaultMetricWindow)}) || entries[0].Value != "0" {
		t.Errorf("after deal a left the window: %+v", entries)
	}
	if next != nil {
		t.Errorf("next = %v, want none: nothing is counted any more", next)
	}
}
