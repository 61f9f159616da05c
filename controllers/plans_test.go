package controllers_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/effects"
)

// tracks summarises status.enablement.required as "track@tier".
func tracks(p *v1alpha1.Partner) []string {
	if p.Status.Enablement == nil {
		return nil
	}
	var out []string
	for _, r := range p.Status.Enablement.Required {
		out = append(out, r.Track+"@"+r.Tier)
	}
	return out
}

func TestAPromotionChangesTheRequiredEnablement(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, time.Hour)
	updateTier(g, entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{{Name: "partner-basics"}}
	})
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) {
		t.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{{Name: "sales-foundations", Description: "the select sales track"}}
	})
	p := settledPartner(t, g, ns, program.Name)
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(tracks(got)).To(Equal([]string{"partner-basics@" + entry}))
	}).Should(Succeed())

	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		// Written with the tier, in the same status: never the new tier with the old list.
		g.Expect(got.Status.Enablement.Tier).To(Equal(selectTier))
		g.Expect(tracks(got)).To(Equal([]string{"partner-basics@" + entry, "sales-foundations@" + selectTier}))
	}).Should(Succeed())
}

// planPath is a review path for BusinessPlan requests with one stage, "plans".
func planPath(t *testing.T) *v1alpha1.ReviewPath {
	t.Helper()
	p := &v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("plans")},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestBusinessPlan}},
			Stages:          []v1alpha1.ReviewStage{stage("plans", 1, time.Hour, v1alpha1.TimeoutEscalate)},
			EscalationOwner: "vp-partnerships@example.com",
		},
	}
	create(t, p)
	return p
}

// thisQuarter is a Quarter plan period for the current calendar quarter.
func thisQuarter() v1alpha1.PlanPeriod {
	_, end := effects.Quarter(time.Now())
	return v1alpha1.PlanPeriod{Kind: v1alpha1.PlanQuarter, Start: metav1.NewTime(end.AddDate(0, -3, 0))}
}

func newPlan(ns, partner string, goals ...v1alpha1.PlanGoal) *v1alpha1.JointBusinessPlan {
	return &v1alpha1.JointBusinessPlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("plan")},
		Spec: v1alpha1.JointBusinessPlanSpec{
			Partner: partner, Period: thisQuarter(), Goals: goals,
			Owners: v1alpha1.PlanOwners{Company: []string{"pam@example.com"}, Partner: []string{"ceo@partner.example"}},
		},
	}
}

func TestATierRequiringAPlanHoldsAQualifiedPartnerUntilItsPlanIsApproved(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, time.Hour)
	path := planPath(t)
	updateProgram(g, program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.BusinessPlans = &v1alpha1.BusinessPlanRules{ReviewPath: path.Name}
	})
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.RequiresBusinessPlan = true })
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)

	// The evidence meets select, but without a plan the partner qualifies for the entry tier only.
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Evidence).To(HaveLen(2))
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(got.Status.QualifiedTier).To(Equal(entry))
		c := condition(got.Status.Conditions, v1alpha1.ConditionPromotionPending)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonBusinessPlanRequired))
		g.Expect(c.Message).To(ContainSubstring("tier " + selectTier + ", which requires an approved, current joint business plan"))
	}).Should(Succeed())

	// A goal on a metric the catalog lacks is refused at admission.
	bad := newPlan(ns, p.Name, v1alpha1.PlanGoal{Metric: "nps", Target: "50"})
	err := admin.Create(ctx, bad)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(And(ContainSubstring("spec.goals[0].metric"), ContainSubstring(`metric "nps" is not in the catalog of program `+program.Name)))

	jbp := newPlan(ns, p.Name, v1alpha1.PlanGoal{Metric: "revenue", Target: "1000"}, v1alpha1.PlanGoal{Metric: "training", Target: "5"})
	create(t, jbp)
	var request v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Phase).To(Equal(v1alpha1.PlanPendingApproval))
		g.Expect(jbp.Status.Request).NotTo(BeEmpty())
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: jbp.Status.Request}, &request)).To(Succeed())
		g.Expect(request.Spec.Type).To(Equal(v1alpha1.RequestBusinessPlan))
		g.Expect(request.Spec.Grant.BusinessPlan).To(Equal(jbp.Name))
		g.Expect(request.Status.ReviewPath).NotTo(BeNil())
		g.Expect(request.Status.ReviewPath.Name).To(Equal(path.Name))
		g.Expect(request.Status.CurrentStage).To(Equal("plans"))
	}).Should(Succeed())
	// A plan under review is not an approved plan.
	g.Consistently(func(g Gomega) {
		g.Expect(getPartner(g, p).Status.Tier).To(Equal(entry))
	}).WithTimeout(2 * time.Second).Should(Succeed())

	g.Expect(decide(reviewer(t, "alice@example.com", path, "plans"), &request, "plans", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionPromotionPending).Reason).NotTo(Equal(v1alpha1.ReasonBusinessPlanRequired))
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Phase).To(Equal(v1alpha1.PlanApproved))
		g.Expect(jbp.Status.ApprovedAt).NotTo(BeNil())
		// revenue 150 of 1000 and training 7 of 5, measured against current evidence.
		g.Expect(jbp.Status.Goals).To(ConsistOf(
			And(HaveField("Metric", "revenue"), HaveField("Current", v1alpha1.Decimal("150")), HaveField("State", Not(Equal(v1alpha1.GoalMet)))),
			And(HaveField("Metric", "training"), HaveField("Current", v1alpha1.Decimal("7")), HaveField("State", v1alpha1.GoalMet))))
		g.Expect(jbp.Status.NextReviewDue).NotTo(BeNil())
	}).Should(Succeed())

	// Changing an approved plan's goals asks for a new approval under a new request.
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		jbp.Spec.Goals[0].Target = "2000"
		g.Expect(admin.Update(ctx, jbp)).To(Succeed())
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Phase).To(Equal(v1alpha1.PlanPendingApproval))
		g.Expect(jbp.Status.Request).NotTo(Equal(request.Name))
		g.Expect(strings.HasPrefix(jbp.Status.Request, jbp.Name+"-plan-")).To(BeTrue())
	}).Should(Succeed())
}
