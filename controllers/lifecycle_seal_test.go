package controllers_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/testenv"
)

// Decision integrity III, item 7: lifecycle transitions are sealed. A partner
// on probation for an overdue onboarding step, whose status is rewritten past
// the webhooks as Active, onboarded, its step met and probation lifted (and
// Resell and Funds given back), gains nothing: the controller decides its
// lifecycle again from the program's steps (Probation, Resell and Funds
// withheld, no onboardedAt), seals it, records no forged transition, and says
// so with a Warning Event UnsealedLifecycle.
func TestAForgedLifecyclePhaseGrantsNothing(t *testing.T) {
	g := NewWithT(t)
	f := lifecycleFixture(t, g, func(p *v1alpha1.PartnerProgram) {
		p.Spec.Onboarding = &v1alpha1.Onboarding{Steps: []v1alpha1.OnboardingStep{{
			Name: "first-training", Due: metav1.Duration{Duration: 2 * time.Second}, Evidence: &v1alpha1.TierRequirement{
				Metric: "training", Operator: v1alpha1.OperatorGreaterThanOrEqual, Threshold: "1"}}}}
	})
	p := f.partner
	var onProbation *v1alpha1.Partner
	eventually(g, func(g Gomega) {
		onProbation = getPartner(g, p)
		g.Expect(onProbation.Status.Lifecycle).NotTo(BeNil())
		g.Expect(onProbation.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleProbation))
		g.Expect(entitlementNames(onProbation)).To(Equal([]v1alpha1.EntitlementName{v1alpha1.EntitlementList}))
		g.Expect(testenv.TestSeals.LifecycleSealed(onProbation)).To(BeTrue(), "the controller seals the lifecycle it decides")
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	now := metav1.Now().UTC().Format(time.RFC3339)
	lc := onProbation.Status.Lifecycle
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"lifecycle": map[string]any{"phase": "Active", "since": now, "reason": v1alpha1.ReasonProbationLifted, "onboardedAt": now,
			"onboarding": []any{map[string]any{"name": "first-training", "state": "Met", "due": lc.Onboarding[0].Due, "metAt": now}},
			"withheld":   nil, "probationReasons": nil,
			"transitions": append(append([]v1alpha1.LifecycleTransition{}, lc.Transitions...), v1alpha1.LifecycleTransition{
				Time: metav1.Now(), From: v1alpha1.LifecycleProbation, To: v1alpha1.LifecycleActive, Reason: v1alpha1.ReasonProbationLifted, Message: "forged"}),
		},
		"entitlements": append(append([]v1alpha1.EffectiveEntitlement{}, onProbation.Status.Entitlements...),
			v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementResell, Source: onProbation.Status.Entitlements[0].Source}),
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	restore()

	check := func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Lifecycle.Phase).To(Equal(v1alpha1.LifecycleProbation), got.Status.Lifecycle.Message)
		g.Expect(got.Status.Lifecycle.OnboardedAt).To(BeNil(), "no onboardedAt from a forged lifecycle")
		g.Expect(entitlementNames(got)).To(Equal([]v1alpha1.EntitlementName{v1alpha1.EntitlementList}), "Resell and Funds stay withheld")
		g.Expect(got.Status.Lifecycle.Transitions).NotTo(ContainElement(HaveField("Message", "forged")))
		g.Expect(testenv.TestSeals.LifecycleSealed(got)).To(BeTrue())
		for _, r := range recordsOf(g, p) {
			g.Expect(r.Spec.Reason).NotTo(Equal(v1alpha1.ReasonProbationLifted), "a forged transition is not recorded")
		}
	}
	eventually(g, func(g Gomega) {
		check(g)
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", p.Name), HaveField("Reason", v1alpha1.ReasonUnsealedLifecycle))))
	}).Should(Succeed())
	g.Consistently(check).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
