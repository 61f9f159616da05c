package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Decisions do not wait for the records store: while no DecisionRecord can be
// created (the records server down, its database restarting), requests and
// registrations are decided as usual, and their records follow from the status
// markers once records can be written again, once each, in the partner's chain.

// holdRecords refuses every DecisionRecord create in ns (a ResourceQuota of
// zero records, as TestARequestIsNotDeletedBeforeItsDecisionsAreRecorded holds
// them back) until the returned release is called.
func holdRecords(g Gomega, ns string) (release func()) {
	none := corev1.ResourceList{"count/decisionrecords.records.partnergov.io": resource.MustParse("0")}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "records-down"}, Spec: corev1.ResourceQuotaSpec{Hard: none}}
	g.Expect(admin.Create(ctx, quota)).To(Succeed())
	quota.Status = corev1.ResourceQuotaStatus{Hard: none, Used: none} // what the quota controller (absent here) would write
	g.Expect(admin.Status().Update(ctx, quota)).To(Succeed())
	return func() { g.Expect(admin.Delete(ctx, quota)).To(Succeed()) }
}

// catchUp waits for records to follow once they can be written again: the
// controllers retry with their queues' backoff, which grew while every create
// was refused.
func catchUp(g Gomega, f any) AsyncAssertion {
	return g.Eventually(f).WithTimeout(90 * time.Second).WithPolling(200 * time.Millisecond)
}

// TestARequestIsDecidedWhileItsRecordsCannotBeWritten: with records refused,
// a reviewer's approval still moves the request to its next stage, the last
// approval still approves it and the partner still gets what it grants; no
// marker claims a record that was not made. Once records can be written, each
// decision and the outcome are recorded once and the partner's chain verifies.
func TestARequestIsDecidedWhileItsRecordsCannotBeWritten(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "finance")
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())

	release := holdRecords(g, f.ns)
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	g.Expect(decide(bob, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(getPartner(g, f.partner).Status.ReadinessClaims).To(ContainElement(HaveField("Request", r.Name)))
	}).Should(Succeed())
	got := getRequest(g, r)
	g.Expect(got.Status.RecordedDecisions).To(BeZero(), "no decision is marked recorded while no record can be made")
	g.Expect(got.Status.RecordedPhase).To(BeEmpty())
	g.Expect(countBy(recordsOf(g, f.partner))).NotTo(HaveKey(recordsv1alpha1.DecisionStageDecision))

	release()
	catchUp(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.RecordedDecisions).To(Equal(int32(2)))
		g.Expect(got.Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		counts := countBy(recordsOf(g, f.partner))
		g.Expect(counts).To(HaveKeyWithValue(recordsv1alpha1.DecisionStageDecision, 2))
		g.Expect(counts).To(HaveKeyWithValue(recordsv1alpha1.DecisionRequestOutcome, 1))
	}).Should(Succeed())
	v := verifyChain(g, f.ns, f.partner.Name)
	g.Expect(v.Verified()).To(BeTrue(), "%v", v.Findings)
}

