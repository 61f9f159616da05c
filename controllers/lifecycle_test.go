package controllers_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/test/testenv"
)

// lifecycleFixture is a program whose entry tier grants Resell, List and funds up
// to 10,000 USD a quarter, whose probation withholds Funds and Resell, with
// change applied to the program before the partner is created (which then joins).
func lifecycleFixture(t *testing.T, g Gomega, change func(*v1alpha1.PartnerProgram)) *reviewFixture {
	f := &reviewFixture{ns: newNamespace(t)}
	f.path = newPath(t, overCapStage())
	f.asker = requesterClient(t, f.path)
	var entry string
	f.program, entry, _ = ladder(t, time.Hour, time.Hour)
	updateTier(g, entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.Entitlements.List = true
		t.Spec.Entitlements.FundsCapPerQuarter = &v1alpha1.Money{Amount: "10000", Currency: "USD"}
	})
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.Probation = &v1alpha1.Probation{Withhold: []v1alpha1.EntitlementName{v1alpha1.EntitlementFunds, v1alpha1.EntitlementResell}}
		change(p)
	})
	f.partner = settledPartner(t, g, f.ns, f.program.Name)
	return f
}

func entitlementNames(p *v1alpha1.Partner) []v1alpha1.EntitlementName {
	var out []v1alpha1.EntitlementName
	for _, e := range p.Status.Entitlements {
		out = append(out, e.Name)
	}
	return out
}

func phaseOfPartner(g Gomega, p *v1alpha1.Partner) v1alpha1.LifecyclePhase {
	got := getPartner(g, p)
	if got.Status.Lifecycle == nil {
		return ""
	}
	return got.Status.Lifecycle.Phase
}

// expectLifecycleHistory checks that the partner's transitions are exactly the
// given moves ("From->To:Reason"), each with exactly one LifecycleChange
// record and one Event, and that this stays so.
func expectLifecycleHistory(g Gomega, p *v1alpha1.Partner, moves ...string) {
	check := func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle).NotTo(BeNil())
		var stored []string
		for _, t := range got.Status.Lifecycle.Transitions {
			stored = append(stored, fmt.Sprintf("%s->%s:%s", t.From, t.To, t.Reason))
		}
		g.Expect(stored).To(Equal(moves))
		var records []string
		for _, r := range recordsOf(g, p) {
			if r.Spec.Type == recordsv1alpha1.DecisionLifecycleChange {
				records = append(records, fmt.Sprintf("%s->%s:%s", r.Spec.From, r.Spec.To, r.Spec.Reason))
			}
		}
		g.Expect(records).To(ConsistOf(moves))
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(p.Namespace))).To(Succeed())
		var events []string
		for _, e := range evs.Items {
			if e.Regarding.Name == p.Name && e.Action == "LifecycleChange" {
				events = append(events, e.Reason)
			}
		}
		var reasons []string
		for _, t := range got.Status.Lifecycle.Transitions {
			reasons = append(reasons, t.Reason)
		}
		g.Expect(events).To(ConsistOf(reasons))
	}
	eventually(g, check).Should(Succeed())
	g.Consistently(check).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

func TestAnOverdueOnboardingStepPutsThePartnerOnProbationAndWithholdsWhatTheProgramSays(t *testing.T) {
	g := NewWithT(t)
	// One step: at least one training completion within 6 seconds of joining.
	f := lifecycleFixture(t, g, func(p *v1alpha1.PartnerProgram) {
		p.Spec.Onboarding = &v1alpha1.Onboarding{Steps: []v1alpha1.OnboardingStep{{
			Name: "first-training", Due: metav1.Duration{Duration: 6 * time.Second}, Evidence: &v1alpha1.TierRequirement{
				Metric: "training", Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: "1"}}}}
	})
	p := f.partner

	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle).NotTo(BeNil())
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleProbation))
		g.Expect(got.Status.Lifecycle.Reason).To(Equal(v1alpha1.ReasonOnboardingStepOverdue))
		g.Expect(got.Status.Lifecycle.Onboarding).To(ConsistOf(And(HaveField("Name", "first-training"),
			HaveField("State", v1alpha1.OnboardingStepOverdue), HaveField("MetAt", BeNil()))))
		// Exactly what the program names is withheld: List stays.
		g.Expect(got.Status.Lifecycle.Withheld).To(ConsistOf(v1alpha1.EntitlementResell, v1alpha1.EntitlementFunds))
		g.Expect(entitlementNames(got)).To(Equal([]v1alpha1.EntitlementName{v1alpha1.EntitlementList}))
		g.Expect(got.Status.Lifecycle.ProbationReasons).To(ConsistOf(ContainSubstring("onboarding step first-training")))
		prob := condition(got.Status.Conditions, v1alpha1.ConditionProbation)
		g.Expect(prob.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(prob.Reason).To(Equal(v1alpha1.ReasonOnboardingStepOverdue))
		g.Expect(prob.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonOnProbation))
	}).Should(Succeed())

	// The withheld Funds entitlement means a funds request is denied.
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	deniedWith(g, r, v1alpha1.ReasonNotEntitled)

	// Meeting the step later returns the partner to Active with all it held.
	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(lms, "lms", p, "training", "1", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleActive))
		g.Expect(got.Status.Lifecycle.Onboarding).To(ConsistOf(And(HaveField("State", v1alpha1.OnboardingStepMet), HaveField("MetAt", Not(BeNil())))))
		g.Expect(got.Status.Lifecycle.Withheld).To(BeEmpty())
		g.Expect(entitlementNames(got)).To(ConsistOf(v1alpha1.EntitlementResell, v1alpha1.EntitlementList, v1alpha1.EntitlementFunds))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionProbation).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonReconciled))
	}).Should(Succeed())

	expectLifecycleHistory(g, p, "->Onboarding:OnboardingStarted", "Onboarding->Probation:OnboardingStepOverdue",
		"Probation->Active:ProbationLifted")
}

