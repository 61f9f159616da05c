package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

	// The Secret as the install ships it, and the Role that lets the manager get
	// and update it (config/sealkey).
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "partnergov-seal-key"}}
	g.Expect(admin.Create(ctx, secret)).To(Succeed())
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "seal-key"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret.Name}, Verbs: []string{"get", "update"},
	}}}
	g.Expect(admin.Create(ctx, role)).To(Succeed())
	g.Expect(admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "seal-key"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: testenv.ManagerUser}},
	})).To(Succeed())
	restartManagerWith(t, func(o *app.Options) { o.Seals, o.SealKeySecret, o.SealKeySecretNamespace = nil, secret.Name, f.ns })

	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		g.Expect(secret.Data).To(HaveKey(seal.SecretKey), "the manager writes a key into the empty Secret")
		g.Expect(secret.Annotations).NotTo(HaveKey(seal.AnnotationAdoption), "adoption ends")
		g.Expect(secret.Annotations).To(HaveKeyWithValue(seal.AnnotationFormat, seal.Format), "adoption records the format it sealed")
	}).Should(Succeed())
	keys, err := seal.Parse(secret.Data[seal.SecretKey])
	g.Expect(err).NotTo(HaveOccurred())
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
