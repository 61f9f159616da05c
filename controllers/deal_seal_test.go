package controllers_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// dealStatusGuard is the name of the dealregistrations/status webhook.
const dealStatusGuard = "mdealregistrationstatus.governance.partnergov.io"

// Decision integrity III, item 7: a deal's outcome is sealed as evidence
// provenance is. A Won outcome written past the webhooks (naming a trusted
// reporter, with no seal) earns nothing: the registration stays Approved with
// no attribution, says so (OutcomeSealed=False, UnsealedOutcome) with a
// Warning Event; the CRM integration can still report the real outcome over it.
func TestAnUnsealedDealOutcomeEarnsNothing(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	d := newDeal(f.ns, f.partners[0], v1alpha1.DealResale, "forged-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())

	restore := withoutStatusGuards(t, g, dealStatusGuard)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"outcome": map[string]any{
		"result": "Won", "closedAt": time.Now().UTC().Format(time.RFC3339), "amount": map[string]any{"amount": "900000", "currency": "USD"},
		"reportedBy": crmDirect,
	}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	restore()

	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Outcome).NotTo(BeNil(), "the forged outcome is stored")
		c := condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonUnsealedOutcome))
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", d.Name), HaveField("Reason", v1alpha1.ReasonUnsealedOutcome))))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved), "an unsealed outcome does not win the deal")
		g.Expect(got.Status.Attribution).To(BeNil(), "an unsealed outcome credits nobody")
	}).WithTimeout(3 * time.Second).WithPolling(300 * time.Millisecond).Should(Succeed())

	// The CRM integration reports the real outcome over the forged one: sealed, it counts.
	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}})
	g.Expect(reportWon(g, crm, d, "1000")).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(got.Status.Outcome.Amount.Amount).To(Equal(v1alpha1.Decimal("1000")))
		g.Expect(got.Status.Outcome.Seal).NotTo(BeEmpty())
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())
}

// Decision integrity III, item 7: a registration's decided standing is sealed
// by the controller. Protection moved forward past the webhooks gives nothing:
// the registration ends at once (Expired, UnsealedStanding), with the
// condition and a Warning Event, and releases the customer.
func TestAnUnsealedProtectionGivesNothing(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	d := newDeal(f.ns, f.partners[0], v1alpha1.DealResale, "extended-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(got.Status.Seal).NotTo(BeEmpty(), "the controller seals the standing it decides")
	}).Should(Succeed())

	restore := withoutStatusGuards(t, g, dealStatusGuard)
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"protectedUntil": time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339)}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Status().Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	restore()

	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealUnsealedStanding))
		g.Expect(got.Status.ProtectedUntil).To(Equal(got.Status.ApprovedAt), "no protection from an unsealed standing")
		c := condition(got.Status.Conditions, v1alpha1.ConditionOutcomeSealed)
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonDealUnsealedStanding))
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(f.ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElement(And(HaveField("Regarding.Name", d.Name), HaveField("Reason", v1alpha1.ReasonDealUnsealedStanding))))
		var locks v1alpha1.DealLockList
		g.Expect(admin.List(ctx, &locks)).To(Succeed())
		for _, l := range locks.Items {
			g.Expect(l.Spec.Holder.UID).NotTo(Equal(string(got.UID)), "the customer is released")
		}
	}).Should(Succeed())
}
