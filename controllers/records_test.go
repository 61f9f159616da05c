package controllers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/controllers"
	"github.com/partnergov/partnergov/internal/plugin"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/test/testenv"
)

// Decision integrity II: records that cannot be lost or forged.

// recordsOf lists a partner's DecisionRecords.
func recordsOf(g Gomega, p *v1alpha1.Partner) []recordsv1alpha1.DecisionRecord {
	var list recordsv1alpha1.DecisionRecordList
	g.Expect(admin.List(ctx, &list, client.InNamespace(p.Namespace), client.MatchingLabels{record.LabelPartner: p.Name})).To(Succeed())
	return list.Items
}

// countBy counts records by type.
func countBy(records []recordsv1alpha1.DecisionRecord) map[recordsv1alpha1.DecisionType]int {
	out := map[recordsv1alpha1.DecisionType]int{}
	for _, r := range records {
		out[r.Spec.Type]++
	}
	return out
}

func TestEveryDecisionIsRecordedOnceEvenAcrossARestart(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "finance")
	qualifyForSelect(t, g, f.partner)
	r := f.ask(g, claimSpec())
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	g.Expect(decide(bob, r, "", v1alpha1.DecisionApprove)).To(Succeed())

	want := map[recordsv1alpha1.DecisionType]int{
		recordsv1alpha1.DecisionTierChange:     2, // none -> entry, entry -> select
		recordsv1alpha1.DecisionStageDecision:  2, // alice at manager, bob at finance
		recordsv1alpha1.DecisionRequestOutcome: 1, // approved
	}
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier))
		g.Expect(countBy(recordsOf(g, f.partner))).To(Equal(want))
	}).Should(Succeed())

	recs := recordsOf(g, f.partner)
	for _, rec := range recs {
		switch rec.Spec.Type {
		case recordsv1alpha1.DecisionTierChange:
			g.Expect(rec.Spec.Actor).To(Equal(controllers.FieldOwner))
			if rec.Spec.To == selectTier {
				g.Expect(rec.Spec.From).To(Equal(entry))
				g.Expect(rec.Spec.Evidence).To(ContainElement(HaveField("Metric", "revenue")))
				g.Expect(rec.Spec.PolicyGenerations.Tier).NotTo(BeZero())
			}
		case recordsv1alpha1.DecisionStageDecision:
			g.Expect(rec.Spec.Actor).To(BeElementOf("alice@example.com", "bob@example.com"))
			g.Expect(rec.Spec.Request).To(Equal(r.Name))
		}
		g.Expect(rec.Spec.RetainUntil.Time).To(BeTemporally("~", rec.Spec.Time.Add(v1alpha1.DefaultRecordRetention), time.Second))
	}

	// kubectl partnergov history lists them, newest first.
	listed, err := plugin.History(ctx, admin, client.ObjectKeyFromObject(f.partner))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(listed).To(HaveLen(len(recs)))
	for i := 1; i < len(listed); i++ {
		g.Expect(listed[i].Spec.Time.After(listed[i-1].Spec.Time.Time)).To(BeFalse(), "history is newest first")
	}

	// A new manager starts from what is stored: it records nothing twice.
	restartManager(t)
	g.Consistently(func(g Gomega) {
		g.Expect(countBy(recordsOf(g, f.partner))).To(Equal(want))
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())

}

func TestRecordsCannotBeForgedChangedOrDeletedBeforeTheirRetention(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	var rec recordsv1alpha1.DecisionRecord
	eventually(g, func(g Gomega) {
		recs := recordsOf(g, f.partner)
		g.Expect(recs).To(ContainElement(HaveField("Spec.Type", recordsv1alpha1.DecisionRequestOutcome), &rec))
	}).Should(Succeed())

	forged := &recordsv1alpha1.DecisionRecord{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "forged"}, Spec: *rec.Spec.DeepCopy()}
	err := admin.Create(ctx, forged)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("only the partnergov controller records decisions"))

	changed := rec.DeepCopy()
	changed.Spec.Actor = "someone-else@example.com"
	err = admin.Update(ctx, changed)
	g.Expect(apierrors.IsInvalid(err) || apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("records are immutable"))

	err = admin.Delete(ctx, &rec)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("is retained until"))

	// The approved request is a record too: deleting it would also free its cap.
	err = admin.Delete(ctx, getRequest(g, r))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("a decided request is kept until"))

	// Deleting the partner, once offboarded, keeps its records.
	offboard(g, f.partner, time.Now())
	eventually(g, func() error { return admin.Delete(ctx, getPartner(g, f.partner)) }).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(&rec), &recordsv1alpha1.DecisionRecord{})).To(Succeed())
	}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

