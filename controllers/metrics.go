package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var tierTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "partnergov_tier_transitions_total",
	Help: "Tier changes decided by the controller, by program, from, to and reason.",
}, []string{"program", "from", "to", "reason"})

var partnersDesc = prometheus.NewDesc("partnergov_partners",
	"Partners by program, tier (empty for none) and whether their tier is at risk.",
	[]string{"program", "tier", "at_risk"}, nil)

// partnerCollector counts partners by tier from the informer cache at scrape
// time, so no per-event bookkeeping can drift from what is stored.
type partnerCollector struct{ reader client.Reader }

func (c partnerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- partnersDesc }

func (c partnerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var partners v1alpha1.PartnerList
	if err := c.reader.List(ctx, &partners); err != nil {
		return
	}
	type key struct{ program, tier, atRisk string }
	counts := map[key]float64{}
	for _, p := range partners.Items {
		atRisk := "false"
		if p.Status.DemotionDeadline != nil {
			atRisk = "true"
		}
		counts[key{p.Spec.Program, p.Status.Tier, atRisk}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(partnersDesc, prometheus.GaugeValue, n, k.program, k.tier, k.atRisk)
	}
}

// RegisterMetrics adds partnergov's metrics to the manager's registry. It is safe to
// call more than once (tests start several managers in one process).
func RegisterMetrics(reader client.Reader) {
	_ = metrics.Registry.Register(tierTransitions)
	_ = metrics.Registry.Register(partnerCollector{reader: reader})
}
