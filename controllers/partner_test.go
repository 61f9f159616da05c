package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ladder creates a program whose revenue evidence stays fresh for `fresh`, an entry
// tier and a "select" tier (revenue >= 100 and training >= 5) with the given grace.
func ladder(t *testing.T, fresh, grace time.Duration) (program *v1alpha1.PartnerProgram, entry, selectTier string) {
	t.Helper()
	program = &v1alpha1.PartnerProgram{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")},
		Spec: v1alpha1.PartnerProgramSpec{Owner: "owner@example.com", Metrics: []v1alpha1.MetricDefinition{
			metric("revenue", v1alpha1.MetricClassOutcome, "crm-sync"),
			metric("training", v1alpha1.MetricClassEnablement, "lms-sync"),
		}},
	}
	program.Spec.Metrics[0].FreshnessWindow = metav1.Duration{Duration: fresh}
	create(t, program)
	entry, selectTier = uniqueName("registered"), uniqueName("select")
	create(t, newTier(program.Name, entry, 0))
	sel := newTier(program.Name, selectTier, 1, atLeast("revenue", "100"), atLeast("training", "5"))
	sel.Spec.Entitlements = v1alpha1.Entitlements{Resell: true, List: true}
	sel.Spec.DemotionGracePeriod = &metav1.Duration{Duration: grace}
	create(t, sel)
	return program, entry, selectTier
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := admin.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Delete(ctx, obj) })
}

// settledPartner creates a partner and waits until the controller has given it a tier.
func settledPartner(t *testing.T, g Gomega, ns, program string, opts ...func(*v1alpha1.Partner)) *v1alpha1.Partner {
	p := newPartner(ns, program)
	for _, o := range opts {
		o(p)
	}
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		g.Expect(p.Status.Tier).NotTo(BeEmpty())
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
	}).Should(Succeed())
	return p
}

func getPartner(g Gomega, p *v1alpha1.Partner) *v1alpha1.Partner {
	var got v1alpha1.Partner
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), &got)).To(Succeed())
	return &got
}

func TestEnablementAloneNeverPromotes(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	g.Expect(p.Status.Tier).To(Equal(entry))

	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(lms, "lms", p, "training", "500", time.Now())).To(Succeed())
	// The evidence is stored and counted, and the partner stays at the entry tier.
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Evidence).To(ContainElement(HaveField("Source", lmsUser)))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionEvidenceCurrent).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getPartner(g, p).Status.Tier).To(Equal(entry))
	}).WithTimeout(2 * time.Second).Should(Succeed())

	// The training evidence was counted: with outcome evidence added, the partner
	// meets both requirements of the select tier and is promoted.
	crm := userClient(t, crmUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", p, "revenue", "150", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).NotTo(Equal(entry)) }).Should(Succeed())
}

func TestOutcomeEvidencePromotesWithARecordAndAnEvent(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)

	qualifyForSelect(t, g, p)

	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(got.Status.Entitlements).To(ContainElement(And(
			HaveField("Name", v1alpha1.EntitlementList),
			HaveField("Source", v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: selectTier}))))
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.From).To(Equal(entry))
		g.Expect(last.To).To(Equal(selectTier))
		g.Expect(last.Reason).To(Equal(v1alpha1.ReasonPromoted))
		g.Expect(last.Evidence).To(ContainElements(
			v1alpha1.EvidenceValue{Metric: "revenue", Value: "150", ObservedAt: last.Evidence[0].ObservedAt},
			HaveField("Metric", "training")))
		g.Expect(last.ProgramGeneration).To(Equal(program.Generation))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())

	eventually(g, func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(
			HaveField("Regarding.Name", p.Name), HaveField("Reason", v1alpha1.ReasonPromoted))))
	}).Should(Succeed())
}

func TestStaleEvidencePutsAtRiskThenDemotesAtTheDeadline(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	// Revenue counts for 10s after it was observed; the tier is kept 3s after that.
	program, entry, selectTier := ladder(t, 10*time.Second, 3*time.Second)
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	// Nobody writes anything: the controller wakes at the staleness deadline by itself.
	var deadline *metav1.Time
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionTierAtRisk).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionEvidenceCurrent)).To(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Message", ContainSubstring("revenue"))))
		g.Expect(got.Status.DemotionDeadline).NotTo(BeNil())
		deadline = got.Status.DemotionDeadline
	}).Should(Succeed())

	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(got.Status.DemotionDeadline).To(BeNil())
		g.Expect(got.Status.Entitlements).NotTo(ContainElement(HaveField("Name", v1alpha1.EntitlementList)))
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last).To(And(HaveField("From", selectTier), HaveField("To", entry), HaveField("Reason", v1alpha1.ReasonDemoted)))
		g.Expect(last.Time.Time).NotTo(BeTemporally("<", deadline.Time), "not demoted before the deadline")
	}).Should(Succeed())
}

