package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// A request the controller settled is not decided again when its status is
// written back to Pending past the webhooks: its outcome is recorded, and the
// record holds whatever the status says now. A Funds request the manager
// approved that the controller denied OverCap at approval, written back to
// Pending with its sealed outcome removed once the cap has room (the program
// editor raised it; the next quarter or a partner that became entitled do the
// same), would otherwise be approved again without a new review, from the
// manager's old sealed quorum. It is held (StatusBehindRecords) and commits
// nothing.
func TestASettledRequestWrittenBackToPendingIsNotDecidedAgain(t *testing.T) {
	g := NewWithT(t)
	f, entry, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	first := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	second := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	for _, r := range []*v1alpha1.ExceptionRequest{first, second} {
		eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
	}
	g.Expect(decide(manager, first, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getRequest(g, first).Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(getPartner(g, f.partner).Status.Funds).To(HaveField("Committed", v1alpha1.Decimal("6000")))
	}).Should(Succeed())
	g.Expect(decide(manager, second, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		g.Expect(got.Status.RecordedPhase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonOverCap))
	}).Should(Succeed())

	// The cap now has room for both.
	updateTier(g, entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.Entitlements.FundsCapPerQuarter = &v1alpha1.Money{Amount: "20000", Currency: "USD"}
	})
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Funds).To(HaveField("Cap", HaveField("Amount", v1alpha1.Decimal("20000"))))
	}).Should(Succeed())

	// Written back to Pending past the webhooks, its settlement removed.
	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, second)
		forged.Status.Phase = v1alpha1.PhasePending
		forged.Status.Outcome = nil
		forged.Status.RecordedPhase = ""
		for _, typ := range []string{v1alpha1.ConditionDenied, v1alpha1.ConditionApproved, v1alpha1.ConditionReady, v1alpha1.ConditionOutcomeSealed} {
			meta.RemoveStatusCondition(&forged.Status.Conditions, typ)
		}
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	g.Consistently(func(g Gomega) {
		g.Expect(getRequest(g, second).Status.Phase).NotTo(Equal(v1alpha1.PhaseApproved), "a denied request was approved again without a review")
		g.Expect(getPartner(g, f.partner).Status.Funds).To(HaveField("Committed", v1alpha1.Decimal("6000")))
		for _, rec := range recordsOf(g, f.partner) {
			if rec.Spec.Type == recordsv1alpha1.DecisionRequestOutcome && rec.Spec.To == string(v1alpha1.PhaseApproved) {
				g.Expect(rec.Spec.Request).To(Equal(first.Name), "a denied request was recorded as approved")
			}
		}
	}).WithTimeout(4 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		c := condition(got.Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "the request's Denied outcome is recorded")
	}).Should(Succeed())
}
