package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/testenv"
)

// Issue 26, items 3 and 4: the requester side of a request decides none of it,
// with real identities against the real API server and webhooks.

// planWriterRules let a user write JointBusinessPlans.
var planWriterRules = rbacv1.PolicyRule{
	APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"jointbusinessplans"}, Verbs: []string{"create", "get", "update", "patch"},
}

// planRequest waits until the plan's BusinessPlan request for its current
// content waits on stage "plans", and returns it.
func planRequest(g Gomega, jbp *v1alpha1.JointBusinessPlan) *v1alpha1.ExceptionRequest {
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Request).NotTo(BeEmpty())
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: jbp.Namespace, Name: jbp.Status.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("plans"))
	}).Should(Succeed())
	return &q
}

func TestNobodyApprovesTheirOwnPlan(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	path := planPath(t)
	updateProgram(g, program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.BusinessPlans = &v1alpha1.BusinessPlanRules{ReviewPath: path.Name}
	})
	p := settledPartner(t, g, ns, program.Name)

	// The plan is written by its author, who holds approve on the plan path
	// too (as a partner manager might), and owned by two others who also do.
	suffix := rand.String(6)
	author, companyOwner, partnerOwner := "author-"+suffix+"@example.com", "pam-"+suffix+"@example.com", "ceo-"+suffix+"@partner.example"
	writer := userClient(t, author, nil, append(requesterRules(), planWriterRules)...)
	jbp := newPlan(ns, p.Name, v1alpha1.PlanGoal{Metric: "revenue", Target: "1000"})
	jbp.Spec.Owners = v1alpha1.PlanOwners{Company: []string{companyOwner}, Partner: []string{partnerOwner}}
	jbp.Spec.Author = &v1alpha1.UserInfo{Username: "someone-else@example.com"} // the server replaces it
	eventually(g, func() error { return writer.Create(ctx, jbp) }).Should(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, jbp) })
	g.Expect(jbp.Spec.Author).NotTo(BeNil())
	g.Expect(jbp.Spec.Author.Username).To(Equal(author), "the server stamps the plan's author")

	q := planRequest(g, jbp)
	g.Expect(q.Spec.Parties).To(ConsistOf(author, companyOwner, partnerOwner))
	for _, who := range []string{author, companyOwner, partnerOwner} {
		c := reviewer(t, who, path, "plans")
		for _, verdict := range []v1alpha1.DecisionVerdict{v1alpha1.DecisionApprove, v1alpha1.DecisionDeny} {
			var err error
			eventually(g, func(g Gomega) { // until RBAC knows the reviewer: then only admission refuses
				err = decide(c, q, "plans", verdict)
				g.Expect(err).To(HaveOccurred())
				g.Expect(err.Error()).To(ContainSubstring("admission webhook"))
			}).Should(Succeed())
			g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s %s: %v", who, verdict, err)
			g.Expect(err.Error()).To(And(ContainSubstring("nobody approves their own plan"), ContainSubstring(who),
				ContainSubstring("spec.parties"), ContainSubstring("JointBusinessPlan "+jbp.Name)))
		}
	}
	g.Expect(getRequest(g, q).Status.Decisions).To(BeEmpty())
	g.Consistently(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Phase).To(Equal(v1alpha1.PlanPendingApproval))
	}).WithTimeout(time.Second).Should(Succeed())

	// Someone else changes the goals: they are the author now, and the new
	// request for the new content has them among its parties.
	editor := "editor-" + suffix + "@example.com"
	edits := userClient(t, editor, nil, planWriterRules)
	eventually(g, func(g Gomega) {
		var got v1alpha1.JointBusinessPlan
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), &got)).To(Succeed())
		got.Spec.Goals[0].Target = "2000"
		g.Expect(edits.Update(ctx, &got)).To(Succeed())
		g.Expect(got.Spec.Author.Username).To(Equal(editor))
	}).Should(Succeed())
	var next *v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		next = planRequest(g, jbp)
		g.Expect(next.Name).NotTo(Equal(q.Name))
	}).Should(Succeed())
	g.Expect(next.Spec.Parties).To(ConsistOf(editor, companyOwner, partnerOwner))
	editorReviews := reviewer(t, editor, path, "plans")
	eventually(g, func(g Gomega) { // until RBAC knows the reviewer: then only admission refuses
		err := decide(editorReviews, next, "plans", v1alpha1.DecisionApprove)
		g.Expect(err).To(MatchError(And(ContainSubstring("admission webhook"), ContainSubstring("nobody approves their own plan"), ContainSubstring(editor))))
	}).Should(Succeed())

	// A reviewer outside the plan approves it.
	g.Expect(decide(reviewer(t, "alice-"+suffix+"@example.com", path, "plans"), next, "plans", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(jbp), jbp)).To(Succeed())
		g.Expect(jbp.Status.Phase).To(Equal(v1alpha1.PlanApproved))
	}).Should(Succeed())
}