func TestRecoveryWithinGraceCancelsTheDemotion(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, selectTier := ladder(t, 10*time.Second, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	crm := qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) {
		g.Expect(condition(getPartner(g, p).Status.Conditions, v1alpha1.ConditionTierAtRisk).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())

	g.Expect(reportEvidence(crm, "crm", p, "revenue", "180", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(got.Status.DemotionDeadline).To(BeNil())
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionTierAtRisk).Status).To(Equal(metav1.ConditionFalse))
	}).Should(Succeed())
	// One promotion, no demotion: the records list every decision (status.history keeps only the present).
	eventually(g, func(g Gomega) {
		g.Expect(countBy(recordsOf(g, p))).To(HaveKeyWithValue(recordsv1alpha1.DecisionTierChange, 2)) // none -> entry, entry -> select
	}).Should(Succeed())
	h := getPartner(g, p).Status.History
	g.Expect(h[len(h)-1].To).To(Equal(selectTier))
}

func TestUntrustedReporterIsRefused(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)
	p := newPartner(ns, program.Name)
	g.Expect(admin.Create(ctx, p)).To(Succeed())

	lms := userClient(t, lmsUser, nil, integrationRules...)
	err := reportEvidence(lms, "lms", p, "revenue", "1000000", time.Now())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring(`metric "revenue"`), ContainSubstring(lmsUser)))
	g.Expect(getPartner(g, p).Status.Evidence).To(BeEmpty())
}

func TestAnIntegrationCannotSetItsOwnTier(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)

	crm := userClient(t, crmUser, nil, integrationRules...)
	forged := p.DeepCopy()
	forged.Status.Tier = "premier"
	err := crm.Status().Patch(ctx, forged, client.MergeFrom(p))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("may not change status.tier"))
}

func TestAPartnerAskingForAnIntegrationIdentityGetsOneForItsOwnStatusOnly(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := selfReportingProgram(t, ns)
	a := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)
	b := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)

	name := v1alpha1.IntegrationName(a.Name)
	var role rbacv1.Role
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &role)).To(Succeed())
	}).Should(Succeed())
	g.Expect(role.Rules).To(Equal([]rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners/status"},
		ResourceNames: []string{a.Name}, Verbs: []string{"get", "patch"},
	}}))
	g.Expect(role.OwnerReferences).To(ContainElement(HaveField("UID", a.UID)), "deleting the partner cleans up")

	// A real token for the ServiceAccount, as an integration would get one.
	integration := newClient(t, tokenConfig(t, g, ns, name))
	// The RoleBinding follows the Role, and the API server's RBAC cache follows both.
	eventually(g, func(g Gomega) {
		g.Expect(reportEvidence(integration, "partner-lms", a, "training", "9", time.Now())).To(Succeed())
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, a).Status.Evidence).To(ContainElement(And(
			HaveField("Metric", "training"), HaveField("Source", "system:serviceaccount:"+ns+":"+name))))
	}).Should(Succeed())

	err := reportEvidence(integration, "partner-lms", b, "training", "9", time.Now())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "partner A's integration writes partner B: %v", err)
	g.Expect(getPartner(g, b).Status.Evidence).To(BeEmpty())

	// Switched off, the identity goes, and with its ServiceAccount every token
	// issued for it: the integration's next write is refused.
	off := getPartner(g, a)
	off.Spec.Integration.Enabled = false
	g.Expect(admin.Update(ctx, off)).To(Succeed())
	for _, obj := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		eventually(g, func(g Gomega) {
			err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s still exists: %v", obj, name, err)
		}).Should(Succeed())
	}
	eventually(g, func(g Gomega) {
		err := reportEvidence(integration, "partner-lms", a, "training", "10", time.Now())
		g.Expect(apierrors.IsUnauthorized(err)).To(BeTrue(), "a revoked identity's token still works: %v", err)
	}).Should(Succeed())
	g.Expect(getPartner(g, a).Status.Evidence).To(ContainElement(HaveField("Value", v1alpha1.Decimal("9"))))
}

func TestAPartnerWithoutAnIntegrationGetsNoIdentity(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	// A partner asking for one, created after, gets its identity: by then the
	// first partner's reconcile, identity included, has long finished.
	asked := settledPartner(t, g, ns, program.Name, withIntegration)
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.IntegrationName(asked.Name)}, &corev1.ServiceAccount{})).To(Succeed())
	}).Should(Succeed())
	for _, obj := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.IntegrationName(p.Name)}, obj)
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T for a partner that asked for no integration: %v", obj, err)
	}
}

