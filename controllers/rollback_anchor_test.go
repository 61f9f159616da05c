package controllers_test

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
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

// headRolledBackFixture: a partner promoted to select and demoted to entry,
// both recorded, with the head sealed after the promotion (promotedHead), the
// demoted status and the history it had at select (cut: status.history
// keeps only the present, so the demotion's history may no longer hold the
// promotion); from then on a demotion from select waits an hour.
func headRolledBackFixture(t *testing.T, g *WithT) (f *reviewFixture, entry, selectTier string, promotedHead *v1alpha1.RecordChain, demoted *v1alpha1.Partner, cut []v1alpha1.TierDecision) {
	f, entry, selectTier = effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	eventually(g, func(g Gomega) {
		p := getPartner(g, f.partner)
		g.Expect(p.Status.Tier).To(Equal(selectTier))
		promotedHead = headOf(g, p)
		g.Expect(promotedHead.Spec.NewestTierChange).NotTo(BeNil())
		g.Expect(promotedHead.Spec.NewestTierChange.Name).To(Equal(record.TierChangeName(p, p.Status.History[len(p.Status.History)-1])), "the promotion is recorded")
		cut = p.Status.History
	}).Should(Succeed())
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		demoted = getPartner(g, f.partner)
		g.Expect(demoted.Status.Tier).To(Equal(entry))
		at := slices.IndexFunc(demoted.Status.History, func(d v1alpha1.TierDecision) bool { return d.From == selectTier && d.To == entry })
		g.Expect(at).To(BeNumerically(">=", 0))
		g.Expect(headOf(g, demoted).Spec.NewestTierChange.Name).To(Equal(record.TierChangeName(demoted, demoted.Status.History[at])), "the demotion is recorded")
	}).Should(Succeed())
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.DemotionGracePeriod = &metav1.Duration{Duration: time.Hour} })
	return f, entry, selectTier, promotedHead, demoted, cut
}

// cutToPromotion writes demoted's status back to before its demotion (select,
// an hour of grace, history cut) past the webhooks.
func cutToPromotion(t *testing.T, g *WithT, f *reviewFixture, selectTier string, cut []v1alpha1.TierDecision) {
	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getPartner(g, f.partner)
		rank, grace := int32(1), metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
		forged.Status.Tier, forged.Status.TierRank, forged.Status.DemotionDeadline = selectTier, &rank, &grace
		forged.Status.History = cut
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()
}

// Rule 7, a sealed decision has one place in history: the anchor of a
// partner's newest recorded tier decision is the records', not whatever head
// is stored. With the RecordChain webhook gone, the head sealed after the
// partner's promotion (read by anyone who may read RecordChains) is written
// back over the head that names its demotion; its seal still verifies (it is
// bound to no moment), so a status then cut back to the promotion, the tier
// with an hour of grace, must still be found behind the stored records.
func TestAnOlderSealedHeadRestoredDoesNotHideARollback(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier, promotedHead, demoted, cut := headRolledBackFixture(t, g)

	withoutValidatingWebhooks(t, g, "vrecordchain.governance.partnergov.io")
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		head := headOf(g, demoted)
		head.Spec = promotedHead.Spec
		return admin.Update(ctx, head)
	})).To(Succeed())
	cutToPromotion(t, g, f, selectTier, cut)

	decidedAgainBehindRecords(g, f, entry)
}

// Rule 7: with the RecordChain webhook gone, the head that names the
// partner's demotion is deleted; a status then cut back to the promotion must
// still be found behind the stored records.
func TestADeletedHeadDoesNotHideARollback(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier, _, demoted, cut := headRolledBackFixture(t, g)

	withoutValidatingWebhooks(t, g, "vrecordchain.governance.partnergov.io")
	g.Expect(admin.Delete(ctx, headOf(g, demoted))).To(Succeed())
	cutToPromotion(t, g, f, selectTier, cut)

	decidedAgainBehindRecords(g, f, entry)
}

