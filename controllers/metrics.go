package controllers

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/tier"
)

var tierTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "partnergov_tier_transitions_total",
	Help: "Tier changes decided by the controller, by program, from, to and reason.",
}, []string{"program", "from", "to", "reason"})

var lifecycleTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "partnergov_lifecycle_transitions_total",
	Help: "Lifecycle phase changes decided by the controller, by program, from (empty for a partner's first phase), to and reason.",
}, []string{"program", "from", "to", "reason"})

var slaBreaches = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "partnergov_review_sla_breaches_total",
	Help: "Exception requests escalated or denied because a stage's SLA passed, by type and review path.",
}, []string{"type", "path"})

// recordCreateSeconds times every DecisionRecord create the manager sends to
// the records store, so an operator sees what the store (etcd through the CRD,
// or the records server and its database) costs a decision's record.
var recordCreateSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "partnergov_record_create_duration_seconds",
	Help:    "Round trip of each DecisionRecord create to the records store, by result: created, exists (already stored, which counts as recorded) or error.",
	Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms to 33 s
}, []string{"result"})

var pendingDesc = prometheus.NewDesc("partnergov_requests_pending",
	"Exception requests under review, by type, current stage and age bucket (under 1d, 1-3d, 3-7d, over 7d).",
	[]string{"type", "stage", "age"}, nil)

// ageBuckets are the upper bounds of the pending-request age buckets.
var ageBuckets = []struct {
	label string
	max   time.Duration
}{{"under-1d", 24 * time.Hour}, {"1d-3d", 72 * time.Hour}, {"3d-7d", 7 * 24 * time.Hour}, {"over-7d", 1<<63 - 1}}

func ageBucket(age time.Duration) string {
	for _, b := range ageBuckets {
		if age < b.max {
			return b.label
		}
	}
	return ageBuckets[len(ageBuckets)-1].label
}

var partnersDesc = prometheus.NewDesc("partnergov_partners",
	"Partners by program, tier (empty for none) and whether their tier is at risk.",
	[]string{"program", "tier", "at_risk"}, nil)

// Gauges the alerts route on. The per-partner and per-request ones exist only
// while something needs attention: a program of 10,000 partners at rest, none at
// risk and no review overdue, has none of their series. Their namespace label
// is partner_namespace (a request lives in its partner's namespace), because
// scrape configurations set namespace to the manager pod's own and would rename
// a scraped namespace label to exported_namespace.
var (
	atRiskSinceDesc = prometheus.NewDesc("partnergov_partner_at_risk_since_timestamp_seconds",
		"When a partner's tier became at risk (TierAtRisk=True), in Unix seconds. One series per partner at risk and none for the others, "+
			"so its cardinality is the number of partners at risk, not of partners. owner is the partner's spec.owner.",
		[]string{"program", "partner_namespace", "partner", "owner", "tier"}, nil)
	demotionDeadlineDesc = prometheus.NewDesc("partnergov_partner_demotion_deadline_timestamp_seconds",
		"When a partner at risk drops from its tier unless its evidence recovers (status.demotionDeadline), in Unix seconds. "+
			"One series per partner at risk and none for the others. owner is the partner's spec.owner.",
		[]string{"program", "partner_namespace", "partner", "owner", "tier"}, nil)
	probationSinceDesc = prometheus.NewDesc("partnergov_partner_probation_since_timestamp_seconds",
		"When a partner went on probation (Probation=True: an onboarding step is overdue or a Risk metric is above its probationAbove), "+
			"in Unix seconds. One series per partner on probation and none for the others. reason is the condition's "+
			"(OnboardingStepOverdue or RiskThresholdExceeded); owner is the partner's spec.owner.",
		[]string{"program", "partner_namespace", "partner", "owner", "reason"}, nil)
	partnersByPhaseDesc = prometheus.NewDesc("partnergov_partners_by_phase",
		"Partners by program and lifecycle phase (status.lifecycle.phase; empty before the controller set one).",
		[]string{"program", "phase"}, nil)
	staleEvidenceDesc = prometheus.NewDesc("partnergov_partners_stale_evidence",
		"Partners of a program with stale evidence (EvidenceCurrent=False: some trusted entry is past its metric's freshness window); "+
			"divide by partnergov_partners for the share. One series per program.",
		[]string{"program"}, nil)
	untrustedEvidenceDesc = prometheus.NewDesc("partnergov_partners_untrusted_evidence",
		"Partners of a program with ignored evidence (EvidenceTrusted=False: reported by an identity the catalog no longer trusts, "+
			"not sealed, or not a number). One series per program.",
		[]string{"program"}, nil)
	listingsUnpublishedDesc = prometheus.NewDesc("partnergov_listings_unpublished",
		"Unpublished listings of a program's partners by the Published condition's reason: EntitlementRevoked (the partner's tier "+
			"no longer grants List or Implement, as after a demotion), PartnerSuspended, or another. EntitlementRevoked and "+
			"PartnerSuspended are reported for every program, zero included.",
		[]string{"program", "reason"}, nil)
	slaBreachDesc = prometheus.NewDesc("partnergov_request_sla_breach_timestamp_seconds",
		"When a stage's SLA passed for an exception request still under review, in Unix seconds: the current stage's deadline once "+
			"past, or when the breach escalated the request. One series per such request and none for the others. stage is the "+
			"stage it waits in now; owner is its partner's spec.owner; escalation_owner is the review path's.",
		[]string{"partner_namespace", "request", "type", "partner", "owner", "program", "path", "stage", "escalation_owner"}, nil)
	ownerDeadlineDesc = prometheus.NewDesc("partnergov_request_escalation_deadline_timestamp_seconds",
		"When an exception request waiting for its escalation owner (stage escalation) is denied EscalationExpired, in Unix seconds. "+
			"One series per such request and none for the others. escalation_owner decides (the review path's, or the program owner "+
			"when no path governs the request); reason is the Escalated condition's (SLABreached, NoMatchingPath, ...).",
		[]string{"partner_namespace", "request", "type", "partner", "owner", "program", "path", "escalation_owner", "reason"}, nil)
)

