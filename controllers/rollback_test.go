package controllers_test

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
)

// headOf reads partner p's RecordChain.
func headOf(g Gomega, p *v1alpha1.Partner) *v1alpha1.RecordChain {
	var rc v1alpha1.RecordChain
	g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: record.ChainName(p.Name)}, &rc)).To(Succeed())
	return &rc
}

// warnedWith reports whether a Warning Event with reason is about object name in ns.
func warnedWith(g Gomega, ns, name, reason string) {
	var evs eventsv1.EventList
	g.Expect(admin.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
	g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", name), HaveField("Reason", reason), HaveField("Type", "Warning"))))
}

// Rule 7, a sealed decision has one place in history: a status rolled back to
// an older sealed state is found out. A partner demoted (the demotion recorded,
// so its RecordChain names it) has its status put back, past the webhooks, as
// it was at the higher tier (its history then, which may be one decision
// alone: each verifies alone, issue 28), with a grace period running: every
// decision still verifies in its place, but the history lacks the newest
// recorded tier decision, so the tier is decided again at once, without
// grace (StatusBehindRecords, a Warning Event).
func TestATierStatusRolledBackPastItsRecordsIsRefused(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	var promoted *v1alpha1.Partner
	eventually(g, func(g Gomega) {
		promoted = getPartner(g, f.partner)
		g.Expect(promoted.Status.Tier).To(Equal(selectTier))
		g.Expect(promoted.Status.History).NotTo(BeEmpty())
		g.Expect(promoted.Status.History[len(promoted.Status.History)-1].To).To(Equal(selectTier))
	}).Should(Succeed())
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	var demoted *v1alpha1.Partner
	at := 0
	eventually(g, func(g Gomega) {
		demoted = getPartner(g, f.partner)
		g.Expect(demoted.Status.Tier).To(Equal(entry))
		at = slices.IndexFunc(demoted.Status.History, func(d v1alpha1.TierDecision) bool { return d.From == selectTier && d.To == entry })
		g.Expect(at).To(BeNumerically(">=", 0))
		head := headOf(g, demoted)
		g.Expect(head.Spec.NewestTierChange).NotTo(BeNil())
		g.Expect(head.Spec.NewestTierChange.Name).To(Equal(record.TierChangeName(demoted, demoted.Status.History[at])), "the demotion is recorded")
	}).Should(Succeed())
	g.Expect(demoted.Status.History).NotTo(ContainElement(HaveField("Reason", v1alpha1.ReasonStatusBehindRecords)),
		"a history holding its newest recorded decision is not behind")
	// From here on a demotion from select waits an hour.
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.DemotionGracePeriod = &metav1.Duration{Duration: time.Hour} })

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getPartner(g, f.partner)
		rank, grace := int32(1), metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
		forged.Status.Tier, forged.Status.TierRank, forged.Status.DemotionDeadline = selectTier, &rank, &grace
		forged.Status.History = promoted.Status.History
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry), "the tier a later decision took away is not kept, nor is its hour of grace")
		g.Expect(got.Status.History[len(got.Status.History)-1].Reason).To(Equal(v1alpha1.ReasonStatusBehindRecords))
		warnedWith(g, f.ns, f.partner.Name, v1alpha1.ReasonStatusBehindRecords)
	}).Should(Succeed())
}

// Rule 7, a sealed decision has one place in history: a request whose final
// Deny (recorded) is cut from its status past the webhooks, leaving it Pending
// again, is not decided from that status: it says StatusBehindRecords (a
// Warning Event), and another reviewer's approval written at the cut
// decision's index does not count, as it would without the records.
func TestARequestStatusRolledBackPastItsRecordsIsNotApproved(t *testing.T) {
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
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(got.Status.RecordedDecisions).To(BeEquivalentTo(1), "the Deny is recorded")
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, r)
		retain := forged.Status.RetainUntil // fixed by the API once decided
		forged.Status = *pending.Status.DeepCopy()
		forged.Status.RetainUntil = retain
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()

	behind := func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).NotTo(Equal(v1alpha1.PhaseApproved), "a request whose Deny was cut is not approved")
		c := condition(got.Status.Conditions, v1alpha1.ConditionStatusBehindRecords)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonStatusBehindRecords))
	}
	eventually(g, func(g Gomega) {
		behind(g)
		warnedWith(g, f.ns, r.Name, v1alpha1.ReasonStatusBehindRecords)
	}).Should(Succeed())
	g.Expect(decide(bob, r, "manager", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getRequest(g, r).Status.Decisions).To(HaveLen(1))
		g.Expect(getRequest(g, r).Status.Conditions).To(ContainElement(And(
			HaveField("Type", v1alpha1.ConditionStatusBehindRecords), HaveField("Message", ContainSubstring("bob@example.com")))))
	}).Should(Succeed())
	g.Consistently(behind).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())

	// status.recordedDecisions is the controller's marker, not sealed: raised
	// past the webhooks over bob's decision, it must not hide the index whose
	// record holds alice's Deny.
	restore = withoutStatusGuards(t, g)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getRequest(g, r)
		forged.Status.RecordedDecisions = int32(len(forged.Status.Decisions))
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()
	g.Consistently(behind).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