func TestBothSidesOfADealConflictAreParties(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("conflicts")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealConflict}},
		Stages:          []v1alpha1.ReviewStage{stage("channel-chief", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 0)
	suffix := rand.String(6)
	holderOwner, challengerOwner := "holder-owner-"+suffix+"@example.com", "challenger-owner-"+suffix+"@example.com"
	holderSeller, challengerSeller := "holder-seller-"+suffix+"@example.com", "challenger-seller-"+suffix+"@example.com"
	owned := func(owner string) func(*v1alpha1.Partner) { return func(p *v1alpha1.Partner) { p.Spec.Owner = owner } }
	holderPartner := settledPartner(t, g, f.ns, f.program.Name, owned(holderOwner))
	challengerPartner := settledPartner(t, g, f.ns, f.program.Name, owned(challengerOwner))

	domain := "contested-" + rand.String(4) + ".com"
	holder := newDeal(f.ns, holderPartner, v1alpha1.DealResale, domain, "sync")
	g.Expect(userClient(t, holderSeller, nil, registrarRules...).Create(ctx, holder)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	challengerClient := userClient(t, challengerSeller, nil, registrarRules...)
	challenger := newDeal(f.ns, challengerPartner, v1alpha1.DealResale, domain, "sync")
	g.Expect(challengerClient.Create(ctx, challenger)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, challenger)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())
	g.Expect(challengerClient.Patch(ctx, getDeal(g, challenger), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalateConflict":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Conflict).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Conflict.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel-chief"))
	}).Should(Succeed())
	g.Expect(q.Spec.OnBehalfOf).To(Equal(challengerSeller))
	g.Expect(q.Spec.Parties).To(ConsistOf(holderSeller, holderOwner))

	// Neither side's registrant or relationship owner decides, whichever way.
	refusals := map[string]string{
		holderOwner:      "both sides of a deal conflict are parties",
		holderSeller:     "both sides of a deal conflict are parties",
		challengerSeller: "the requester cannot decide their own request",
		challengerOwner:  "the partner's relationship owner cannot decide its requests",
	}
	for who, why := range refusals {
		c := reviewer(t, who, path, "channel-chief")
		verdict := v1alpha1.DecisionDeny // the holder side would keep its customer
		if who == challengerSeller || who == challengerOwner {
			verdict = v1alpha1.DecisionApprove
		}
		eventually(g, func(g Gomega) { // until RBAC knows the reviewer: then only admission refuses
			err := decide(c, &q, "channel-chief", verdict)
			g.Expect(err).To(HaveOccurred())
			g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
			g.Expect(err.Error()).To(And(ContainSubstring("admission webhook"), ContainSubstring(why), ContainSubstring(who)))
		}).Should(Succeed())
	}
	g.Expect(getRequest(g, &q).Status.Decisions).To(BeEmpty())
	g.Consistently(func(g Gomega) {
		g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved))
		g.Expect(getRequest(g, &q).Status.Phase).To(Equal(v1alpha1.PhasePending))
	}).WithTimeout(time.Second).Should(Succeed())

	// A reviewer on neither side decides it.
	g.Expect(decide(reviewer(t, "channel-chief-"+suffix+"@example.com", path, "channel-chief"), &q, "channel-chief", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, challenger)).To(Equal(v1alpha1.DealApproved))
		g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealExpired))
	}).Should(Succeed())
}

func TestOnlyTheControllerNamesARequestsParties(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	spec := claimSpec()
	spec.Partner, spec.ReviewPath, spec.Justification = f.partner.Name, f.path.Name, "a justification long enough for the record"
	spec.Parties = []string{"rival@example.com"}
	r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: spec}
	err := f.asker.Create(ctx, r)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.parties"), ContainSubstring("set by the partnergov controller")))
}

