package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/test/testenv"
)

// TestTurningSealingOnSealsWhatWasStoredAndDemotesNobody starts from an install
// without sealing, where a partner earned a tier from evidence and a reviewer
// decided a stage, then restarts the manager with the seal key Secret the
// install ships empty. The manager writes a key into it and adopts the stored
// state: every evidence entry, tier decision and review decision gets a seal
// that verifies under that key, the partner keeps its tier, the adopted
// decision still counts, and the Secret's adoption annotation is removed.
func TestTurningSealingOnSealsWhatWasStoredAndDemotesNobody(t *testing.T) {
	g := NewWithT(t)
	restartManagerWith(t, func(o *app.Options) { o.Seals = nil }) // sealing off
	t.Cleanup(func() { restartManager(t) })
	f, _, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager")
	bob := reviewer(t, "bob@example.com", f.path, "finance")
	qualifyForSelect(t, g, f.partner)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
	r := f.ask(g, claimSpec())
	g.Expect(decide(alice, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	before := getPartner(g, f.partner)
	g.Expect(before.Status.Evidence).To(HaveEach(HaveField("Seal", "")), "stored without sealing")
	g.Expect(getRequest(g, r).Status.Decisions).To(HaveEach(HaveField("Seal", "")))

	keys := turnSealingOn(t, g, f.ns)
	p := getPartner(g, f.partner)
	for _, e := range p.Status.Evidence {
		g.Expect(keys.Verify(e.Seal, seal.Evidence(string(p.UID), e)...)).To(BeTrue(), "evidence %s is sealed", e.Metric)
	}
	for i, d := range p.Status.History {
		g.Expect(keys.Verify(d.Seal, seal.TierAt(string(p.UID), p.Status.History, i)...)).To(BeTrue(), "tier decision %s -> %s is sealed", d.From, d.To)
	}
	q := getRequest(g, r)
	for i, d := range q.Status.Decisions {
		g.Expect(keys.Verify(d.Seal, seal.Decision(string(q.UID), i, d)...)).To(BeTrue(), "decision %d is sealed", i)
	}
	g.Expect(keys.Verify(q.Status.ReviewPath.Seal, seal.Path(string(q.UID), *q.Status.ReviewPath)...)).To(BeTrue(), "the review path's copy is sealed")

	// Nobody was demoted on the way or after, and the adopted decision counts.
	g.Consistently(func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionEvidenceTrusted).Status).To(Equal(metav1.ConditionTrue))
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
	g.Expect(getPartner(g, f.partner).Status.History).To(Equal(sealedHistory(before.Status.History, getPartner(g, f.partner).Status.History)),
		"no tier decision was added: nobody was demoted and promoted back")
	g.Expect(decide(bob, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.Phase).To(Equal(v1alpha1.PhaseApproved)) }).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.ReadinessClaims).To(ContainElement(HaveField("Request", r.Name)), "the approval under the adopted path counts")
	}).Should(Succeed())
}

// sealedHistory is before with the seals (and the sequence and previous seal
// adoption fills) of after, when both hold the same
// decisions; otherwise before unchanged, so that the comparison shows the difference.
func sealedHistory(before, after []v1alpha1.TierDecision) []v1alpha1.TierDecision {
	if len(before) != len(after) {
		return before
	}
	out := make([]v1alpha1.TierDecision, len(before))
	for i := range before {
		out[i] = before[i]
		out[i].Seal, out[i].Sequence, out[i].PreviousSeal = after[i].Seal, after[i].Sequence, after[i].PreviousSeal
	}
	return out
}

// turnSealingOn restarts the manager with the seal key Secret the install
// ships empty, in namespace ns, with the Role that lets the manager get and
// update it (config/sealkey), waits until adoption has ended, and returns the
// key the manager wrote.
func turnSealingOn(t *testing.T, g Gomega, ns string) *seal.Keys {
	t.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "partnergov-seal-key"}}
	g.Expect(admin.Create(ctx, secret)).To(Succeed())
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seal-key"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret.Name}, Verbs: []string{"get", "update"},
	}}}
	g.Expect(admin.Create(ctx, role)).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seal-key"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: testenv.ManagerUser}},
	})).To(Succeed())
	restartManagerWith(t, func(o *app.Options) { o.Seals, o.SealKeySecret, o.SealKeySecretNamespace = nil, secret.Name, ns })

	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		g.Expect(secret.Data).To(HaveKey(seal.SecretKey), "the manager writes a key into the empty Secret")
		g.Expect(secret.Annotations).NotTo(HaveKey(seal.AnnotationAdoption), "adoption ends")
		g.Expect(secret.Annotations).To(HaveKeyWithValue(seal.AnnotationFormat, seal.Format), "adoption records the format it sealed")
	}).Should(Succeed())
	keys, err := seal.Parse(secret.Data[seal.SecretKey])
	g.Expect(err).NotTo(HaveOccurred())
	return keys
}