// withIntegration makes a partner ask for its own integration identity.
func withIntegration(p *v1alpha1.Partner) {
	p.Spec.Integration = &v1alpha1.PartnerIntegration{Enabled: true}
}

// settledPartnerWithoutTier creates a partner of a program with no tiers and waits
// until the controller has reconciled it.
func settledPartnerWithoutTier(t *testing.T, g Gomega, ns, program string, opts ...func(*v1alpha1.Partner)) *v1alpha1.Partner {
	p := newPartner(ns, program)
	for _, o := range opts {
		o(p)
	}
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
	}).Should(Succeed())
	return p
}

// tokenConfig returns a config authenticating with a fresh token of a ServiceAccount.
func tokenConfig(t *testing.T, g Gomega, ns, sa string) *rest.Config {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(env.Config)
	var tr *authenticationv1.TokenRequest
	eventually(g, func(g Gomega) {
		var err error
		tr, err = cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
	}).Should(Succeed())
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

func TestAnUnchangedPartnerReconciledAgainSendsNoWrite(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	// Wait until no partner is being reconciled (the count stays put for a
	// second), so that the reconcile counted below is the one this test causes.
	before := reconcileCount(g)
	for stable := 0; stable < 4; {
		time.Sleep(250 * time.Millisecond)
		if now := reconcileCount(g); now != before {
			before, stable = now, 0
		} else {
			stable++
		}
	}
	p = getPartner(g, p)

	p.Annotations = map[string]string{"example.com/touched": "yes"} // a watch event, no status change
	g.Expect(admin.Update(ctx, p)).To(Succeed())
	touched := p.ResourceVersion
	eventually(g, func() float64 { return reconcileCount(g) }).Should(BeNumerically(">", before))
	time.Sleep(500 * time.Millisecond)
	g.Expect(getPartner(g, p).ResourceVersion).To(Equal(touched), "the reconcile wrote nothing")
}

// reconcileCount reads controller-runtime's count of partner reconciles.
func reconcileCount(g Gomega) float64 {
	return gauge(g, "controller_runtime_reconcile_total", map[string]string{"controller": "partner"})
}

func TestEvidenceFromAReporterTheCatalogStopsTrustingIsIgnored(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, selectTier := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	// Governance replaces the CRM integration: the old reports no longer count.
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
	program.Spec.Metrics[0].TrustedReporters.ServiceAccounts[0].Name = "crm-sync-v2"
	g.Expect(admin.Update(ctx, program)).To(Succeed())

	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionEvidenceTrusted)).To(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", v1alpha1.ReasonUntrustedEvidence),
			HaveField("Message", And(ContainSubstring("revenue"), ContainSubstring(crmUser)))))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionTierAtRisk).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(got.Status.Evidence).To(ContainElement(HaveField("Metric", "revenue")), "the entry is kept, not deleted")
	}).Should(Succeed())
}

func TestPartnersByTierAreExported(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, _ := ladder(t, time.Hour, time.Hour)
	settledPartner(t, g, ns, program.Name)
	settledPartner(t, g, ns, program.Name)
	eventually(g, func() float64 {
		return gauge(g, "partnergov_partners", map[string]string{"program": program.Name, "tier": entry, "at_risk": "false"})
	}).Should(Equal(2.0))
	g.Expect(gauge(g, "partnergov_tier_transitions_total", map[string]string{"program": program.Name, "from": "", "to": entry})).To(Equal(2.0))
	eventually(g, func(g Gomega) {
		var tier v1alpha1.PartnerTier
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: entry}, &tier)).To(Succeed())
		g.Expect(tier.Status.Partners).To(Equal(int32(2)), "the tier's Partners column")
	}).Should(Succeed())
}

// gauge sums the values of a metric family's series that carry all the given labels.
func gauge(g Gomega, name string, labels map[string]string) float64 {
	families, err := metrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			total += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return total
}

func TestAStatusWriteCannotBorrowAnotherSpecToRemoveEvidence(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)
	p := newPartner(ns, program.Name)
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	crm := userClient(t, crmUser, nil, integrationRules...)
	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", p, "revenue", "150", time.Now())).To(Succeed())

	// The LMS names a program that does not exist, hoping nothing is trusted any more.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"program":"nope"},"status":{"evidence":null}}`))
	err := lms.Status().Patch(ctx, p, patch)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(`may not remove evidence "revenue"`))
	g.Expect(getPartner(g, p).Status.Evidence).To(ContainElement(HaveField("Metric", "revenue")))
}