// partnerCollector counts partners by tier from the informer cache at scrape
// time, so no per-event bookkeeping can drift from what is stored.
// Only the leader reports them: a follower's warm cache holds the same objects,
// and two replicas reporting would double every sum across replicas.
type partnerCollector struct {
	reader client.Reader
	// elected is closed once this manager leads (at once without leader election).
	elected <-chan struct{}
}

// leading reports whether this manager is the leader.
func (c *partnerCollector) leading() bool {
	select {
	case <-c.elected:
		return true
	default:
		return false
	}
}

func (c *partnerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- partnersDesc
	ch <- pendingDesc
	ch <- atRiskSinceDesc
	ch <- demotionDeadlineDesc
	ch <- probationSinceDesc
	ch <- partnersByPhaseDesc
	ch <- staleEvidenceDesc
	ch <- untrustedEvidenceDesc
	ch <- listingsUnpublishedDesc
	ch <- slaBreachDesc
	ch <- ownerDeadlineDesc
	ch <- outcomeBackedDesc
	ch <- outcomeTotalDesc
	ch <- listingsDesc
	ch <- slaBreachesNowDesc
	ch <- planReviewOverdueDesc
	for _, d := range dealDescs {
		ch <- d
	}
}

func (c *partnerCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.leading() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var partners v1alpha1.PartnerList
	if err := c.reader.List(ctx, &partners, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ program, tier, atRisk string }
	counts := map[key]float64{}
	stale, untrusted := map[string]float64{}, map[string]float64{}
	phases := map[[2]string]float64{}
	byName := make(map[types.NamespacedName]*v1alpha1.Partner, len(partners.Items))
	for i := range partners.Items {
		p := &partners.Items[i]
		byName[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
		program := p.Spec.Program
		atRisk := "false"
		if d := p.Status.DemotionDeadline; d != nil {
			atRisk = "true"
			labels := []string{program, p.Namespace, p.Name, p.Spec.Owner, p.Status.Tier}
			ch <- prometheus.MustNewConstMetric(demotionDeadlineDesc, prometheus.GaugeValue, unix(d.Time), labels...)
			if cond := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionTierAtRisk); cond != nil && cond.Status == metav1.ConditionTrue {
				ch <- prometheus.MustNewConstMetric(atRiskSinceDesc, prometheus.GaugeValue, unix(cond.LastTransitionTime.Time), labels...)
			}
		}
		if cond := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionProbation); cond != nil && cond.Status == metav1.ConditionTrue {
			ch <- prometheus.MustNewConstMetric(probationSinceDesc, prometheus.GaugeValue, unix(cond.LastTransitionTime.Time),
				program, p.Namespace, p.Name, p.Spec.Owner, cond.Reason)
		}
		phase := ""
		if p.Status.Lifecycle != nil {
			phase = string(p.Status.Lifecycle.Phase)
		}
		phases[[2]string{program, phase}]++
		counts[key{program, p.Status.Tier, atRisk}]++
		stale[program] += boolValue(meta.IsStatusConditionFalse(p.Status.Conditions, v1alpha1.ConditionEvidenceCurrent))
		untrusted[program] += boolValue(meta.IsStatusConditionFalse(p.Status.Conditions, v1alpha1.ConditionEvidenceTrusted))
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(partnersDesc, prometheus.GaugeValue, n, k.program, k.tier, k.atRisk)
	}
	for k, n := range phases {
		ch <- prometheus.MustNewConstMetric(partnersByPhaseDesc, prometheus.GaugeValue, n, k[0], k[1])
	}
	for program, n := range stale {
		ch <- prometheus.MustNewConstMetric(staleEvidenceDesc, prometheus.GaugeValue, n, program)
		ch <- prometheus.MustNewConstMetric(untrustedEvidenceDesc, prometheus.GaugeValue, untrusted[program], program)
	}
	c.collectPending(ctx, ch, byName)
	c.collectListings(ctx, ch, byName)
	c.collectPlans(ctx, ch, byName)
	c.collectScorecards(ctx, ch)
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *partnerCollector) collectPending(ctx context.Context, ch chan<- prometheus.Metric, partners map[types.NamespacedName]*v1alpha1.Partner) {
	var requests v1alpha1.ExceptionRequestList
	if err := c.reader.List(ctx, &requests, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ typ, stage, age string }
	counts := map[key]float64{}
	now := time.Now()
	for i := range requests.Items {
		r := &requests.Items[i]
		if r.Status.Phase != "" && r.Status.Phase != v1alpha1.PhasePending {
			continue
		}
		counts[key{string(r.Spec.Type), r.Status.CurrentStage, ageBucket(now.Sub(r.CreationTimestamp.Time))}]++
		a := review.AttentionOf(r, now)
		if a.SLABreachedAt == nil && a.OwnerDeadline == nil {
			continue
		}
		var owner, program string
		if p := partners[types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.Partner}]; p != nil && tier.SamePartner(r, p) {
			owner, program = p.Spec.Owner, p.Spec.Program
		}
		path, escalationOwner := "", ""
		if rp := r.Status.ReviewPath; rp != nil {
			path, escalationOwner = rp.Name, rp.EscalationOwner
		}
		if a.SLABreachedAt != nil {
			ch <- prometheus.MustNewConstMetric(slaBreachDesc, prometheus.GaugeValue, unix(*a.SLABreachedAt),
				r.Namespace, r.Name, string(r.Spec.Type), r.Spec.Partner, owner, program, path, r.Status.CurrentStage, escalationOwner)
		}
		if a.OwnerDeadline != nil {
			ch <- prometheus.MustNewConstMetric(ownerDeadlineDesc, prometheus.GaugeValue, unix(*a.OwnerDeadline),
				r.Namespace, r.Name, string(r.Spec.Type), r.Spec.Partner, owner, program, path, escalationOwner, a.EscalationReason)
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, n, k.typ, k.stage, k.age)
	}
}

