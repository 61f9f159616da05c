package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// A TierPromotion approval promotes once (TestAPromotionApprovalIsUsedOnce).
// Once it is used up (Expired, PromotionUsed) the partner's status forgets it:
// status.grants drops the grant and status.history, which keeps only the
// present, drops the decision that applied it. The request's status written
// back to its Approved snapshot past the webhooks (a final phase: nothing
// compares it with its records) must not make the used approval promote the
// partner again: its GrantExpiry record says it was used.
func TestAUsedPromotionApprovalRevivedPastTheWebhooksDoesNotPromoteAgain(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, true, stage("program-office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	first := v1alpha1.PromotionRequestName(f.partner.Name, selectTier)
	eventually(g, func(g Gomega) {
		g.Expect(promotionRequests(g, f.partner)[first].Status.Phase).To(Equal(v1alpha1.PhasePending))
	}).Should(Succeed())
	office := reviewer(t, "alice@example.com", f.path, "program-office")
	g.Expect(decide(office, &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: first}}, "", v1alpha1.DecisionApprove)).To(Succeed())
	var approved v1alpha1.ExceptionRequestStatus
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier))
		r := promotionRequests(g, f.partner)[first]
		g.Expect(r.Status.Phase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(r.Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		approved = *r.Status.DeepCopy()
	}).Should(Succeed())

	// The revenue falls: the partner drops after the 1s grace, the approval is
	// used up, and once recorded the status forgets the promotion.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry))
		r := promotionRequests(g, f.partner)[first]
		g.Expect(r.Status.Phase).To(Equal(v1alpha1.PhaseExpired))
		g.Expect(r.Status.RecordedPhase).To(Equal(v1alpha1.PhaseExpired))
		g.Expect(got.Status.Grants).To(BeEmpty())
	}).Should(Succeed())
	// Two more decisions (the entry tier asks for more training, then no
	// longer does) push the promotion's decision out of status.history once it
	// is recorded: the history drops recorded decisions with the next
	// decision's write only. Then the partner's status no longer remembers
	// the promotion, and the request's GrantExpiry record alone tells.
	recorded := func(g Gomega) {
		h := getPartner(g, f.partner).Status.History
		g.Expect(countBy(recordsOf(g, f.partner))).To(HaveKeyWithValue(recordsv1alpha1.DecisionTierChange, int(h[len(h)-1].Sequence)))
	}
	catchUp(g, recorded).Should(Succeed())
	updateTier(g, entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.Requirements = []v1alpha1.TierRequirement{atLeast("training", "100")}
		t.Spec.DemotionGracePeriod = &metav1.Duration{}
	})
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(BeEmpty()) }).Should(Succeed())
	catchUp(g, recorded).Should(Succeed())
	updateTier(g, entry, func(t *v1alpha1.PartnerTier) { t.Spec.Requirements = nil })
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(got.Status.History).NotTo(ContainElement(HaveField("Request", first)), "the promotion's decision is recorded and dropped")
	}).Should(Succeed())

	// The partner writes its request back to Approved, past the webhooks.
	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := &v1alpha1.ExceptionRequest{}
		*forged = promotionRequests(g, f.partner)[first]
		retain := forged.Status.RetainUntil
		forged.Status = *approved.DeepCopy()
		forged.Status.RetainUntil = retain
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	// The revenue qualifies again: the used approval promotes nothing.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "150", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.QualifiedTier).To(Equal(selectTier))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(entry), "a used promotion approval revived past the webhooks promoted the partner again")
	}).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}