func TestRecordsPastTheirRetentionArePruned(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	g.Expect(admin.Patch(ctx, program.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"recordRetention":"2s"}}`)))).To(Succeed())
	eventually(g, func(g Gomega) { // the manager's cache has the new retention
		var got v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), &got)).To(Succeed())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}).Should(Succeed())
	p := settledPartner(t, g, ns, program.Name)
	var kept []recordsv1alpha1.DecisionRecord
	eventually(g, func(g Gomega) {
		kept = recordsOf(g, p)
		g.Expect(kept).NotTo(BeEmpty())
	}).Should(Succeed())
	g.Expect(kept[0].Spec.RetainUntil.Time).To(BeTemporally("~", kept[0].Spec.Time.Add(2*time.Second), time.Second))

	pruner := &controllers.RecordPruner{Client: admin, APIReader: admin, Clock: clock.RealClock{}}
	time.Sleep(time.Until(kept[0].Spec.RetainUntil.Time.Add(time.Second)))
	n, err := pruner.Prune(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(BeNumerically(">=", 1))
	g.Expect(recordsOf(g, p)).To(BeEmpty())
}

func TestANewPartnerOfAnOldNameInheritsNothing(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	granted := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestIncentiveException,
		Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}}, Expires: in(time.Hour)})
	g.Expect(getRequest(g, granted).Spec.PartnerUID).To(Equal(string(f.partner.UID)), "the server records whom the request is for")
	g.Expect(decide(manager, granted, "", v1alpha1.DecisionApprove)).To(Succeed())
	pending := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
	}).Should(Succeed())

	// The partner goes without an offboarding, as when its namespace is deleted:
	// the namespace controller is let through.
	nsController := userClient(t, "system:serviceaccount:kube-system:namespace-controller", nil, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"partners"}, Verbs: []string{"get", "delete"},
	})
	eventually(g, func() error { return nsController.Delete(ctx, getPartner(g, f.partner)) }).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, pending)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseWithdrawn), "a pending request whose partner is gone waits for nobody")
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionWithdrawn).Reason).To(Equal(v1alpha1.ReasonPartnerNotFound))
	}).Should(Succeed())

	again := newPartner(f.ns, f.program.Name)
	again.Name = f.partner.Name
	g.Expect(admin.Create(ctx, again)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, again)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.Tier).NotTo(BeEmpty())
		g.Expect(got.Status.Entitlements).NotTo(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
		g.Expect(got.Status.Grants).To(BeEmpty())
	}).Should(Succeed())
}

func TestDeletingANamespaceDeletesItsRecords(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	var rec recordsv1alpha1.DecisionRecord
	eventually(g, func(g Gomega) {
		g.Expect(recordsOf(g, f.partner)).To(ContainElement(HaveField("Spec.Type", recordsv1alpha1.DecisionTierChange), &rec))
	}).Should(Succeed())
	// The namespace controller empties a namespace being deleted; it is let through.
	nsController := userClient(t, "system:serviceaccount:kube-system:namespace-controller", nil, rbacv1.PolicyRule{
		APIGroups: []string{recordsv1alpha1.GroupVersion.Group}, Resources: []string{"decisionrecords"}, Verbs: []string{"delete"},
	})
	eventually(g, func() error { return nsController.Delete(ctx, &rec) }).Should(Succeed())
}

// withoutStatusGuards removes the partners/status and exceptionrequests/status
// guards (and the webhooks named in more) from the webhook configuration, as an
// uninstall or a changed failure policy would, until restore is called (or the
// test ends).
func withoutStatusGuards(t *testing.T, g Gomega, more ...string) (restore func()) {
	removed := append([]string{"mpartnerstatus.governance.partnergov.io", "mexceptionrequeststatus.governance.partnergov.io"}, more...)
	var list admissionregistrationv1.MutatingWebhookConfigurationList
	g.Expect(admin.List(ctx, &list)).To(Succeed())
	var saved []*admissionregistrationv1.MutatingWebhookConfiguration
	for i := range list.Items {
		mwc := &list.Items[i]
		before := mwc.DeepCopy()
		kept := mwc.Webhooks[:0:0]
		for _, w := range mwc.Webhooks {
			if !slices.Contains(removed, w.Name) {
				kept = append(kept, w)
			}
		}
		if len(kept) == len(mwc.Webhooks) {
			continue
		}
		mwc.Webhooks = kept
		g.Expect(admin.Update(ctx, mwc)).To(Succeed())
		saved = append(saved, before)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		for _, before := range saved {
			var now admissionregistrationv1.MutatingWebhookConfiguration
			if err := admin.Get(ctx, client.ObjectKeyFromObject(before), &now); err == nil {
				now.Webhooks = before.Webhooks
				_ = admin.Update(ctx, &now)
			}
		}
		time.Sleep(time.Second) // the API server's webhook configuration follows after a moment
	}
	t.Cleanup(restore)
	time.Sleep(time.Second)
	return restore
}

func TestForgedDecisionsEvidenceAndTiersDoNotSurvive(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	crm := userClient(t, crmUser, nil, integrationRules...)
	lms := userClient(t, lmsUser, nil, integrationRules...)
	g.Expect(reportEvidence(lms, "lms", f.partner, "training", "7", time.Now())).To(Succeed())

	restore := withoutStatusGuards(t, g)
	// Each forger holds the RBAC for its write; only the webhooks are missing.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "150", time.Now())).To(Succeed())
	// A decision as the guard would have stamped it, reviewer and all, but unsealed.
	at := metav1.Now()
	patch, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status/decisions", "value": []v1alpha1.ReviewDecision{{
		Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "looks fine", Reviewer: "alice@example.com", Time: &at, Generation: 1,
	}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.JSONPatchType, patch))).To(Succeed())
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		forged := getPartner(g, f.partner)
		forged.Status.Tier = selectTier
		return admin.Status().Update(ctx, forged)
	})).To(Succeed())
	restore()
	g.Expect(getRequest(g, r).Status.Decisions).To(HaveLen(1), "the forged decision is stored")

	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry), "forged revenue earns nothing and a forged tier is recomputed")
		trusted := condition(got.Status.Conditions, v1alpha1.ConditionEvidenceTrusted)
		g.Expect(trusted.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(trusted.Message).To(ContainSubstring("not sealed"))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getRequest(g, r).Status.Phase).To(Equal(v1alpha1.PhasePending), "a forged approval never counts")
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
	g.Expect(countBy(recordsOf(g, f.partner))[recordsv1alpha1.DecisionStageDecision]).To(BeZero(), "a forged decision is not recorded")

	// Reported again through the webhook, the same revenue counts.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "151", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
}

// TestARequestIsNotDeletedBeforeItsDecisionsAreRecorded: a pending request may be
// deleted, but not while it stores a reviewer's decision that has no
// DecisionRecord yet, or the decision would be lost. A ResourceQuota of zero
// DecisionRecords holds the controller's record back, as a slow or crashed
// controller would.
func TestARequestIsNotDeletedBeforeItsDecisionsAreRecorded(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())

	none := corev1.ResourceList{"count/decisionrecords.records.partnergov.io": resource.MustParse("0")}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "no-records"}, Spec: corev1.ResourceQuotaSpec{Hard: none}}
	g.Expect(admin.Create(ctx, quota)).To(Succeed())
	quota.Status = corev1.ResourceQuotaStatus{Hard: none, Used: none} // what the quota controller (absent here) would write
	g.Expect(admin.Status().Update(ctx, quota)).To(Succeed())

	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	stored := getRequest(g, r)
	g.Expect(stored.Status.Decisions).To(HaveLen(1))
	g.Expect(stored.Status.RecordedDecisions).To(BeZero())
	err := admin.Delete(ctx, stored)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("stores 1 review decision(s) that the controller has not recorded yet"))

	// Once the controller may record again, the decision is recorded and the
	// pending request may go; its record stays.
	g.Expect(admin.Delete(ctx, quota)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(admin.Delete(ctx, getRequest(g, r))).To(Succeed()) }).Should(Succeed())
	g.Expect(countBy(recordsOf(g, f.partner))).To(HaveKeyWithValue(recordsv1alpha1.DecisionStageDecision, 1))
}

// TestRetentionIsFixedWhenTheDecisionIsMade: a decided request keeps the
// retention in force at its decision (status.retainUntil, set once); a program
// editor who lowers recordRetention afterwards cannot delete it, nor its record,
// and nobody can move status.retainUntil.
func TestRetentionIsFixedWhenTheDecisionIsMade(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	var until metav1.Time
	var rec recordsv1alpha1.DecisionRecord
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(got.Status.RetainUntil).NotTo(BeNil())
		until = *got.Status.RetainUntil
		approved := condition(got.Status.Conditions, v1alpha1.ConditionApproved)
		g.Expect(until.Time).To(BeTemporally("~", approved.LastTransitionTime.Add(v1alpha1.DefaultRecordRetention), time.Second))
		g.Expect(recordsOf(g, f.partner)).To(ContainElement(HaveField("Spec.Type", recordsv1alpha1.DecisionRequestOutcome), &rec))
	}).Should(Succeed())

	// The program editor lowers the retention to two seconds and waits.
	g.Expect(admin.Patch(ctx, f.program.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"recordRetention":"2s"}}`)))).To(Succeed())
	time.Sleep(3 * time.Second)
	err := admin.Delete(ctx, getRequest(g, r))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("status.retainUntil"))
	err = admin.Delete(ctx, &rec)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)

	// Nobody moves it: not a reviewer (the guard), not the controller (the schema).
	earlier := fmt.Sprintf(`{"status":{"retainUntil":%q}}`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	err = admin.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.MergePatchType, []byte(earlier)))
	g.Expect(err).To(HaveOccurred())
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	manager := newClient(t, cfg)
	err = manager.Status().Patch(ctx, getRequest(g, r), client.RawPatch(types.MergePatchType, []byte(earlier)))
	g.Expect(err).To(MatchError(ContainSubstring("status.retainUntil is fixed when the request is decided")))
	g.Expect(getRequest(g, r).Status.RetainUntil.Time).To(BeTemporally("==", until.Time))
}