// TestADealIsDecidedWhileItsRecordsCannotBeWritten: with records refused, an
// approved registration whose approval is not recorded yet is still won when
// the CRM reports the win, and the win still releases the customer to the next
// in line. Once records can be written, every transition of both is recorded
// once and both partners' chains verify.
func TestADealIsDecidedWhileItsRecordsCannotBeWritten(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	seller, other := f.partners[0], f.partners[1]
	release := holdRecords(g, f.ns)

	d := newDeal(f.ns, seller, v1alpha1.DealResale, "outage-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	next := f.register(g, other, getDeal(g, d).Status.CanonicalDomain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, next)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}})
	g.Expect(reportWon(g, crm, d, "90000")).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealWon))
		g.Expect(dealPhase(g, next)).To(Equal(v1alpha1.DealApproved), "the win releases the customer to the next in line")
	}).Should(Succeed())
	g.Expect(dealRecords(g, d)).To(BeEmpty(), "no record could be made")

	release()
	for _, reg := range []*v1alpha1.DealRegistration{d, next} {
		catchUp(g, func(g Gomega) {
			got := getDeal(g, reg)
			var to []string
			for _, rec := range dealRecords(g, reg) {
				to = append(to, rec.Spec.To)
			}
			g.Expect(to).To(HaveLen(int(got.Status.History[len(got.Status.History)-1].Sequence)), "one record per transition of %s", reg.Name)
		}).Should(Succeed())
	}
	g.Expect(dealRecords(g, d)).To(ContainElements(HaveField("Spec.To", string(v1alpha1.DealApproved)), HaveField("Spec.To", string(v1alpha1.DealWon))))
	for _, p := range f.partners {
		v := verifyChain(g, f.ns, p.Name)
		g.Expect(v.Verified()).To(BeTrue(), "partner %s: %v", p.Name, v.Findings)
	}
}

// TestATierDecisionThatWouldTrimAnUnrecordedOneWaitsForItsRecord: status.history
// keeps 20 tier decisions and is the only copy of one not recorded yet. With
// records refused, a partner's first 20 decisions are written; the 21st, which
// would trim the first out of the history before its record exists, waits
// (TierDecisionHeld, the tier and the history unchanged). Once records can be
// written, all 21 decisions are recorded, the held one is written, and the
// chain verifies.
func TestATierDecisionThatWouldTrimAnUnrecordedOneWaitsForItsRecord(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, 0)
	release := holdRecords(g, ns)
	p := settledPartner(t, g, ns, program.Name) // none -> entry
	crm := qualifyForSelect(t, g, p)
	tierFor := map[string]string{"150": selectTier, "50": entry}
	revenue := "150"
	flip := func() {
		// A record's name has its decision's time in whole seconds: one flip a
		// second keeps two decisions of the same tiers apart.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		revenue = map[string]string{"150": "50", "50": "150"}[revenue]
		g.Expect(reportEvidence(crm, "crm", p, "revenue", revenue, time.Now())).To(Succeed())
	}
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.History).To(HaveLen(2)) }).Should(Succeed())
	for n := 2; n < v1alpha1.MaxHistory; n++ {
		flip()
		eventually(g, func(g Gomega) {
			got := getPartner(g, p)
			g.Expect(got.Status.History).To(HaveLen(n + 1))
			g.Expect(got.Status.Tier).To(Equal(tierFor[revenue]))
		}).Should(Succeed())
	}
	g.Expect(countBy(recordsOf(g, p))).NotTo(HaveKey(recordsv1alpha1.DecisionTierChange), "no record could be made")
	full := getPartner(g, p)

	flip()
	eventually(g, func(g Gomega) {
		c := condition(getPartner(g, p).Status.Conditions, v1alpha1.ConditionTierDecisionHeld)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonRecordsPending))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(full.Status.Tier), "the decision waits")
		g.Expect(got.Status.History).To(Equal(full.Status.History), "no unrecorded decision is trimmed")
	}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	release()
	catchUp(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(tierFor[revenue]), "the held decision is written")
		g.Expect(len(got.Status.History)).To(BeNumerically("<=", v1alpha1.MaxHistory), "the held decision's write trims the history (to the newest recorded decision the chain names by then)")
		g.Expect(got.Status.History[len(got.Status.History)-1].To).To(Equal(tierFor[revenue]))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionTierDecisionHeld).Type).To(BeEmpty())
		g.Expect(countBy(recordsOf(g, p))).To(HaveKeyWithValue(recordsv1alpha1.DecisionTierChange, v1alpha1.MaxHistory+1), "every decision is recorded, the trimmed one too")
	}).Should(Succeed())
	v := verifyChain(g, ns, p.Name)
	g.Expect(v.Verified()).To(BeTrue(), "%v", v.Findings)
}
