package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Rule 7, a sealed decision has one place in history: a recorded decision
// whose seal is broken in place is as cut as one removed. A request whose
// final Deny (recorded) is kept in status.decisions with its seal broken past
// the webhooks (same reviewer, stage, verdict and time: what the record holds)
// and its phase back to Pending no longer counts the Deny; without the records
// another reviewer's approval would then approve it. It is held
// (StatusBehindRecords) as a cut Deny is.
func TestARecordedDecisionBrokenInPlaceHoldsTheRequest(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	var pending *v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		pending = getRequest(g, r)
		g.Expect(pending.Status.CurrentStage).To(Equal("manager"))
	}).Should(Succeed())
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "manager")
	g.Expect(decide(alice, r, "manager", v1alpha1.DecisionDeny)).To(Succeed())
	var denied *v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		denied = getRequest(g, r)
		g.Expect(denied.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(denied.Status.RecordedDecisions).To(BeEquivalentTo(1), "the Deny is recorded")
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, r)
		retain := forged.Status.RetainUntil // fixed by the API once decided
		forged.Status = *pending.Status.DeepCopy()
		forged.Status.RetainUntil = retain
		deny := denied.Status.Decisions[0]
		deny.Seal = "v1.broken"
		forged.Status.Decisions = []v1alpha1.ReviewDecision{deny}
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	behind := func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).NotTo(Equal(v1alpha1.PhaseApproved), "a request whose recorded Deny was broken in place is not approved")
		c := condition(got.Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	}
	time.Sleep(time.Second) // the controller sees the forged status
	g.Expect(decide(bob, r, "manager", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, behind).Should(Succeed())
	g.Consistently(behind).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