// collectListings counts each program's unpublished listings by reason. A
// listing whose partner is gone belongs to no program and is not counted.
func (c *partnerCollector) collectListings(ctx context.Context, ch chan<- prometheus.Metric, partners map[types.NamespacedName]*v1alpha1.Partner) {
	var listings v1alpha1.ListingList
	if err := c.reader.List(ctx, &listings, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	type key struct{ program, reason string }
	counts := map[key]float64{}
	for _, p := range partners {
		for _, reason := range []string{v1alpha1.ReasonEntitlementRevoked, v1alpha1.ReasonPartnerSuspended} {
			counts[key{p.Spec.Program, reason}] += 0
		}
	}
	for i := range listings.Items {
		l := &listings.Items[i]
		p := partners[types.NamespacedName{Namespace: l.Namespace, Name: l.Spec.Partner}]
		published := meta.FindStatusCondition(l.Status.Conditions, v1alpha1.ConditionPublished)
		if p == nil || published == nil || published.Status == metav1.ConditionTrue {
			continue
		}
		counts[key{p.Spec.Program, published.Reason}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(listingsUnpublishedDesc, prometheus.GaugeValue, n, k.program, k.reason)
	}
}

var (
	outcomeBackedDesc = prometheus.NewDesc("partnergov_program_outcome_backed_percent",
		"Share of a program's tiered partners whose tier rests on current Outcome evidence, in percent (status.scorecard).",
		[]string{"program"}, nil)
	outcomeTotalDesc = prometheus.NewDesc("partnergov_program_outcome_total",
		"The current values of an Outcome metric aggregated over a program's partners as the catalog says (label aggregation: Sum, Average, Max or Latest), in the metric's unit (status.scorecard).",
		[]string{"program", "metric", "unit", "aggregation"}, nil)
	listingsDesc = prometheus.NewDesc("partnergov_listings",
		"Listings of a program's partners by state: published, unpublished, low-adoption (status.scorecard).",
		[]string{"program", "state"}, nil)
	slaBreachesNowDesc = prometheus.NewDesc("partnergov_program_sla_breaches",
		"Exception requests of a program past their stage SLA now or breached in the last 30 days (status.scorecard).",
		[]string{"program"}, nil)
)

// Deal registration gauges, from status.scorecard.deals. Amounts are in the
// label currency and never added across currencies.
var (
	dealRevenueDesc = prometheus.NewDesc("partnergov_program_deal_revenue",
		"Won deal revenue of a program's partners by currency and kind: sourced, or influenced (won deals some partner influenced, each once); the two are never added (status.scorecard.deals).",
		[]string{"program", "currency", "kind"}, nil)
	dealRevenueByTierDesc = prometheus.NewDesc("partnergov_program_deal_revenue_by_tier",
		"Won deal revenue by the sourcing partner's current tier, currency and kind (sourced or influenced); the largest 16 tiers per currency (status.scorecard.deals).",
		[]string{"program", "currency", "kind", "tier"}, nil)
	dealRevenueBySegmentDesc = prometheus.NewDesc("partnergov_program_deal_revenue_by_segment",
		"Won deal revenue by customer segment (None when unset), currency and kind (sourced or influenced); the largest 16 segments per currency (status.scorecard.deals).",
		[]string{"program", "currency", "kind", "segment"}, nil)
	dealFundsDesc = prometheus.NewDesc("partnergov_program_deal_committed_funds",
		"Approved Funds requests of a program's partners, summed per currency (status.scorecard.deals).",
		[]string{"program", "currency"}, nil)
	dealROPIDesc = prometheus.NewDesc("partnergov_program_deal_return_on_investment",
		"Return on partner investment: won sourced revenue over committed funds, per currency; absent when no funds are committed in it (status.scorecard.deals).",
		[]string{"program", "currency"}, nil)
	dealRegistrationsDesc = prometheus.NewDesc("partnergov_program_deal_registrations",
		"Deal registrations of a program's partners by phase (status.scorecard.deals).",
		[]string{"program", "phase"}, nil)
	dealRateDesc = prometheus.NewDesc("partnergov_program_deal_rate_percent",
		"Deal registration rates in percent: conflict (queued or rejected against a holder, of decided registrations) and expiry (expired, of approved registrations that ended) (status.scorecard.deals).",
		[]string{"program", "rate"}, nil)
	dealApprovalDesc = prometheus.NewDesc("partnergov_program_deal_approval_seconds",
		"Time from submission to approval of deal registrations approved in the last 90 days, by quantile (0.5, 0.95; nearest rank) (status.scorecard.deals).",
		[]string{"program", "quantile"}, nil)
	dealFirstRevenueDesc = prometheus.NewDesc("partnergov_program_deal_first_revenue_days",
		"Median days from a partner joining the program to its first won deal, over the partners with one (status.scorecard.deals).",
		[]string{"program"}, nil)
	dealDescs = []*prometheus.Desc{dealRevenueDesc, dealRevenueByTierDesc, dealRevenueBySegmentDesc, dealFundsDesc, dealROPIDesc,
		dealRegistrationsDesc, dealRateDesc, dealApprovalDesc, dealFirstRevenueDesc}
)

// collectDeals exports a program's stored deal figures.
func collectDeals(ch chan<- prometheus.Metric, program string, d *v1alpha1.DealFigures) {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append([]string{program}, labels...)...)
	}
	number := func(desc *prometheus.Desc, v v1alpha1.Decimal, labels ...string) {
		if r, err := decimal.Parse(v); err == nil {
			f, _ := r.Float64()
			gauge(desc, f, labels...)
		}
	}
	for _, c := range d.Currencies {
		number(dealRevenueDesc, c.Sourced, c.Currency, "sourced")
		number(dealRevenueDesc, c.Influenced, c.Currency, "influenced")
		number(dealFundsDesc, c.CommittedFunds, c.Currency)
		if c.ReturnOnInvestment != "" {
			number(dealROPIDesc, c.ReturnOnInvestment, c.Currency)
		}
		for _, t := range c.ByTier {
			number(dealRevenueByTierDesc, t.Sourced, c.Currency, "sourced", t.Name)
			number(dealRevenueByTierDesc, t.Influenced, c.Currency, "influenced", t.Name)
		}
		for _, s := range c.BySegment {
			number(dealRevenueBySegmentDesc, s.Sourced, c.Currency, "sourced", s.Name)
			number(dealRevenueBySegmentDesc, s.Influenced, c.Currency, "influenced", s.Name)
		}
	}
	for _, p := range d.ByPhase {
		gauge(dealRegistrationsDesc, float64(p.Count), p.Name)
	}
	if d.ConflictRatePercent != nil {
		gauge(dealRateDesc, float64(*d.ConflictRatePercent), "conflict")
	}
	if d.ExpiryRatePercent != nil {
		gauge(dealRateDesc, float64(*d.ExpiryRatePercent), "expiry")
	}
	if a := d.Approval; a != nil {
		gauge(dealApprovalDesc, float64(a.P50Seconds), "0.5")
		gauge(dealApprovalDesc, float64(a.P95Seconds), "0.95")
	}
	if f := d.TimeToFirstRevenue; f != nil {
		number(dealFirstRevenueDesc, f.MedianDays)
	}
}

