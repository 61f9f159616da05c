package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// The gauges the alerts (config/prometheus) route on, as the suite's manager
// exports them from what its controllers stored.

// sample is one series of a gathered metric family.
type sample struct {
	Labels map[string]string
	Value  float64
}

// samples returns the series of the named family that carry all the given labels.
func samples(g Gomega, name string, match map[string]string) []sample {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var out []sample
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			s := sample{Labels: map[string]string{}, Value: m.GetGauge().GetValue() + m.GetCounter().GetValue()}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if s.Labels[k] != v {
					continue series
				}
			}
			out = append(out, s)
		}
	}
	return out
}

func TestOnlyPartnersAtRiskHaveSeriesNamingTheirOwner(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	// Revenue counts for 10s after it was observed; the select tier is kept an hour after that.
	program, entry, selectTier := ladder(t, 10*time.Second, time.Hour)
	atRisk := settledPartner(t, g, ns, program.Name)
	calm := settledPartner(t, g, ns, program.Name)
	crm := qualifyForSelect(t, g, atRisk)
	ofProgram := map[string]string{"program": program.Name}
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, atRisk).Status.Tier).To(Equal(selectTier))
		g.Expect(getPartner(g, calm).Status.Tier).To(Equal(entry))
		g.Expect(samples(g, "partnergov_partners", ofProgram)).NotTo(BeEmpty(), "the collector sees the program")
	}).Should(Succeed())
	g.Expect(samples(g, "partnergov_partner_demotion_deadline_timestamp_seconds", ofProgram)).To(BeEmpty(), "nobody is at risk yet")

	// The revenue goes stale: the partner is at risk, and only it has series.
	eventually(g, func(g Gomega) {
		got := getPartner(g, atRisk)
		g.Expect(got.Status.DemotionDeadline).NotTo(BeNil())
		want := map[string]string{"program": program.Name, "partner_namespace": ns, "partner": atRisk.Name, "owner": atRisk.Spec.Owner, "tier": selectTier}
		g.Expect(samples(g, "partnergov_partner_demotion_deadline_timestamp_seconds", ofProgram)).To(ConsistOf(
			sample{Labels: want, Value: float64(got.Status.DemotionDeadline.Unix())}))
		since := condition(got.Status.Conditions, v1alpha1.ConditionTierAtRisk)
		g.Expect(since.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(samples(g, "partnergov_partner_at_risk_since_timestamp_seconds", ofProgram)).To(ConsistOf(
			sample{Labels: want, Value: float64(since.LastTransitionTime.Unix())}))
		g.Expect(samples(g, "partnergov_partners_stale_evidence", ofProgram)).To(ConsistOf(HaveField("Value", 1.0)))
	}).Should(Succeed())

	// The evidence recovers: no partner is at risk, no series is left.
	g.Expect(reportEvidence(crm, "crm", atRisk, "revenue", "180", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, atRisk).Status.DemotionDeadline).To(BeNil())
		g.Expect(samples(g, "partnergov_partner_demotion_deadline_timestamp_seconds", ofProgram)).To(BeEmpty())
		g.Expect(samples(g, "partnergov_partner_at_risk_since_timestamp_seconds", ofProgram)).To(BeEmpty())
		g.Expect(samples(g, "partnergov_partners_stale_evidence", ofProgram)).To(ConsistOf(HaveField("Value", 0.0)))
	}).Should(Succeed())
}

