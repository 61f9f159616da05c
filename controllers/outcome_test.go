package controllers_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
)

// Decision integrity III, item 6: the seal covers outcomes. An Approved phase
// written past the webhooks, with no sealed decision behind it, gives nothing:
// no TierException grant (and no sealed tier decision for one), no funds
// commitment; the request says so (OutcomeSealed=False) with a Warning event.
func TestAForgedApprovalGrantsNothing(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	exception := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestTierException, Grant: &v1alpha1.Grant{Tier: selectTier}, Expires: in(time.Hour)})
	funds := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	for _, r := range []*v1alpha1.ExceptionRequest{exception, funds} {
		eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
	}

	restore := withoutStatusGuards(t, g)
	// The outcome as the controller would have written it, with no decision behind it.
	approved := metav1.Now()
	for _, r := range []*v1alpha1.ExceptionRequest{exception, funds} {
		patch, err := json.Marshal(map[string]any{"status": map[string]any{
			"phase": v1alpha1.PhaseApproved, "currentStage": nil, "stageDeadline": nil,
			"conditions": []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonQuorumReached,
				Message: "every stage reached quorum", LastTransitionTime: approved, ObservedGeneration: 1}},
		}})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(admin.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	}
	restore()

	for _, r := range []*v1alpha1.ExceptionRequest{exception, funds} {
		eventually(g, func(g Gomega) {
			got := getRequest(g, r)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved), "the forged phase is stored")
			c := condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonUnexplainedOutcome))
			var evs eventsv1.EventList
			g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
			g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", r.Name), HaveField("Reason", v1alpha1.ReasonUnexplainedOutcome))))
		}).Should(Succeed())
	}
	g.Consistently(func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry), "a forged approval grants no tier")
		g.Expect(got.Status.Grants).To(BeEmpty())
		for _, d := range got.Status.History {
			g.Expect(d.Request).NotTo(Equal(exception.Name), "no sealed decision follows a forged approval")
		}
		if got.Status.Funds != nil {
			g.Expect(got.Status.Funds.Commitments).To(BeEmpty(), "a forged approval commits no funds")
		}
	}).WithTimeout(4 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
	g.Expect(countBy(recordsOf(g, f.partner))[recordsv1alpha1.DecisionRequestOutcome]).To(BeZero(), "a forged outcome is not recorded")
}

// Decision integrity III, item 7: a sealed decision has one place in history.
// An older sealed decision of the same partner replayed as the newest entry,
// written past the webhooks, explains nothing: the tier it claims is recomputed
// at once (UnexplainedTier), with no grace period.
func TestAReplayedTierDecisionExplainsNothing(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	// The promotion, read while it is the newest decision (the history keeps
	// only the present: once a newer one is recorded, it leaves).
	var promoted v1alpha1.TierDecision
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(got.Status.History).To(ContainElement(HaveField("To", selectTier), &promoted))
	}).Should(Succeed())
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(entry)) }).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getPartner(g, f.partner)
		forged.Status.Tier, forged.Status.DemotionDeadline = selectTier, nil
		forged.Status.History = append(forged.Status.History, promoted)
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry))
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.Reason).To(Equal(v1alpha1.ReasonUnexplainedTier), "the replayed decision explains nothing, so the tier gets no grace")
	}).Should(Succeed())
}

// Decision integrity III, items 6 and 7: a decision is sealed only under the
// request's sealed copy of its review path. Its escalation owner rewritten past
// the webhooks to a user who may approve nothing, with currentStage set to the
// owner's stage, authorizes that user to decide nothing: the guard refuses the
// decision (otherwise it is sealed, and counts under the sealed copy put back).
func TestAForgedEscalationOwnerDecidesNothing(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.CurrentStage).To(Equal("manager"))
		g.Expect(got.Status.ReviewPath).NotTo(BeNil())
		g.Expect(got.Status.ReviewPath.Seal).NotTo(BeEmpty())
	}).Should(Succeed())
	mallory := reviewer(t, "mallory@example.com", f.path) // may patch requests, may approve nothing

	restore := withoutStatusGuards(t, g)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"currentStage": review.EscalationStage, "reviewPath": map[string]any{"escalationOwner": "mallory@example.com"},
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	restore()

	err = decide(mallory, r, review.EscalationStage, v1alpha1.DecisionApprove)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a forged escalation owner's decision was admitted: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("status.reviewPath"))
	g.Consistently(func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Decisions).To(BeEmpty())
		g.Expect(got.Status.Phase).NotTo(Equal(v1alpha1.PhaseApproved))
	}).WithTimeout(2 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}

// Decision integrity III, items 6 and 7: an escalation explains an approval
// only when the path escalated. currentStage is not sealed: rewritten past the
// webhooks to the path's escalation stage an hour before the manager's SLA
// passes, it lets the escalation stage's approver decide first; that approval
// explains nothing (OutcomeSealed=False, UnexplainedOutcome), the manager's
// stage never timed out.
func TestAForgedEscalationExplainsNothing(t *testing.T) {
	g := NewWithT(t)
	vp := stage("vp", 1, time.Hour, v1alpha1.TimeoutDeny)
	vp.Escalation = true
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), vp)
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
	approver := reviewer(t, "vp@example.com", f.path, "vp")

	restore := withoutStatusGuards(t, g)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"currentStage": "vp"}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	restore()

	g.Expect(decide(approver, r, "vp", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved), "the controller followed the forged stage")
		c := condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonUnexplainedOutcome))
		g.Expect(c.Message).To(ContainSubstring("before review path"))
	}).Should(Succeed())
}
