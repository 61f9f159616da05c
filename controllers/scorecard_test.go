package controllers_test

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
)

// typedPartner creates a partner of the given type and waits until it has a tier.
func typedPartner(t *testing.T, g Gomega, ns, program string, typ v1alpha1.PartnerType) *v1alpha1.Partner {
	t.Helper()
	p := newPartner(ns, program)
	p.Spec.Type = typ
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		g.Expect(p.Status.Tier).NotTo(BeEmpty())
	}).Should(Succeed())
	return p
}

func TestScorecardCountsTheProgramFromEvidence(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, time.Hour)

	// a: GSI, select on revenue 150 and training 7 (outcome-backed).
	a := typedPartner(t, g, ns, program.Name, v1alpha1.PartnerTypeGSI)
	qualifyForSelect(t, g, a)
	// b: ISV, entry tier (rank 0), revenue 40 (unit "count": summed), not in the tiered share.
	b := typedPartner(t, g, ns, program.Name, v1alpha1.PartnerTypeISV)
	crm := userClient(t, crmUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", b, "revenue", "40", time.Now())).To(Succeed())
	// c: Reseller, entry tier, no evidence.
	c := typedPartner(t, g, ns, program.Name, v1alpha1.PartnerTypeReseller)

	// One request under review for a, with a one-hour SLA (no breach, no decision).
	path := newPath(t, stage("office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	spec := claimSpec()
	spec.Partner, spec.ReviewPath, spec.Justification = a.Name, path.Name, "a justification long enough for the record"
	request := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("req")}, Spec: spec}
	g.Expect(requesterClient(t, path).Create(ctx, request)).To(Succeed())
	// A listing of a (published once a holds select, which grants List) and one of c (not entitled).
	released := v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)}
	create(t, newListing(ns, a.Name, released))
	create(t, newListing(ns, c.Name, released))

	// Counted by hand from the fixture above.
	want := v1alpha1.Scorecard{
		PartnersByTier:       []v1alpha1.Count{{Name: entry, Count: 2}, {Name: selectTier, Count: 1}},
		PartnersByType:       []v1alpha1.Count{{Name: "GSI", Count: 1}, {Name: "ISV", Count: 1}, {Name: "Reseller", Count: 1}},
		OutcomeBackedPercent: ptr(int32(100)),
		OutcomeTotals:        []v1alpha1.MetricTotal{{Metric: "revenue", Unit: "count", Aggregation: v1alpha1.MetricAggregationSum, Total: "190", Partners: 2}},
		OpenRequestsByType:   []v1alpha1.Count{{Name: string(v1alpha1.RequestReadinessClaim), Count: 1}},
		ListingsPublished:    1,
		ListingsUnpublished:  1,
	}
	if want.PartnersByTier[0].Name > want.PartnersByTier[1].Name {
		slices.Reverse(want.PartnersByTier)
	}

	var writes []time.Time // the distinct updatedAt values seen, one per scorecard write
	eventually(g, func(g Gomega) {
		var got v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), &got)).To(Succeed())
		sc := got.Status.Scorecard
		g.Expect(sc).NotTo(BeNil())
		g.Expect(sc.UpdatedAt).NotTo(BeNil())
		if n := len(writes); n == 0 || !writes[n-1].Equal(sc.UpdatedAt.Time) {
			writes = append(writes, sc.UpdatedAt.Time)
		}
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		withoutStamp := *sc
		withoutStamp.UpdatedAt = nil
		g.Expect(withoutStamp).To(Equal(want))
	}).Should(Succeed())

	t.Logf("scorecard writes seen: %v", writes)
	// Many partner, request and listing events led to few writes, at least the interval apart.
	for i := 1; i < len(writes); i++ {
		g.Expect(writes[i].Sub(writes[i-1])).To(BeNumerically(">=", controllers.DefaultScorecardInterval), "writes at %v", writes)
	}

	// The figures are exported at scrape time from the cache.
	eventually(g, func(g Gomega) {
		g.Expect(gauge(g, "partnergov_program_outcome_backed_percent", map[string]string{"program": program.Name})).To(Equal(100.0))
		g.Expect(gauge(g, "partnergov_program_outcome_total", map[string]string{"program": program.Name, "metric": "revenue"})).To(Equal(190.0))
		g.Expect(gauge(g, "partnergov_listings", map[string]string{"program": program.Name, "state": "published"})).To(Equal(1.0))
		g.Expect(gauge(g, "partnergov_listings", map[string]string{"program": program.Name, "state": "unpublished"})).To(Equal(1.0))
	}).Should(Succeed())
}