func TestARiskBreachPutsThePartnerOnProbationAtOnceAndRecoveryLiftsIt(t *testing.T) {
	g := NewWithT(t)
	f := lifecycleFixture(t, g, func(p *v1alpha1.PartnerProgram) {
		risk := metric("escalations", v1alpha1.MetricClassRisk, "crm-sync")
		risk.ProbationAbove = "3"
		p.Spec.Metrics = append(p.Spec.Metrics, risk)
	})
	p := f.partner
	eventually(g, func(g Gomega) { g.Expect(phaseOfPartner(g, p)).To(Equal(v1alpha1.LifecycleActive)) }).Should(Succeed())

	crm := userClient(t, crmUser, nil, integrationRules...)
	g.Expect(reportEvidence(crm, "crm", p, "escalations", "4", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleProbation))
		g.Expect(got.Status.Lifecycle.Reason).To(Equal(v1alpha1.ReasonRiskThresholdExceeded))
		g.Expect(got.Status.Lifecycle.ProbationReasons).To(ConsistOf(ContainSubstring("escalations is 4")))
		g.Expect(entitlementNames(got)).To(Equal([]v1alpha1.EntitlementName{v1alpha1.EntitlementList}))
		// Whatever the tier requirements say: the tier is kept, its entitlements withheld.
		g.Expect(got.Status.Tier).To(Equal(p.Status.Tier))
		prob := condition(got.Status.Conditions, v1alpha1.ConditionProbation)
		g.Expect(prob.Reason).To(Equal(v1alpha1.ReasonRiskThresholdExceeded))
		// Only the partner on probation has a series, naming its owner, for the alert.
		g.Expect(samples(g, "partnergov_partner_probation_since_timestamp_seconds", map[string]string{"program": f.program.Name})).To(ConsistOf(
			sample{Labels: map[string]string{"program": f.program.Name, "partner_namespace": p.Namespace, "partner": p.Name,
				"owner": p.Spec.Owner, "reason": v1alpha1.ReasonRiskThresholdExceeded}, Value: float64(prob.LastTransitionTime.Unix())}))
	}).Should(Succeed())

	g.Expect(reportEvidence(crm, "crm", p, "escalations", "3", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleActive))
		g.Expect(entitlementNames(got)).To(ConsistOf(v1alpha1.EntitlementResell, v1alpha1.EntitlementList, v1alpha1.EntitlementFunds))
		g.Expect(samples(g, "partnergov_partner_probation_since_timestamp_seconds", map[string]string{"program": f.program.Name})).To(BeEmpty())
	}).Should(Succeed())

	expectLifecycleHistory(g, p, "Active->Probation:RiskThresholdExceeded", "Probation->Active:ProbationLifted")
}

func TestOffboardedWithdrawsEveryEntitlementAtItsEffectiveTime(t *testing.T) {
	g := NewWithT(t)
	f := lifecycleFixture(t, g, func(*v1alpha1.PartnerProgram) {})
	p := f.partner
	eventually(g, func(g Gomega) { g.Expect(phaseOfPartner(g, p)).To(Equal(v1alpha1.LifecycleActive)) }).Should(Succeed())

	effective := time.Now().Add(6 * time.Second).UTC().Truncate(time.Second)
	patch := fmt.Sprintf(`{"spec":{"offboarding":{"reason":"contract ended","effective":%q}}}`, effective.Format(time.RFC3339))
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleOffboarding))
		g.Expect(entitlementNames(got)).To(ConsistOf(v1alpha1.EntitlementResell, v1alpha1.EntitlementList, v1alpha1.EntitlementFunds))
	}).Should(Succeed())

	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleOffboarded))
		g.Expect(got.Status.Entitlements).To(BeEmpty())
		g.Expect(got.Status.Lifecycle.Since.Time).NotTo(BeTemporally("<", effective))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonOffboarded))
	}).Should(Succeed())
	expectLifecycleHistory(g, p, "Active->Offboarding:OffboardingScheduled", "Offboarding->Offboarded:OffboardingEffective")
	g.Expect(slices.ContainsFunc(recordsOf(g, p), func(r recordsv1alpha1.DecisionRecord) bool { return r.Spec.Type == recordsv1alpha1.DecisionTierChange })).To(BeTrue())
}