// TestTheHoldersOwnerNowIsAPartyToTheConflict: spec.parties records the
// holder's relationship owner when the DealConflict request opens; a partner
// reassigned to another owner meanwhile must not hand the conflict over its
// own customer to its new owner. The holder's owner is read again at each
// decision.
func TestTheHoldersOwnerNowIsAPartyToTheConflict(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("conflicts")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealConflict}},
		Stages:          []v1alpha1.ReviewStage{stage("channel-chief", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 0)
	suffix := rand.String(6)
	holderOwner, newHolderOwner := "holder-owner-"+suffix+"@example.com", "new-holder-owner-"+suffix+"@example.com"
	owned := func(owner string) func(*v1alpha1.Partner) { return func(p *v1alpha1.Partner) { p.Spec.Owner = owner } }
	holderPartner := settledPartner(t, g, f.ns, f.program.Name, owned(holderOwner))
	challengerPartner := settledPartner(t, g, f.ns, f.program.Name, owned("challenger-owner-"+suffix+"@example.com"))

	domain := "contested-" + rand.String(4) + ".com"
	holder := newDeal(f.ns, holderPartner, v1alpha1.DealResale, domain, "sync")
	g.Expect(userClient(t, "holder-seller-"+suffix+"@example.com", nil, registrarRules...).Create(ctx, holder)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	challengerClient := userClient(t, "challenger-seller-"+suffix+"@example.com", nil, registrarRules...)
	challenger := newDeal(f.ns, challengerPartner, v1alpha1.DealResale, domain, "sync")
	g.Expect(challengerClient.Create(ctx, challenger)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, challenger)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())
	g.Expect(challengerClient.Patch(ctx, getDeal(g, challenger), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalateConflict":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Conflict).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Conflict.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel-chief"))
	}).Should(Succeed())
	g.Expect(q.Spec.Parties).NotTo(ContainElement(newHolderOwner))

	// The holder is reassigned after the request opened: its new owner would deny.
	g.Expect(admin.Patch(ctx, getPartner(g, holderPartner), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"owner":"`+newHolderOwner+`"}}`)))).To(Succeed())
	c := reviewer(t, newHolderOwner, path, "channel-chief")
	eventually(g, func(g Gomega) { // until the cache and RBAC know the change: then only admission refuses
		err := decide(c, &q, "channel-chief", v1alpha1.DecisionDeny)
		g.Expect(err).To(HaveOccurred())
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(And(ContainSubstring("admission webhook"), ContainSubstring("both sides of a deal conflict are parties"), ContainSubstring(newHolderOwner)))
	}).Should(Succeed())
	g.Expect(getRequest(g, &q).Status.Decisions).To(BeEmpty())
	g.Expect(getRequest(g, &q).Status.Phase).To(Equal(v1alpha1.PhasePending))
}

// TestAPlanRequestOpenedBeforePartiesStillExcludesItsOwners: a BusinessPlan
// request opened before spec.parties existed lists no parties (its spec cannot
// change); the plan's author and owners, read from the plan whose current
// content it reviews, still decide none of it.
func TestAPlanRequestOpenedBeforePartiesStillExcludesItsOwners(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, _ := ladder(t, time.Hour, time.Hour)
	path := planPath(t)
	updateProgram(g, program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.BusinessPlans = &v1alpha1.BusinessPlanRules{ReviewPath: path.Name}
	})
	p := settledPartner(t, g, ns, program.Name)
	suffix := rand.String(6)
	companyOwner := "pam-" + suffix + "@example.com"
	jbp := newPlan(ns, p.Name, v1alpha1.PlanGoal{Metric: "revenue", Target: "1000"})
	jbp.Spec.Owners = v1alpha1.PlanOwners{Company: []string{companyOwner}, Partner: []string{"ceo-" + suffix + "@partner.example"}}
	g.Expect(admin.Create(ctx, jbp)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, jbp) })
	q := planRequest(g, jbp)
	g.Expect(q.Spec.Parties).To(ContainElement(companyOwner))

	// The request as the controller opened it before spec.parties existed.
	cfg, err := env.UserConfig(testenv.ManagerUser)
	g.Expect(err).NotTo(HaveOccurred())
	manager := newClient(t, cfg)
	legacy := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: q.Namespace, Name: q.Name}, Spec: *q.Spec.DeepCopy()}
	legacy.Spec.Parties, legacy.Spec.Requester = nil, nil
	eventually(g, func(g Gomega) {
		var got v1alpha1.ExceptionRequest
		if err := admin.Get(ctx, client.ObjectKeyFromObject(legacy), &got); err == nil {
			if len(got.Spec.Parties) == 0 {
				return // ours is stored
			}
			g.Expect(client.IgnoreNotFound(admin.Delete(ctx, &got))).To(Succeed())
		}
		err := manager.Create(ctx, legacy.DeepCopy())
		g.Expect(err == nil || apierrors.IsAlreadyExists(err)).To(BeTrue(), "%v", err)
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(legacy), &got)).To(Succeed())
		g.Expect(got.Spec.Parties).To(BeEmpty())
	}).Should(Succeed())
	q = planRequest(g, jbp)
	g.Expect(q.Spec.Parties).To(BeEmpty())

	c := reviewer(t, companyOwner, path, "plans")
	eventually(g, func(g Gomega) { // until RBAC knows the reviewer: then only admission refuses
		err := decide(c, q, "plans", v1alpha1.DecisionApprove)
		g.Expect(err).To(HaveOccurred())
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(And(ContainSubstring("admission webhook"), ContainSubstring("nobody approves their own plan"), ContainSubstring(companyOwner)))
	}).Should(Succeed())
	g.Expect(getRequest(g, q).Status.Decisions).To(BeEmpty())
}