func TestScorecardAveragesAScoreAndRecordsTheAggregation(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	revenue := metric("revenue", v1alpha1.MetricClassOutcome, "crm-sync")
	csat := metric("csat", v1alpha1.MetricClassOutcome, "crm-sync")
	csat.Unit = "score" // averaged by default
	deals := metric("deals", v1alpha1.MetricClassOutcome, "crm-sync")
	deals.Aggregation = v1alpha1.MetricAggregationMax
	program := &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec:       v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{revenue, csat, deals}},
	}
	create(t, program)
	create(t, newTier(program.Name, uniqueName("registered"), 0))

	crm := userClient(t, crmUser, nil, integrationRules...)
	for _, values := range [][3]string{{"100", "4", "3"}, {"50", "5", "8"}} {
		p := typedPartner(t, g, ns, program.Name, v1alpha1.PartnerTypeGSI)
		for i, m := range []string{"revenue", "csat", "deals"} {
			g.Expect(reportEvidence(crm, "crm-"+m, p, m, values[i], time.Now())).To(Succeed())
		}
	}

	want := []v1alpha1.MetricTotal{
		{Metric: "csat", Unit: "score", Aggregation: v1alpha1.MetricAggregationAverage, Total: "4.5", Partners: 2}, // not 9
		{Metric: "deals", Unit: "count", Aggregation: v1alpha1.MetricAggregationMax, Total: "8", Partners: 2},
		{Metric: "revenue", Unit: "count", Aggregation: v1alpha1.MetricAggregationSum, Total: "150", Partners: 2},
	}
	eventually(g, func(g Gomega) {
		var got v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), &got)).To(Succeed())
		g.Expect(got.Status.Scorecard).NotTo(BeNil())
		g.Expect(got.Status.Scorecard.OutcomeTotals).To(Equal(want))
		// The declared aggregation is stored as written; the default is not written into the spec.
		g.Expect(got.Spec.Metrics[1].Aggregation).To(BeEmpty())
		g.Expect(got.Spec.Metrics[2].Aggregation).To(Equal(v1alpha1.MetricAggregationMax))
	}).Should(Succeed())
}