// Issue 29, adoption: requests settled before outcomes were sealed (by an
// older version, or with sealing off, as here) carry no sealed outcome. When
// sealing is adopted, an approval its records confirm is sealed and keeps its
// commitment; a Funds request denied OverCap at approval and written back to
// Approved past the webhooks, which the manager without sealing counted (and
// even recorded as an approval), is not: its Denied record says it was
// denied, and once adoption ends it commits nothing (OutcomeSealed=False).
func TestAdoptionSealsOnlyTheApprovalsTheRecordsConfirm(t *testing.T) {
	g := NewWithT(t)
	restartManagerWith(t, func(o *app.Options) { o.Seals = nil }) // sealing off
	t.Cleanup(func() { restartManager(t) })
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	first := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	second := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")})
	for _, r := range []*v1alpha1.ExceptionRequest{first, second} {
		eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
	}
	g.Expect(decide(manager, first, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, first).Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved)) }).Should(Succeed())
	g.Expect(decide(manager, second, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		g.Expect(got.Status.RecordedPhase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonOverCap))
	}).Should(Succeed())

	// As an older version stored them: no status.outcome. The second is
	// written back to Approved past the webhooks.
	restore := withoutStatusGuards(t, g)
	for _, r := range []*v1alpha1.ExceptionRequest{first, second} {
		g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
			old := getRequest(g, r)
			g.Expect(old.Status.Outcome).NotTo(BeNil(), "the manager stores its outcome with sealing off too, unsealed")
			g.Expect(old.Status.Outcome.Seal).To(BeEmpty())
			old.Status.Outcome = nil
			if r == second {
				old.Status.Phase = v1alpha1.PhaseApproved
				now := metav1.Now()
				for typ, status := range map[string]metav1.ConditionStatus{v1alpha1.ConditionApproved: metav1.ConditionTrue, v1alpha1.ConditionDenied: metav1.ConditionFalse} {
					meta.SetStatusCondition(&old.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: v1alpha1.ReasonQuorumReached,
						Message: "every stage of the review path reached quorum", LastTransitionTime: now, ObservedGeneration: old.Generation})
				}
			}
			return admin.Status().Update(ctx, old)
		})).To(Succeed())
	}
	restore()
	// Without sealing the forged approval counts: it is recorded and commits.
	eventually(g, func(g Gomega) {
		g.Expect(getRequest(g, second).Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(getPartner(g, f.partner).Status.Funds.Committed).To(Equal(v1alpha1.Decimal("12000")))
	}).Should(Succeed())

	keys := turnSealingOn(t, g, f.ns)
	q := getRequest(g, first)
	g.Expect(q.Status.Outcome).NotTo(BeNil(), "the approval its records confirm is sealed")
	g.Expect(q.Status.Outcome.Phase).To(Equal(v1alpha1.PhaseApproved))
	g.Expect(keys.Verify(q.Status.Outcome.Seal, seal.RequestOutcome(string(q.UID), *q.Status.Outcome)...)).To(BeTrue())
	g.Expect(getRequest(g, second).Status.Outcome).To(BeNil(), "the denial written back to Approved is not sealed")
	eventually(g, func(g Gomega) {
		c := condition(getRequest(g, second).Status.Conditions, v1alpha1.ConditionOutcomeSealed)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonUnexplainedOutcome))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		funds := getPartner(g, f.partner).Status.Funds
		g.Expect(funds.Committed).To(Equal(v1alpha1.Decimal("6000")), "the forged approval still commits after adoption")
		g.Expect(funds.Commitments).To(ConsistOf(HaveField("Request", first.Name)), "the confirmed approval keeps its commitment")
		g.Expect(condition(getRequest(g, first).Status.Conditions, v1alpha1.ConditionOutcomeSealed).Status).NotTo(Equal(metav1.ConditionFalse))
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