// Rule 7: with the RecordChain webhook gone, the head that names the
// partner's demotion is rewritten without its anchor and seal; a status then
// cut back to the promotion must still be found behind the stored records.
func TestAnUnsealedHeadDoesNotHideARollback(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier, _, demoted, cut := headRolledBackFixture(t, g)

	withoutValidatingWebhooks(t, g, "vrecordchain.governance.partnergov.io")
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		head := headOf(g, demoted)
		head.Spec.NewestTierChange, head.Spec.Seal = nil, ""
		return admin.Update(ctx, head)
	})).To(Succeed())
	cutToPromotion(t, g, f, selectTier, cut)

	decidedAgainBehindRecords(g, f, entry)
}

// Rule 7 must not stop the clock: a request held because its status is
// behind its records (StatusBehindRecords) decides nothing, and so must give
// nothing a pending request gives for as long as it is held. A partner whose
// deal's extension request has its first stage's approval recorded writes the
// request's status back to before it past the webhooks: the request is held
// Pending, its second stage's SLA (onTimeout Deny) never fires, and "under
// review" kept the deal protected past protectedUntil for as long as nobody
// restored the status. The deal's protection ends when it was due.
func TestARequestHeldBehindItsRecordsDoesNotExtendProtection(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("deals")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo: v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealRegistration}},
		Stages: []v1alpha1.ReviewStage{stage("channel", 1, time.Hour, v1alpha1.TimeoutEscalate),
			stage("finance", 1, 4*time.Second, v1alpha1.TimeoutDeny)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ReviewPath: path.Name,
		Protection: &metav1.Duration{Duration: 8 * time.Second}, Extension: &metav1.Duration{Duration: time.Hour}}, 1)
	d := f.register(g, f.partners[0], "held-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	until := getDeal(g, d).Status.ProtectedUntil.Time

	g.Expect(admin.Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"extensionRequested":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	var pending *v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Extension).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Extension.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel"))
		pending = q.DeepCopy()
	}).Should(Succeed())
	g.Expect(decide(reviewer(t, "channel-manager@example.com", path, "channel"), &q, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, &q)
		g.Expect(got.Status.CurrentStage).To(Equal("finance"))
		g.Expect(got.Status.RecordedDecisions).To(BeEquivalentTo(1), "the approval is recorded")
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, &q)
		forged.Status = *pending.Status.DeepCopy()
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()
	eventually(g, func(g Gomega) {
		c := condition(getRequest(g, &q).Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "the request is held")
	}).Should(Succeed())

	time.Sleep(time.Until(until))
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealExpired), "protection due to end at %s is not kept by a request held behind its records", until)
	}).Should(Succeed())
}

// A decision gives protection only when sealed: a partner that writes its
// deal's extension request Approved past the webhooks (no sealed decision
// explains it: it gives nothing, effects.Unexplained) has the request final,
// so no stage SLA ever denies it, and "under review (or unexplained)" kept the
// deal protected past protectedUntil for good. The deal's protection ends when
// it was due.
func TestAnUnexplainedExtensionApprovalDoesNotExtendProtection(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("deals")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealRegistration}},
		Stages:          []v1alpha1.ReviewStage{stage("channel", 1, 4*time.Second, v1alpha1.TimeoutDeny)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ReviewPath: path.Name,
		Protection: &metav1.Duration{Duration: 8 * time.Second}, Extension: &metav1.Duration{Duration: time.Hour}}, 1)
	d := f.register(g, f.partners[0], "unexplained-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	until := getDeal(g, d).Status.ProtectedUntil.Time

	g.Expect(admin.Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"extensionRequested":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Extension).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Extension.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel"))
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, &q)
		forged.Status.Phase = v1alpha1.PhaseApproved
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	time.Sleep(time.Until(until))
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealExpired), "protection due to end at %s is not kept by an approval no sealed decision explains", until)
	}).Should(Succeed())
}

// decidedAgainBehindRecords waits for f's partner, its status cut back past
// its records, to be decided again at entry, the tier its evidence gives,
// by a decision that says why.
func decidedAgainBehindRecords(g Gomega, f *reviewFixture, entry string) {
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry), "the tier a recorded demotion took away is not kept, nor is its hour of grace")
		g.Expect(got.Status.History[len(got.Status.History)-1].Reason).To(Equal(v1alpha1.ReasonStatusBehindRecords))
	}).Should(Succeed())
}