// collectScorecards exports each program's stored scorecard, as the program
// controller last wrote it.
func (c *partnerCollector) collectScorecards(ctx context.Context, ch chan<- prometheus.Metric) {
	var programs v1alpha1.PartnerProgramList
	if err := c.reader.List(ctx, &programs, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for _, p := range programs.Items {
		sc := p.Status.Scorecard
		if sc == nil {
			continue
		}
		if sc.OutcomeBackedPercent != nil {
			ch <- prometheus.MustNewConstMetric(outcomeBackedDesc, prometheus.GaugeValue, float64(*sc.OutcomeBackedPercent), p.Name)
		}
		for _, t := range sc.OutcomeTotals {
			if v, err := decimal.Parse(t.Total); err == nil {
				f, _ := v.Float64()
				agg := string(t.Aggregation)
				if agg == "" {
					agg = string(v1alpha1.MetricAggregationSum) // written by a controller that always summed
				}
				ch <- prometheus.MustNewConstMetric(outcomeTotalDesc, prometheus.GaugeValue, f, p.Name, t.Metric, t.Unit, agg)
			}
		}
		ch <- prometheus.MustNewConstMetric(listingsDesc, prometheus.GaugeValue, float64(sc.ListingsPublished), p.Name, "published")
		ch <- prometheus.MustNewConstMetric(listingsDesc, prometheus.GaugeValue, float64(sc.ListingsUnpublished), p.Name, "unpublished")
		ch <- prometheus.MustNewConstMetric(listingsDesc, prometheus.GaugeValue, float64(sc.ListingsLowAdoption), p.Name, "low-adoption")
		ch <- prometheus.MustNewConstMetric(slaBreachesNowDesc, prometheus.GaugeValue, float64(sc.SLABreaches), p.Name)
		if sc.Deals != nil {
			collectDeals(ch, p.Name, sc.Deals)
		}
	}
}

// registered is the collector of the most recently built manager.
var registered *partnerCollector

// NewGovernanceCollector returns the collector of the governance gauges
// (partners by tier, pending requests, scorecards), reading from reader and
// reporting only once elected is closed.
func NewGovernanceCollector(reader client.Reader, elected <-chan struct{}) prometheus.Collector {
	return &partnerCollector{reader: reader, elected: elected}
}

// RegisterMetrics adds partnergov's metrics to the manager's registry. A later call
// (a restarted manager in the same process) replaces the collector, so scrapes read
// the live manager's cache.
func RegisterMetrics(reader client.Reader, elected <-chan struct{}) {
	_ = metrics.Registry.Register(tierTransitions)
	_ = metrics.Registry.Register(lifecycleTransitions)
	_ = metrics.Registry.Register(slaBreaches)
	_ = metrics.Registry.Register(recordCreateSeconds)
	if registered != nil {
		metrics.Registry.Unregister(registered)
	}
	registered = &partnerCollector{reader: reader, elected: elected}
	_ = metrics.Registry.Register(registered)
}
