package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Issue 29: the controller's own settlement is sealed. A Funds request its
// reviewer approved (a sealed quorum) that the controller then denied OverCap
// at approval, written back to Approved past the webhooks, gives nothing: the
// sealed decisions explain an approval, but no sealed outcome of the
// controller says Approved. Neither with recordedPhase forged to Approved
// too (the funds would be committed) nor with it left Denied (the controller
// would also make an approval DecisionRecord): the partner's committed funds
// stay at the first approval's 6,000 of its 10,000 cap, no Approved outcome is
// recorded for either, and both show OutcomeSealed=False (UnexplainedOutcome)
// with a Warning event.
func TestAFundsRequestDeniedAtApprovalWrittenBackToApprovedGivesNothing(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	// All three resolve while the whole cap remains, so each waits for the
	// manager; only the first approval fits.
	first := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	second := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	third := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	for _, r := range []*v1alpha1.ExceptionRequest{first, second, third} {
		eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
	}
	g.Expect(decide(manager, first, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getRequest(g, first).Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds).NotTo(BeNil())
		g.Expect(funds.Committed).To(Equal(v1alpha1.Decimal("6000")))
	}).Should(Succeed())
	for _, r := range []*v1alpha1.ExceptionRequest{second, third} {
		g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
		eventually(g, func(g Gomega) {
			got := getRequest(g, r)
			g.Expect(got.Status.RecordedPhase).To(Equal(v1alpha1.PhaseDenied))
			c := condition(got.Status.Conditions, v1alpha1.ConditionDenied)
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonOverCap))
			g.Expect(c.Message).To(HavePrefix("at approval, "), "denied after the manager's quorum")
		}).Should(Succeed())
	}

	// Written back to Approved past the webhooks, as the controller would have
	// written an approval: the second with recordedPhase Approved, the third
	// with recordedPhase left Denied.
	restore := withoutStatusGuards(t, g)
	for _, r := range []*v1alpha1.ExceptionRequest{second, third} {
		g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			forged := getRequest(g, r)
			forged.Status.Phase = v1alpha1.PhaseApproved
			if r == second {
				forged.Status.RecordedPhase = v1alpha1.PhaseApproved
			}
			now := metav1.Now()
			for typ, status := range map[string]metav1.ConditionStatus{v1alpha1.ConditionApproved: metav1.ConditionTrue, v1alpha1.ConditionDenied: metav1.ConditionFalse} {
				meta.SetStatusCondition(&forged.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: v1alpha1.ReasonQuorumReached,
					Message: "every stage of the review path reached quorum", LastTransitionTime: now, ObservedGeneration: forged.Generation})
			}
			return admin.Status().Update(ctx, forged)
		})).To(Succeed())
	}
	restore()

	for _, r := range []*v1alpha1.ExceptionRequest{second, third} {
		eventually(g, func(g Gomega) {
			got := getRequest(g, r)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved), "the forged phase is stored")
			c := condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "the forged approval is unexplained")
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonUnexplainedOutcome))
			var evs eventsv1.EventList
			g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
			g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", r.Name), HaveField("Reason", v1alpha1.ReasonUnexplainedOutcome))))
		}).Should(Succeed())
	}
	g.Consistently(func(g Gomega) {
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds.Committed).To(Equal(v1alpha1.Decimal("6000")), "a denial written back to Approved committed funds past the cap")
		g.Expect(funds.Commitments).To(ConsistOf(HaveField("Request", first.Name)))
		for _, rec := range recordsOf(g, f.partner) {
			if rec.Spec.Type == recordsv1alpha1.DecisionRequestOutcome && rec.Spec.To == string(v1alpha1.PhaseApproved) {
				g.Expect(rec.Spec.Request).To(Equal(first.Name), "a denial written back to Approved was recorded as an approval")
			}
		}
	}).WithTimeout(4 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
