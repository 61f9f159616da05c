package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
)

// effectsFixture is a partner at the entry tier (which grants funds up to 10,000
// USD a quarter) of a program whose "select" tier needs revenue and training.
func effectsFixture(t *testing.T, g Gomega, promotionPath bool, stages ...v1alpha1.ReviewStage) (*reviewFixture, string, string) {
	f := &reviewFixture{ns: newNamespace(t)}
	f.path = newPath(t, stages...)
	f.asker = requesterClient(t, f.path)
	var entry, selectTier string
	f.program, entry, selectTier = ladder(t, time.Hour, time.Second)

	updateTier(g, entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.Entitlements.FundsCapPerQuarter = &v1alpha1.Money{Amount: "10000", Currency: "USD"}
	})
	if promotionPath {
		updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.PromotionReviewPath = f.path.Name })
	}
	f.partner = settledPartner(t, g, f.ns, f.program.Name)
	g.Expect(f.partner.Status.Tier).To(Equal(entry))
	return f, entry, selectTier
}

func in(d time.Duration) *metav1.Time {
	return &metav1.Time{Time: time.Now().Add(d).Truncate(time.Second)}
}

func TestATierExceptionHoldsTheTierUntilItExpires(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestTierException, Grant: &v1alpha1.Grant{Tier: selectTier}, Expires: in(10 * time.Second)})
	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())

	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(got.Status.History[len(got.Status.History)-1]).To(And(
			HaveField("Reason", v1alpha1.ReasonTierException), HaveField("Request", r.Name)))
		g.Expect(got.Status.Grants).To(ContainElement(HaveField("Request", r.Name)))
	}).Should(Succeed())

	eventually(g, func(g Gomega) {
		g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseExpired))
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Grants).To(BeEmpty())
		g.Expect(got.Status.Tier).To(Equal(entry), "after the exception and the tier's 1s grace")
	}).Should(Succeed())
}

func TestAnIncentiveExceptionAddsEntitlementsUntilItExpires(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestIncentiveException,
		Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementResell, v1alpha1.EntitlementImplement}}, Expires: in(10 * time.Second)})
	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())

	fromRequest := And(HaveField("Name", v1alpha1.EntitlementImplement),
		HaveField("Source", v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceExceptionRequest, Name: r.Name}),
		HaveField("Expires", Not(BeNil())))
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(ContainElement(fromRequest))
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).NotTo(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
		g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseExpired))
	}).Should(Succeed())
}

func TestFundsAreCommittedAgainstTheCapOnce(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	usd := func(a string) *v1alpha1.Money { return &v1alpha1.Money{Amount: v1alpha1.Decimal(a), Currency: "USD"} }

	first := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	g.Expect(decide(manager, first, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds).NotTo(BeNil())
		g.Expect(funds.Committed).To(Equal(v1alpha1.Decimal("6000")))
		g.Expect(funds.Cap).To(Equal(usd("10000")))
		g.Expect(funds.Commitments).To(ConsistOf(HaveField("Request", first.Name)))
	}).Should(Succeed())

	// 6,000 more does not fit the 4,000 left, and no stage may approve over the cap.
	second := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonOverCap))
	}).Should(Succeed())
	g.Expect(getPartner(g, f.partner).Status.Funds.Committed).To(Equal(v1alpha1.Decimal("6000")))
}

func TestAnApprovedReadinessClaimIsRecordedUntilItExpires(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	spec := claimSpec()
	spec.Expires = in(10 * time.Second)
	r := f.ask(g, spec)
	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.ReadinessClaims).To(ConsistOf(And(
			HaveField("Request", r.Name), HaveField("Product", "sync"), HaveField("Kind", v1alpha1.ReadinessClaimCertification))))
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.ReadinessClaims).To(BeEmpty())
		g.Expect(condition(getRequest(g, r).Status.Conditions, v1alpha1.ConditionExpired).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())
}

func TestAPromotionThatNeedsReviewWaitsForItsApproval(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, true, stage("program-office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	qualifyForSelect(t, g, f.partner)

	var promotion v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionPromotionPending).Status).To(Equal(metav1.ConditionTrue))
		var requests v1alpha1.ExceptionRequestList
		g.Expect(admin.List(ctx, &requests, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(requests.Items).To(ContainElement(And(
			HaveField("Spec.Type", v1alpha1.RequestTierPromotion), HaveField("Spec.Grant.Tier", selectTier),
			HaveField("Status.CurrentStage", "program-office")), &promotion))
	}).Should(Succeed())

	office := reviewer(t, "alice@example.com", f.path, "program-office")
	g.Expect(decide(office, &promotion, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(got.Status.History[len(got.Status.History)-1].Request).To(Equal(promotion.Name))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionPromotionPending).Status).To(Equal(metav1.ConditionFalse))
	}).Should(Succeed())
}

func TestAManagerRestartedMidReviewLosesNoDecisionAndRepeatsNoEffect(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false,
		stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutDeny))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "finance")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: &v1alpha1.Money{Amount: "2500", Currency: "USD"}})

	g.Expect(decide(alice, r, "manager", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())

	restartManager(t)

	g.Expect(decide(bob, r, "finance", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseApproved)) }).Should(Succeed())
	restartManager(t) // and once more after the approval
	eventually(g, func(g Gomega) {
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds).NotTo(BeNil())
		g.Expect(funds.Commitments).NotTo(BeEmpty())
	}).Should(Succeed())

	got := getRequest(g, r)
	g.Expect(got.Status.Decisions).To(HaveLen(2))
	approvals := 0
	for _, h := range got.Status.History {
		if h.Reason == review.ReasonApproved {
			approvals++
		}
	}
	g.Expect(approvals).To(Equal(1), "one approval in the request's history")
	g.Consistently(func(g Gomega) {
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds.Committed).To(Equal(v1alpha1.Decimal("2500")))
		g.Expect(funds.Commitments).To(HaveLen(1))
	}).WithTimeout(2 * time.Second).Should(Succeed())
}
