package controllers_test

import (
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/app"
	"github.com/partnergov/partnergov/internal/deal"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/test/testenv"
)

// The DealLock webhooks: the mutating one seals the CRM's direct claims, the
// validating one refuses every writer but the controller and the CRM.
const (
	lockDefaulter = "mdeallock.governance.partnergov.io"
	lockValidator = "vdeallock.governance.partnergov.io"
)

// Decision integrity III, item 7: a lock grants protection only when its
// holder is sealed. A user with DealLock write rights cannot name their own
// registration as the holder of a customer another registration holds: with
// the webhooks the write is refused; written past them (an uninstall), the
// forged lock holds nothing: the rival keeps its protection and takes the
// lock back (sealed), the forger's registration stays queued, and the
// registrations that read the forged lock get a Warning Event UnsealedLock.
// The CRM's direct claims are sealed by the webhook.
func TestAForgedLockProtectsNothing(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	domain := "forged-lock-" + rand.String(4) + ".com"
	rival := f.register(g, f.partners[0], domain)
	var approved *v1alpha1.DealRegistration
	eventually(g, func(g Gomega) {
		approved = getDeal(g, rival)
		g.Expect(approved.Status.Phase).To(Equal(v1alpha1.DealApproved))
	}).Should(Succeed())
	mine := f.register(g, f.partners[1], domain)
	eventually(g, func(g Gomega) {
		got := getDeal(g, mine)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued))
		g.Expect(got.Status.Holder).NotTo(BeNil())
		g.Expect(got.Status.Holder.Name).To(Equal(rival.Name))
	}).Should(Succeed())
	key := types.NamespacedName{Name: approved.Status.Lock}
	var lock v1alpha1.DealLock
	g.Expect(admin.Get(ctx, key, &lock)).To(Succeed())
	g.Expect(lock.Spec.Seal).NotTo(BeEmpty(), "the controller seals the lock it takes")
	g.Expect(testenv.TestSeals.LockSealed(&lock)).To(BeTrue())

	forger := userClient(t, "lock-forger@example.com", nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group},
		Resources: []string{"deallocks"}, Verbs: []string{"get", "update", "create"}})
	forge := func() error {
		var l v1alpha1.DealLock
		g.Expect(admin.Get(ctx, key, &l)).To(Succeed())
		l.Spec.Holder = deal.HolderOf(getDeal(g, mine))
		l.Spec.Since = metav1.NowMicro()
		return forger.Update(ctx, &l)
	}
	err := forge()
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "with the webhooks the forged write is refused: %v", err)

	restore := withoutWebhooks(t, g, lockDefaulter, lockValidator)
	g.Expect(forge()).To(Succeed())
	restore()

	eventually(g, func(g Gomega) {
		var l v1alpha1.DealLock
		g.Expect(admin.Get(ctx, key, &l)).To(Succeed())
		g.Expect(l.Spec.Holder.UID).To(Equal(string(rival.UID)), "the rival takes its lock back")
		g.Expect(testenv.TestSeals.LockSealed(&l)).To(BeTrue())
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(HaveField("Reason", v1alpha1.ReasonDealUnsealedLock), HaveField("Type", "Warning"))))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		got := getDeal(g, rival)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved), got.Status.Message)
		g.Expect(got.Status.ProtectedUntil).To(Equal(approved.Status.ProtectedUntil), "the rival's protection is untouched")
		g.Expect(dealPhase(g, mine)).To(Equal(v1alpha1.DealQueued), "the forged lock gives the forger's registration nothing")
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())

	// The direct team's claim the CRM integration writes is sealed by the webhook.
	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"deallocks"}, Verbs: []string{"create", "delete", "get"}})
	directKey := f.program.Name + "/domain:direct-" + domain + "/sync"
	direct := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(directKey)}, Spec: v1alpha1.DealLockSpec{
		Program: f.program.Name, ConflictKey: directKey, Since: metav1.NowMicro(), Seal: "v1.made-up",
		Holder: v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: "006-direct"},
	}}
	g.Expect(crm.Create(ctx, direct)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, direct) })
	g.Expect(direct.Spec.Seal).NotTo(Equal("v1.made-up"))
	g.Expect(testenv.TestSeals.LockSealed(direct)).To(BeTrue(), "the webhook seals the CRM's claim")
}