// TestOnboardingCannotBeSkippedByTiming: whether a partner has been through
// onboarding is stored (status.lifecycle.onboardedAt), never inferred from a
// status the controller wrote before. A partner first reconciled before its
// program reached the controller's cache (GitOps applying both at once) is left
// with a status (observedGeneration, no lifecycle); the webhook refuses a
// partner whose program does not exist at all, so the test writes that state as
// the manager would have, then the program's next change reaches the partner:
// it must go through the program's onboarding, not become Active.
func TestOnboardingCannotBeSkippedByTiming(t *testing.T) {
	g := NewWithT(t)
	f := lifecycleFixture(t, g, func(p *v1alpha1.PartnerProgram) {
		p.Spec.Onboarding = &v1alpha1.Onboarding{Steps: []v1alpha1.OnboardingStep{{
			Name: "first-training", Due: metav1.Duration{Duration: time.Hour}, Evidence: &v1alpha1.TierRequirement{
				Metric: "training", Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: "1"}}}}
	})
	p := f.partner
	eventually(g, func(g Gomega) { g.Expect(phaseOfPartner(g, p)).To(Equal(v1alpha1.LifecycleOnboarding)) }).Should(Succeed())

	// The state a reconcile before the program was in the cache leaves: a
	// status for the current generation, no lifecycle.
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	manager := newClient(t, cfg)
	patch := []byte(`{"status":{"lifecycle":null}}`)
	g.Expect(manager.Status().Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, patch), client.FieldOwner(controllers.FieldOwner))).To(Succeed())
	// The program reaches the partner (a spec change is what the partner watches).
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) { p.Spec.Onboarding.Steps[0].Due.Duration = 2 * time.Hour })

	onboarding := func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle).NotTo(BeNil())
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleOnboarding), got.Status.Lifecycle.Message)
		g.Expect(got.Status.Lifecycle.OnboardedAt).To(BeNil())
		g.Expect(got.Status.Lifecycle.Onboarding).To(ConsistOf(And(HaveField("Name", "first-training"), HaveField("State", v1alpha1.OnboardingStepDue))))
	}
	eventually(g, func(g Gomega) {
		onboarding(g)
		g.Expect(getPartner(g, p).Status.Lifecycle.Onboarding[0].Due.Time).To(BeTemporally("~", p.Spec.JoinedAt.Add(2*time.Hour), time.Second))
	}).Should(Succeed())
	g.Consistently(onboarding).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	// An explicit, stored adoption is what lets a pre-existing partner skip the
	// steps: one created before the program's adoptPartnersCreatedBefore.
	updateProgram(g, f.program.Name, func(prog *v1alpha1.PartnerProgram) {
		prog.Spec.Onboarding.AdoptPartnersCreatedBefore = &metav1.Time{Time: p.CreationTimestamp.Add(time.Second)}
	})
	g.Expect(manager.Status().Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, patch), client.FieldOwner(controllers.FieldOwner))).To(Succeed())
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) { p.Spec.Onboarding.Steps[0].Due.Duration = 3 * time.Hour })
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle).NotTo(BeNil())
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleActive))
		g.Expect(got.Status.Lifecycle.Reason).To(Equal(v1alpha1.ReasonAdoptedPreExisting))
		g.Expect(got.Status.Lifecycle.OnboardedAt).NotTo(BeNil())
		g.Expect(recordsOf(g, p)).To(ContainElement(And(HaveField("Spec.Type", recordsv1alpha1.DecisionLifecycleChange),
			HaveField("Spec.To", string(v1alpha1.LifecycleActive)), HaveField("Spec.Reason", v1alpha1.ReasonAdoptedPreExisting))))
	}).Should(Succeed())
}

// TestAdoptionCannotLieInTheFuture: a program editor may adopt the partners
// that existed before onboarding (spec.onboarding.adoptPartnersCreatedBefore),
// never the ones still to come: a time in the future would let every partner
// created until then skip the onboarding steps. Admission refuses it, naming
// the field; a time already past is accepted.
func TestAdoptionCannotLieInTheFuture(t *testing.T) {
	g := NewWithT(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	onboarding := func(cutoff time.Time) func(*v1alpha1.PartnerProgram) {
		return func(p *v1alpha1.PartnerProgram) {
			p.Spec.Onboarding = &v1alpha1.Onboarding{AdoptPartnersCreatedBefore: &metav1.Time{Time: cutoff}, Steps: []v1alpha1.OnboardingStep{{
				Name: "first-training", Due: metav1.Duration{Duration: time.Hour}, Evidence: &v1alpha1.TierRequirement{
					Metric: "training", Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: "1"}}}}
		}
	}
	var p v1alpha1.PartnerProgram
	g.Expect(admin.Get(ctx, client.ObjectKey{Name: program.Name}, &p)).To(Succeed())
	onboarding(time.Now().Add(365 * 24 * time.Hour))(&p)
	err := admin.Update(ctx, &p)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(And(ContainSubstring("spec.onboarding.adoptPartnersCreatedBefore"), ContainSubstring("may not be in the future")))
	updateProgram(g, program.Name, onboarding(time.Now().Add(-time.Hour)))
}