// TestAWonRegistrationMovesTheProgramsDealFigures: the program's scorecard
// follows its partners' registrations, and the partners' joinedAt, defaulted
// at creation, is what time to first revenue counts from.
func TestAWonRegistrationMovesTheProgramsDealFigures(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	seller, helper := f.partners[0], f.partners[1]
	g.Expect(seller.Spec.JoinedAt).NotTo(BeNil(), "joinedAt is defaulted at creation")
	g.Expect(seller.Spec.JoinedAt.Time).To(BeTemporally("~", seller.CreationTimestamp.Time, 2*time.Second))

	d := newDeal(f.ns, seller, v1alpha1.DealResale, "kpi-"+rand.String(4)+".com", "sync")
	d.Spec.Customer.Segment = "enterprise"
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	g.Expect(claimInfluence(g, f.registrar, d, helper)).To(Succeed())

	deals := func(g Gomega) *v1alpha1.DealFigures {
		var got v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(f.program), &got)).To(Succeed())
		g.Expect(got.Status.Scorecard).NotTo(BeNil())
		g.Expect(got.Status.Scorecard.Deals).NotTo(BeNil())
		return got.Status.Scorecard.Deals
	}
	// Approved at submission: counted, decided without conflict, no revenue yet.
	eventually(g, func(g Gomega) {
		got := deals(g)
		g.Expect(got.Registrations).To(Equal(int32(1)))
		g.Expect(got.ByPhase).To(Equal([]v1alpha1.Count{{Name: string(v1alpha1.DealApproved), Count: 1}}))
		g.Expect(got.Currencies).To(BeEmpty())
		g.Expect(got.ConflictRatePercent).To(Equal(ptr(int32(0))))
		g.Expect(got.Approval).NotTo(BeNil())
		g.Expect(got.Approval.Registrations).To(Equal(int32(1)))
		g.Expect(got.Approval.P95Seconds).To(BeNumerically("<", 60), "approved at submission")
		g.Expect(got.TimeToFirstRevenue).To(BeNil())
	}).Should(Succeed())

	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}})
	g.Expect(confirmInfluence(g, crm, d)).To(Succeed())
	g.Expect(reportWon(g, crm, d, "120000")).To(Succeed())

	// Won: sourced by the seller's tier and the customer's segment, influenced
	// by the helper, the two kept apart.
	eventually(g, func(g Gomega) {
		got := deals(g)
		g.Expect(got.ByPhase).To(Equal([]v1alpha1.Count{{Name: string(v1alpha1.DealWon), Count: 1}}))
		g.Expect(got.Currencies).To(Equal([]v1alpha1.DealCurrency{{
			Currency: "USD", WonDeals: 1, Sourced: "120000", Influenced: "120000", CommittedFunds: "0",
			ByTier:    []v1alpha1.DealRevenue{{Name: f.entry, WonDeals: 1, Sourced: "120000", Influenced: "120000"}},
			BySegment: []v1alpha1.DealRevenue{{Name: "enterprise", WonDeals: 1, Sourced: "120000", Influenced: "120000"}},
		}}))
		g.Expect(got.ExpiryRatePercent).To(Equal(ptr(int32(0))))
		g.Expect(got.TimeToFirstRevenue).To(Equal(&v1alpha1.FirstRevenue{Partners: 1, MedianDays: "0"}), "won within the day the seller joined")
	}).Should(Succeed())

	// The figures are exported at scrape time from the stored scorecard.
	eventually(g, func(g Gomega) {
		usd := map[string]string{"program": f.program.Name, "currency": "USD"}
		g.Expect(gauge(g, "partnergov_program_deal_revenue", with(usd, "kind", "sourced"))).To(Equal(120000.0))
		g.Expect(gauge(g, "partnergov_program_deal_revenue", with(usd, "kind", "influenced"))).To(Equal(120000.0))
		g.Expect(gauge(g, "partnergov_program_deal_registrations", map[string]string{"program": f.program.Name, "phase": "Won"})).To(Equal(1.0))
		g.Expect(gauge(g, "partnergov_program_deal_rate_percent", map[string]string{"program": f.program.Name, "rate": "expiry"})).To(Equal(0.0))
	}).Should(Succeed())

	// `kubectl partnergov scorecard --top` prints the deals and who sourced them.
	run := pluginAs(t, g, uniqueName("analyst")+"@example.com", nil,
		readRule([]string{"get"}, "partnerprograms"), readRule([]string{"list"}, "partners", "dealregistrations"))
	out, err := run("scorecard", f.program.Name, "--top", "3")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`\n  Registrations:\s+1 \(Won 1\)\n`))
	g.Expect(out).To(MatchRegexp(`\n    USD\s+1\s+120000\s+120000\s+0\s+- \(no funds\)\n`))
	g.Expect(out).To(MatchRegexp(`\n  USD\s+%s/%s\s+%s\s+1\s+120000\s+0\s+0 days after joining\n`, f.ns, seller.Name, f.entry))
	g.Expect(out).To(MatchRegexp(`\n  USD\s+%s/%s\s+%s\s+0\s+0\s+120000\s+-\n`, f.ns, helper.Name, f.entry))
}

// with is labels plus one more.
func with(labels map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range labels {
		out[key] = val
	}
	return out
}