func TestPartnersWithUntrustedEvidenceAreCountedPerProgram(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	ofProgram := map[string]string{"program": program.Name}
	eventually(g, func(g Gomega) {
		g.Expect(condition(getPartner(g, p).Status.Conditions, v1alpha1.ConditionEvidenceTrusted).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(samples(g, "partnergov_partners_untrusted_evidence", ofProgram)).To(ConsistOf(HaveField("Value", 0.0)))
	}).Should(Succeed())

	// The catalog stops trusting the CRM: its revenue entry is ignored.
	updateProgram(g, program.Name, func(pp *v1alpha1.PartnerProgram) {
		pp.Spec.Metrics[0].TrustedReporters.ServiceAccounts[0].Name = "crm-sync-v2"
	})
	eventually(g, func(g Gomega) {
		g.Expect(condition(getPartner(g, p).Status.Conditions, v1alpha1.ConditionEvidenceTrusted).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(samples(g, "partnergov_partners_untrusted_evidence", ofProgram)).To(ConsistOf(HaveField("Value", 1.0)))
	}).Should(Succeed())
}

func TestUnpublishedListingsAreCountedByReason(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name) // the entry tier grants no List
	count := func(g Gomega, reason string) []sample {
		return samples(g, "partnergov_listings_unpublished", map[string]string{"program": program.Name, "reason": reason})
	}
	// Zero is reported before any listing is unpublished, so that an increase shows.
	eventually(g, func(g Gomega) {
		g.Expect(count(g, v1alpha1.ReasonEntitlementRevoked)).To(ConsistOf(HaveField("Value", 0.0)))
		g.Expect(count(g, v1alpha1.ReasonPartnerSuspended)).To(ConsistOf(HaveField("Value", 0.0)))
	}).Should(Succeed())

	l := newListing(ns, p.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, l)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(published(g, l).Reason).To(Equal(v1alpha1.ReasonEntitlementRevoked))
		g.Expect(count(g, v1alpha1.ReasonEntitlementRevoked)).To(ConsistOf(HaveField("Value", 1.0)))
	}).Should(Succeed())

	suspendPartner(g, p)
	eventually(g, func(g Gomega) {
		g.Expect(published(g, l).Reason).To(Equal(v1alpha1.ReasonPartnerSuspended))
		g.Expect(count(g, v1alpha1.ReasonEntitlementRevoked)).To(ConsistOf(HaveField("Value", 0.0)))
		g.Expect(count(g, v1alpha1.ReasonPartnerSuspended)).To(ConsistOf(HaveField("Value", 1.0)))
	}).Should(Succeed())
}

func TestAnSLABreachIsExportedWithTheRequestsRoutingLabelsUntilItIsDecided(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, 2*time.Second, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	ofRequest := map[string]string{"partner_namespace": r.Namespace, "request": r.Name}

	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		escalated := condition(got.Status.Conditions, v1alpha1.ConditionEscalated)
		g.Expect(escalated.Reason).To(Equal(v1alpha1.ReasonSLABreached))
		labels := map[string]string{
			"partner_namespace": r.Namespace, "request": r.Name, "type": string(v1alpha1.RequestReadinessClaim),
			"partner": f.partner.Name, "owner": f.partner.Spec.Owner, "program": f.program.Name, "path": f.path.Name,
			"escalation_owner": f.path.Spec.EscalationOwner,
		}
		breach := map[string]string{"stage": "escalation"}
		waiting := map[string]string{"reason": v1alpha1.ReasonSLABreached}
		for k, v := range labels {
			breach[k], waiting[k] = v, v
		}
		g.Expect(samples(g, "partnergov_request_sla_breach_timestamp_seconds", ofRequest)).To(ConsistOf(
			sample{Labels: breach, Value: float64(escalated.LastTransitionTime.Unix())}))
		g.Expect(samples(g, "partnergov_request_escalation_deadline_timestamp_seconds", ofRequest)).To(ConsistOf(
			sample{Labels: waiting, Value: float64(got.Status.StageDeadline.Unix())}))
	}).Should(Succeed())

	owner := reviewer(t, f.path.Spec.EscalationOwner, f.path)
	g.Expect(decide(owner, r, "escalation", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(samples(g, "partnergov_request_sla_breach_timestamp_seconds", ofRequest)).To(BeEmpty())
		g.Expect(samples(g, "partnergov_request_escalation_deadline_timestamp_seconds", ofRequest)).To(BeEmpty())
	}).Should(Succeed())
}