// withoutWebhooks removes the named mutating and validating webhooks, as an
// uninstall would, until restore (or the test's end).
func withoutWebhooks(t *testing.T, g Gomega, names ...string) (restore func()) {
	t.Helper()
	var restores []func()
	var mutating admissionregistrationv1.MutatingWebhookConfigurationList
	g.Expect(admin.List(ctx, &mutating)).To(Succeed())
	for i := range mutating.Items {
		c := &mutating.Items[i]
		before := c.DeepCopy()
		c.Webhooks = slices.DeleteFunc(c.Webhooks, func(w admissionregistrationv1.MutatingWebhook) bool { return slices.Contains(names, w.Name) })
		if len(c.Webhooks) != len(before.Webhooks) {
			g.Expect(admin.Update(ctx, c)).To(Succeed())
			restores = append(restores, func() {
				var now admissionregistrationv1.MutatingWebhookConfiguration
				if err := admin.Get(ctx, client.ObjectKeyFromObject(before), &now); err == nil {
					now.Webhooks = before.Webhooks
					_ = admin.Update(ctx, &now)
				}
			})
		}
	}
	var validating admissionregistrationv1.ValidatingWebhookConfigurationList
	g.Expect(admin.List(ctx, &validating)).To(Succeed())
	for i := range validating.Items {
		c := &validating.Items[i]
		before := c.DeepCopy()
		c.Webhooks = slices.DeleteFunc(c.Webhooks, func(w admissionregistrationv1.ValidatingWebhook) bool { return slices.Contains(names, w.Name) })
		if len(c.Webhooks) != len(before.Webhooks) {
			g.Expect(admin.Update(ctx, c)).To(Succeed())
			restores = append(restores, func() {
				var now admissionregistrationv1.ValidatingWebhookConfiguration
				if err := admin.Get(ctx, client.ObjectKeyFromObject(before), &now); err == nil {
					now.Webhooks = before.Webhooks
					_ = admin.Update(ctx, &now)
				}
			})
		}
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		for _, r := range restores {
			r()
		}
		time.Sleep(time.Second) // the API server follows its webhook configurations after a moment
	}
	t.Cleanup(restore)
	time.Sleep(time.Second)
	return restore
}

// TestTurningSealingOnSealsTheLocksTheirHoldersConfirm starts from an install
// without sealing, where a registration holds its customer and the CRM
// integration claims another for the direct team, then turns sealing on (the
// empty Secret the install ships): adoption seals both locks as they are
// (the direct claim, and the lock the holder's sealed standing names, its
// since unchanged), so the holder keeps its customer and the direct claim
// still rejects a partner's registration once adoption has ended.
func TestTurningSealingOnSealsTheLocksTheirHoldersConfirm(t *testing.T) {
	g := NewWithT(t)
	restartManagerWith(t, func(o *app.Options) { o.Seals = nil }) // sealing off
	t.Cleanup(func() { restartManager(t) })
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	r := rand.String(4)
	held := f.register(g, f.partners[0], "adopted-"+r+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, held)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"deallocks"}, Verbs: []string{"create", "delete", "get"}})
	directKey := f.program.Name + "/domain:adopted-direct-" + r + ".com/sync"
	direct := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(directKey)}, Spec: v1alpha1.DealLockSpec{
		Program: f.program.Name, ConflictKey: directKey, Since: metav1.NowMicro(),
		Holder: v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: "006-adopted"},
	}}
	g.Expect(crm.Create(ctx, direct)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, direct) })
	heldKey := types.NamespacedName{Name: getDeal(g, held).Status.Lock}
	var before v1alpha1.DealLock
	g.Expect(admin.Get(ctx, heldKey, &before)).To(Succeed())
	g.Expect(before.Spec.Seal).To(BeEmpty(), "stored without sealing")
	g.Expect(direct.Spec.Seal).To(BeEmpty(), "stored without sealing")

	secret := sealKeySecret(t, g, f.ns)
	restartManagerWith(t, func(o *app.Options) { o.Seals, o.SealKeySecret, o.SealKeySecretNamespace = nil, secret.Name, f.ns })
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
		g.Expect(secret.Data).To(HaveKey(seal.SecretKey))
		g.Expect(secret.Annotations).NotTo(HaveKey(seal.AnnotationAdoption), "adoption ends")
	}).Should(Succeed())
	keys, err := seal.Parse(secret.Data[seal.SecretKey])
	g.Expect(err).NotTo(HaveOccurred())
	var lock v1alpha1.DealLock
	g.Expect(admin.Get(ctx, heldKey, &lock)).To(Succeed())
	g.Expect(keys.LockSealed(&lock)).To(BeTrue(), "the holder's lock is sealed")
	g.Expect(lock.Spec.Since).To(Equal(before.Spec.Since), "sealed as it was, not taken again")
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(direct), &lock)).To(Succeed())
	g.Expect(keys.LockSealed(&lock)).To(BeTrue(), "the direct claim is sealed")

	late := f.register(g, f.partners[0], "adopted-direct-"+r+".com")
	eventually(g, func(g Gomega) {
		got := getDeal(g, late)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealRejected), got.Status.Message)
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealDirectEngaged))
	}).Should(Succeed())
	g.Expect(dealPhase(g, held)).To(Equal(v1alpha1.DealApproved))
}

// sealKeySecret creates the seal key Secret as the install ships it (empty)
// in ns, and the Role that lets the manager get and update it (config/sealkey).
func sealKeySecret(t *testing.T, g Gomega, ns string) *corev1.Secret {
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
	return secret
}
