package controllers_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/funds"
)

// budgetFixture is effectsFixture (a partner whose tier caps its funds at
// 10,000 USD a quarter) with a second partner of the same program, whose
// program may commit at most 10,000 USD this quarter (and next, should the
// test cross a quarter's end) across both.
func budgetFixture(t *testing.T, g Gomega) (f, other *reviewFixture) {
	f, _, _ = effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	this, end := effects.Quarter(time.Now())
	next, _ := effects.Quarter(end)
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.Funds = &v1alpha1.ProgramFunds{Budgets: []v1alpha1.FundsBudget{
			{Quarter: this, Currency: "USD", Amount: "10000"},
			{Quarter: next, Currency: "USD", Amount: "10000"},
		}}
	})
	other = &reviewFixture{ns: f.ns, program: f.program, path: f.path, asker: f.asker}
	other.partner = settledPartner(t, g, f.ns, f.program.Name)
	return f, other
}

// ledgerOf is the program's ledger of the quarter of now in USD, nil when there is none.
func ledgerOf(g Gomega, program string) *v1alpha1.FundsLedger {
	quarter, _ := effects.Quarter(time.Now())
	var l v1alpha1.FundsLedger
	err := admin.Get(ctx, client.ObjectKey{Name: funds.LedgerName(program, quarter, "USD")}, &l)
	if apierrors.IsNotFound(err) {
		return nil
	}
	g.Expect(err).NotTo(HaveOccurred())
	return &l
}

// reservedRequests lists the requests a ledger reserves, with their amounts.
func reservedRequests(l *v1alpha1.FundsLedger) []string {
	out := []string{}
	for _, r := range l.Spec.Reservations {
		out = append(out, r.Request+"="+string(r.Amount))
	}
	return out
}

// leaveReservation writes, as the controller, a ledger of this quarter that
// holds r's reservation: what a manager that crashed between the reservation
// and r's status write leaves behind.
func leaveReservation(t *testing.T, g Gomega, program string, r *v1alpha1.ExceptionRequest) {
	quarter, _ := effects.Quarter(time.Now())
	b := v1alpha1.FundsBudget{Quarter: quarter, Currency: "USD", Amount: "10000"}
	spec := funds.LedgerSpec(program, b, funds.Reserve(nil, r, time.Now()))
	l := &v1alpha1.FundsLedger{ObjectMeta: metav1.ObjectMeta{Name: funds.LedgerName(program, quarter, "USD")}, Spec: spec}
	g.Expect(managerClient(t, g).Create(ctx, l)).To(Succeed())
}

// TestTwoApprovalsRacingForTheBudgetOneIsDenied: two partners of a program
// with a 10,000 USD budget each have a 6,000 USD Funds request approved at the
// same moment (within each one's 10,000 USD cap): exactly one is Approved and
// the other Denied BudgetExhausted, and the ledger counts 6,000.
func TestTwoApprovalsRacingForTheBudgetOneIsDenied(t *testing.T) {
	g := NewWithT(t)
	f, other := budgetFixture(t, g)
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	spec := v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: &v1alpha1.Money{Amount: "6000", Currency: "USD"}}
	requests := []*v1alpha1.ExceptionRequest{f.ask(g, spec), other.ask(g, spec)}

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(requests))
	for i, r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = decide(manager, r, "", v1alpha1.DecisionApprove)
		}()
	}
	close(start)
	wg.Wait()
	g.Expect(errs).To(HaveEach(BeNil()))

	var approved, denied *v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		approved, denied = nil, nil
		for _, r := range requests {
			switch got := getRequest(g, r); got.Status.Phase {
			case v1alpha1.PhaseApproved:
				approved = got
			case v1alpha1.PhaseDenied:
				denied = got
			}
		}
		g.Expect(approved).NotTo(BeNil(), "one request is approved")
		g.Expect(denied).NotTo(BeNil(), "the other is denied")
	}).Should(Succeed())
	c := condition(denied.Status.Conditions, v1alpha1.ConditionDenied)
	g.Expect(c.Reason).To(Equal(v1alpha1.ReasonBudgetExhausted))
	g.Expect(c.Message).To(And(ContainSubstring("approving 6000 USD would commit 12000 USD against program "+f.program.Name+"'s funds budget"),
		ContainSubstring("of 10000 USD"), ContainSubstring("6000 USD is already committed")))

	l := ledgerOf(g, f.program.Name)
	g.Expect(l).NotTo(BeNil())
	g.Expect(l.Spec.Committed).To(Equal(v1alpha1.Decimal("6000")))
	g.Expect(reservedRequests(l)).To(ConsistOf(approved.Name + "=6000"))

	// The scorecard shows the budget with what is committed and left.
	quarter, _ := effects.Quarter(time.Now())
	eventually(g, func(g Gomega) {
		var p v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(f.program), &p)).To(Succeed())
		g.Expect(p.Status.Scorecard).NotTo(BeNil())
		g.Expect(p.Status.Scorecard.FundsBudgets).To(ContainElement(v1alpha1.FundsBudgetFigure{
			Quarter: quarter, Currency: "USD", Budget: "10000", Committed: "6000", Remaining: "4000"}))
	}).Should(Succeed())
}

