package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Decision integrity II: decision rights that hold.

func TestOneReviewerDecidesOneStageUnlessThePathAllowsIt(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	alice := reviewer(t, "alice@example.com", f.path, "manager", "finance")
	r := f.ask(g, claimSpec())
	g.Expect(decide(alice, r, "manager", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	err := decide(alice, r, "finance", v1alpha1.DecisionApprove)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring(`one reviewer, one stage: alice@example.com already decided stage "manager"`))

	// A path that allows it (copied into the request when it resolves).
	allowing := newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutEscalate))
	g.Expect(admin.Patch(ctx, allowing.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"allowSameReviewerAcrossStages":true}}`)))).To(Succeed())
	f.path = allowing
	both := reviewer(t, "bea@example.com", allowing, "manager", "finance")
	r2 := f.ask(g, claimSpec())
	g.Expect(decide(both, r2, "manager", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getRequest(g, r2).Status.CurrentStage).To(Equal("finance")) }).Should(Succeed())
	g.Expect(decide(both, r2, "finance", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(phaseOf(g, r2)).To(Equal(v1alpha1.PhaseApproved)) }).Should(Succeed())
}

func TestThePartnersRelationshipOwnerCannotDecideItsRequests(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	g.Expect(admin.Patch(ctx, f.partner.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"owner":"pam@example.com"}}`)))).To(Succeed())
	pam := reviewer(t, "pam@example.com", f.path, "manager")
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) {
		err := decide(pam, r, "", v1alpha1.DecisionApprove)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("the partner's relationship owner cannot decide its requests"))
	}).Should(Succeed())
	g.Expect(getRequest(g, r).Status.Decisions).To(BeEmpty())
}

func TestAutomationFilesOnBehalfOfAPersonWhoCountsAsTheRequester(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	const bot, dana = "gitops-bot@example.com", "dana@example.com"
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) { p.Spec.Automation.Users = []string{bot} })
	gitops := userClient(t, bot, nil, requesterRules()...)
	spec := claimSpec()
	spec.Partner, spec.ReviewPath, spec.Justification = f.partner.Name, f.path.Name, "a justification long enough for the record"
	newRequest := func(s v1alpha1.ExceptionRequestSpec) *v1alpha1.ExceptionRequest {
		return &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: s}
	}

	err := gitops.Create(ctx, newRequest(spec))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.onBehalfOf: Required value"))

	// A person cannot file for someone else: it would move the rules onto them.
	other := spec
	other.OnBehalfOf = dana
	err = f.asker.Create(ctx, newRequest(other))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("only identities a program lists in spec.automation"))

	spec.OnBehalfOf = dana
	r := newRequest(spec)
	g.Expect(gitops.Create(ctx, r)).To(Succeed())
	got := getRequest(g, r)
	g.Expect(got.Spec.Requester.Username).To(Equal(bot), "the creating identity is recorded")
	g.Expect(got.Spec.OnBehalfOf).To(Equal(dana))
	danaReviewer := reviewer(t, dana, f.path, "manager")
	eventually(g, func(g Gomega) {
		err := decide(danaReviewer, r, "", v1alpha1.DecisionApprove)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("filed on behalf of " + dana))
	}).Should(Succeed())
}

func TestAnEscalatedRequestDoesNotWaitForever(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Second, v1alpha1.TimeoutEscalate))
	g.Expect(admin.Patch(ctx, f.path.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalationSLA":"3s"}}`)))).To(Succeed())
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.CurrentStage).To(Equal("escalation"))
		g.Expect(got.Status.StageDeadline).NotTo(BeNil(), "the escalation owner has a deadline too")
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonEscalationExpired))
	}).Should(Succeed())

	bad := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("path")}, Spec: f.path.Spec}
	bad.Spec.Stages = []v1alpha1.ReviewStage{stage("manager", 1, 0, v1alpha1.TimeoutEscalate)}
	err := admin.Create(ctx, bad)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("sla must be a positive duration"))
}

func TestReadyIsComputedForProgramsAndReviewPaths(t *testing.T) {
	g := NewWithT(t)
	program := newProgram(t)
	ready := func(obj client.Object, conds func() []metav1.Condition) func(g Gomega) metav1.Condition {
		return func(g Gomega) metav1.Condition {
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			return condition(conds(), v1alpha1.ConditionReady)
		}
	}
	programReady := ready(program, func() []metav1.Condition { return program.Status.Conditions })
	eventually(g, func(g Gomega) {
		g.Expect(programReady(g)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonNoTiers)))
	}).Should(Succeed())
	create(t, newTier(program.Name, uniqueName("registered"), 0))
	eventually(g, func(g Gomega) {
		g.Expect(programReady(g)).To(And(HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonReconciled)))
	}).Should(Succeed())

	first := newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	firstReady := ready(first, func() []metav1.Condition { return first.Status.Conditions })
	eventually(g, func(g Gomega) { g.Expect(firstReady(g).Status).To(Equal(metav1.ConditionTrue)) }).Should(Succeed())
	second := newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	eventually(g, func(g Gomega) {
		c := firstReady(g)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonAmbiguousPath))
		g.Expect(c.Message).To(ContainSubstring(second.Name))
	}).Should(Succeed())
	g.Expect(admin.Delete(ctx, second)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(firstReady(g).Status).To(Equal(metav1.ConditionTrue)) }).Should(Succeed())
}
