package controllers_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// Decision integrity III: keys of an open registration are fixed when it is
// decided. A program editor who aliases a held customer's domain to a domain
// another partner holds, or lists it in freeMailDomains, moves no protection:
// both registrations keep their keys, protection and locks. A registration
// made after the edit uses the new rules.
func TestAProgramEditDoesNotMoveAHeldCustomer(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	r := rand.String(4)
	globex, initech, mailish := "globex-"+r+".com", "initech-"+r+".com", "mailish-"+r+".com"
	held := f.register(g, f.partners[0], globex)
	friend := f.register(g, f.partners[1], initech)
	mail := f.register(g, f.partners[0], mailish)
	decided := map[string]*v1alpha1.DealRegistration{}
	eventually(g, func(g Gomega) {
		for _, d := range []*v1alpha1.DealRegistration{held, friend, mail} {
			got := getDeal(g, d)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved))
			decided[d.Name] = got
		}
	}).Should(Succeed())

	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"dealRegistration": map[string]any{
		"domainAliases":   []any{map[string]any{"domain": globex, "canonical": initech}},
		"freeMailDomains": []any{mailish},
	}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Patch(ctx, f.program, client.RawPatch(types.MergePatchType, patch))).To(Succeed())

	// Registered after the edit, globex's domain is initech's customer under
	// the new rules: queued behind initech's holder.
	late := f.register(g, f.partners[0], globex)
	eventually(g, func(g Gomega) {
		got := getDeal(g, late)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued), got.Status.Message)
		g.Expect(got.Status.CanonicalDomain).To(Equal(initech))
		g.Expect(got.Status.Holder).NotTo(BeNil())
		g.Expect(got.Status.Holder.Name).To(Equal(friend.Name))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for _, d := range []*v1alpha1.DealRegistration{held, friend, mail} {
			got, was := getDeal(g, d), decided[d.Name]
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved), "%s: %s", d.Name, got.Status.Message)
			g.Expect(got.Status.ConflictKeys).To(Equal(was.Status.ConflictKeys), "%s keeps the keys it was decided with", d.Name)
			g.Expect(got.Status.ProtectedUntil).To(Equal(was.Status.ProtectedUntil))
			var lock v1alpha1.DealLock
			g.Expect(admin.Get(ctx, types.NamespacedName{Name: deal.LockName(was.Status.ConflictKeys[0])}, &lock)).To(Succeed())
			g.Expect(lock.Spec.Holder.UID).To(Equal(string(got.UID)), "%s still holds its lock", d.Name)
		}
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())
}