// TestADeniedRequestHoldsNoBudget: a reservation whose request is denied
// (its approval was reserved, then the manager crashed before writing it,
// and the request was decided otherwise) is released, and the budget it held
// goes to the next approval.
func TestADeniedRequestHoldsNoBudget(t *testing.T) {
	g := NewWithT(t)
	f, other := budgetFixture(t, g)
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	spec := v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: &v1alpha1.Money{Amount: "6000", Currency: "USD"}}
	first := f.ask(g, spec)
	leaveReservation(t, g, f.program.Name, first)

	g.Expect(decide(manager, first, "", v1alpha1.DecisionDeny)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(phaseOf(g, first)).To(Equal(v1alpha1.PhaseDenied))
		l := ledgerOf(g, f.program.Name)
		g.Expect(reservedRequests(l)).To(BeEmpty(), "the denied request's reservation is released")
		g.Expect(l.Spec.Committed).To(Equal(v1alpha1.Decimal("0")))
	}).Should(Succeed())

	second := other.ask(g, spec)
	g.Expect(decide(manager, second, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, second)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved), condition(got.Status.Conditions, v1alpha1.ConditionReady).Message)
		g.Expect(reservedRequests(ledgerOf(g, f.program.Name))).To(ConsistOf(second.Name + "=6000"))
	}).Should(Succeed())
}

// TestAReservationLeftByACrashIsCountedOnce: a request whose reservation was
// written before a crash, and whose Approved status was not, is approved
// again against the budget without its own reservation counting against it,
// and the ledger still counts it once.
func TestAReservationLeftByACrashIsCountedOnce(t *testing.T) {
	g := NewWithT(t)
	f, _ := budgetFixture(t, g)
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: &v1alpha1.Money{Amount: "6000", Currency: "USD"}})
	leaveReservation(t, g, f.program.Name, r)

	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved), condition(got.Status.Conditions, v1alpha1.ConditionReady).Message)
	}).Should(Succeed())
	l := ledgerOf(g, f.program.Name)
	g.Expect(reservedRequests(l)).To(ConsistOf(r.Name + "=6000"))
	g.Expect(l.Spec.Committed).To(Equal(v1alpha1.Decimal("6000")))
}

// TestOnlyTheControllerWritesFundsLedgers: nobody but the controller
// creates, changes or deletes a FundsLedger, cluster admins included, and
// even the controller only under the name its budget gives.
func TestOnlyTheControllerWritesFundsLedgers(t *testing.T) {
	g := NewWithT(t)
	program := newProgram(t)
	quarter, _ := effects.Quarter(time.Now())
	b := v1alpha1.FundsBudget{Quarter: quarter, Currency: "USD", Amount: "10000"}
	name := funds.LedgerName(program.Name, quarter, "USD")
	l := &v1alpha1.FundsLedger{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: funds.LedgerSpec(program.Name, b, nil)}

	err := admin.Create(ctx, l.DeepCopy())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "create: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("only the partnergov controller writes FundsLedgers"))

	controller := managerClient(t, g)
	misnamed := l.DeepCopy()
	misnamed.Name = "somewhere-else"
	err = controller.Create(ctx, misnamed)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "misnamed: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("must be named " + name))

	g.Expect(controller.Create(ctx, l)).To(Succeed())
	t.Cleanup(func() { _ = controller.Delete(ctx, l) })
	changed := l.DeepCopy()
	changed.Spec.Committed = "0.01"
	for what, write := range map[string]func() error{
		"update": func() error { return admin.Update(ctx, changed) },
		"delete": func() error { return admin.Delete(ctx, l.DeepCopy()) },
	} {
		err := write()
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s: %v", what, err)
		g.Expect(strings.Contains(err.Error(), "only the partnergov controller writes FundsLedgers")).To(BeTrue(), what)
	}
}
