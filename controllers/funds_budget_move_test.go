package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// An approval counts against the budget of the program it was approved
// under for as long as it counts: moving its partner to another program
// frees none of that budget. Partner f's 6,000 USD approval fills 6,000 of
// its program's 10,000 USD budget; f is then moved to another program, and
// the other partner's 6,000 USD approval in the first program is denied
// BudgetExhausted (the program's partners were given 12,000 USD this quarter
// otherwise).
func TestAnApprovalKeepsCountingAgainstItsProgramsBudgetWhenItsPartnerMoves(t *testing.T) {
	g := NewWithT(t)
	f, other := budgetFixture(t, g)
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	spec := v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("6000")}
	first := f.ask(g, spec)
	g.Expect(decide(manager, first, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getRequest(g, first).Status.RecordedPhase).To(Equal(v1alpha1.PhaseApproved))
		l := ledgerOf(g, f.program.Name)
		g.Expect(l).NotTo(BeNil())
		g.Expect(l.Spec.Committed).To(Equal(v1alpha1.Decimal("6000")))
	}).Should(Succeed())

	elsewhere, _, _ := ladder(t, time.Hour, time.Second)
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := getPartner(g, f.partner)
		p.Spec.Program = elsewhere.Name
		return admin.Update(ctx, p)
	})).To(Succeed())
	eventually(g, func(g Gomega) {
		var partners v1alpha1.PartnerList
		g.Expect(admin.List(ctx, &partners, client.InNamespace(f.ns))).To(Succeed())
		for _, p := range partners.Items {
			if p.Name == f.partner.Name {
				g.Expect(p.Spec.Program).To(Equal(elsewhere.Name))
			}
		}
	}).Should(Succeed())
	time.Sleep(time.Second) // the manager's cache sees the move

	second := other.ask(g, spec)
	g.Expect(decide(manager, second, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied), "the program's partners were given 12000 USD against its 10000 USD budget")
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonBudgetExhausted))
	}).Should(Succeed())
}
