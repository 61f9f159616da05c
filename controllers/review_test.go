package controllers_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/plugin"
)

const requester = "jordan.lee@example.com"

func stage(name string, quorum int32, sla time.Duration, onTimeout v1alpha1.TimeoutAction) v1alpha1.ReviewStage {
	return v1alpha1.ReviewStage{Name: name, Quorum: quorum, SLA: metav1.Duration{Duration: sla}, OnTimeout: onTimeout}
}

// newPath creates a review path for every request type; tests name it in their
// requests, so other tests' paths never make resolution ambiguous.
func newPath(t *testing.T, stages ...v1alpha1.ReviewStage) *v1alpha1.ReviewPath {
	t.Helper()
	p := &v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("path")},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo: v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{
				v1alpha1.RequestFunds, v1alpha1.RequestIncentiveException, v1alpha1.RequestReadinessClaim,
				v1alpha1.RequestTierException, v1alpha1.RequestListingException, v1alpha1.RequestTierPromotion,
			}},
			Stages:          stages,
			EscalationOwner: "vp-partnerships@example.com",
		},
	}
	create(t, p)
	return p
}

// reviewer is a user allowed to approve the named stages of a path.
func reviewer(t *testing.T, name string, path *v1alpha1.ReviewPath, stages ...string) client.Client {
	t.Helper()
	var names []string
	for _, s := range stages {
		names = append(names, path.Name+"."+s)
	}
	rules := []rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"exceptionrequests", "exceptionrequests/status"}, Verbs: []string{"get", "patch"},
	}}
	if len(names) > 0 {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"reviewpaths"}, ResourceNames: names, Verbs: []string{"approve"},
		})
	}
	return userClient(t, name, nil, rules...)
}

// requesterClient may create requests (and, to prove it does not help, approve every stage).
func requesterClient(t *testing.T, path *v1alpha1.ReviewPath) client.Client {
	t.Helper()
	return userClient(t, requester, []string{"sales"}, requesterRules()...)
}

// requesterRules let a user create and read requests and approve every stage.
func requesterRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"exceptionrequests", "exceptionrequests/status"}, Verbs: []string{"create", "get", "patch"},
	}, {
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"reviewpaths"}, Verbs: []string{"approve"},
	}}
}

type reviewFixture struct {
	ns      string
	program *v1alpha1.PartnerProgram
	partner *v1alpha1.Partner
	path    *v1alpha1.ReviewPath
	asker   client.Client
}

func newReviewFixture(t *testing.T, g Gomega, stages ...v1alpha1.ReviewStage) *reviewFixture {
	f := &reviewFixture{ns: newNamespace(t), program: newProgram(t)}
	f.partner = newPartner(f.ns, f.program.Name)
	g.Expect(admin.Create(ctx, f.partner)).To(Succeed())
	f.path = newPath(t, stages...)
	f.asker = requesterClient(t, f.path)
	return f
}

// ask files a request through the fixture's path and waits until it is under review.
func (f *reviewFixture) ask(g Gomega, spec v1alpha1.ExceptionRequestSpec) *v1alpha1.ExceptionRequest {
	spec.Partner, spec.ReviewPath = f.partner.Name, f.path.Name
	if spec.Justification == "" {
		spec.Justification = "a justification long enough for the record"
	}
	r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: spec}
	g.Expect(f.asker.Create(ctx, r)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(r), r)).To(Succeed())
		g.Expect(r.Status.Phase).NotTo(BeEmpty())
	}).Should(Succeed())
	return r
}

func claimSpec() v1alpha1.ExceptionRequestSpec {
	return v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestReadinessClaim,
		Grant: &v1alpha1.Grant{Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}}}
}

func decide(c client.Client, r *v1alpha1.ExceptionRequest, stage string, verdict v1alpha1.DecisionVerdict) error {
	_, err := plugin.Decide(ctx, c, client.ObjectKeyFromObject(r), stage, verdict, "reviewed the evidence")
	return err
}

func getRequest(g Gomega, r *v1alpha1.ExceptionRequest) *v1alpha1.ExceptionRequest {
	var got v1alpha1.ExceptionRequest
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(r), &got)).To(Succeed())
	return &got
}

func phaseOf(g Gomega, r *v1alpha1.ExceptionRequest) v1alpha1.RequestPhase {
	return getRequest(g, r).Status.Phase
}

func TestSelfApprovalIsRefused(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())

	err := decide(f.asker, r, "manager", v1alpha1.DecisionApprove)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("the requester cannot decide their own request"))
	g.Expect(getRequest(g, r).Status.Decisions).To(BeEmpty())
}

func TestAReviewerWithoutApproveOnTheStageIsRefused(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	outsider := reviewer(t, "casey@example.com", f.path) // may patch requests, may approve nothing

	err := decide(outsider, r, "manager", v1alpha1.DecisionApprove)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring(`verb "approve"`), ContainSubstring(`resourceName "`+f.path.Name+`.manager"`)))
	g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhasePending))
}

func TestQuorumTwoNeedsTwoDistinctReviewers(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("finance", 2, time.Hour, v1alpha1.TimeoutDeny))
	r := f.ask(g, claimSpec())
	alice := reviewer(t, "alice@example.com", f.path, "finance")
	bob := reviewer(t, "bob@example.com", f.path, "finance")

	g.Expect(decide(alice, r, "finance", v1alpha1.DecisionApprove)).To(Succeed())
	err := decide(alice, r, "finance", v1alpha1.DecisionApprove)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a second approval by the same reviewer: %v", err)
	g.Consistently(func(g Gomega) { g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhasePending)) }).WithTimeout(time.Second).Should(Succeed())

	g.Expect(decide(bob, r, "finance", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(got.Status.Decisions).To(HaveLen(2))
		g.Expect(got.Status.Decisions[0]).To(And(HaveField("Reviewer", "alice@example.com"), HaveField("Generation", got.Generation)))
		g.Expect(got.Status.Decisions[1].Reviewer).To(Equal("bob@example.com"))
	}).Should(Succeed())
}

func TestSLABreachEscalatesToTheOwner(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, 2*time.Second, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	g.Expect(getRequest(g, r).Status.StageDeadline).NotTo(BeNil())

	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.CurrentStage).To(Equal("escalation"))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionEscalated)).To(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonSLABreached)))
	}).Should(Succeed())

	// The path's escalation owner decides without any extra RBAC.
	owner := reviewer(t, "vp-partnerships@example.com", f.path)
	g.Expect(decide(owner, r, "escalation", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseApproved)) }).Should(Succeed())
}

func TestSLABreachOnADenyStageDenies(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("finance", 1, 2*time.Second, v1alpha1.TimeoutDeny))
	r := f.ask(g, claimSpec())
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(v1alpha1.ReasonTimeoutDenied))
	}).Should(Succeed())
}

func TestADenyEndsTheRequestAndDecisionsCannotChange(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate), stage("finance", 1, time.Hour, v1alpha1.TimeoutDeny))
	r := f.ask(g, claimSpec())
	alice := reviewer(t, "alice@example.com", f.path, "manager", "finance")
	bob := reviewer(t, "bob@example.com", f.path, "manager", "finance")

	g.Expect(decide(alice, r, "manager", v1alpha1.DecisionDeny)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(phaseOf(g, r)).To(Equal(v1alpha1.PhaseDenied)) }).Should(Succeed())

	err := decide(bob, r, "manager", v1alpha1.DecisionApprove)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)

	stored := getRequest(g, r)
	edited := stored.DeepCopy()
	edited.Status.Decisions[0].Decision = v1alpha1.DecisionApprove
	err = alice.Status().Patch(ctx, edited, client.MergeFrom(stored))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("append-only"))

	removed := stored.DeepCopy()
	removed.Status.Decisions = nil
	err = alice.Status().Patch(ctx, removed, client.MergeFrom(stored))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(getRequest(g, r).Status.Decisions).To(Equal(stored.Status.Decisions))
}

func TestThePluginRecordsADecisionAsTheUserRunningIt(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := f.ask(g, claimSpec())
	reviewer(t, "alice@example.com", f.path, "manager") // grants the RBAC
	user, err := env.AddUser(envtest.User{Name: "alice@example.com"}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig, err := user.KubeConfig()
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(path, kubeconfig, 0o600)).To(Succeed())

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}
		err := plugin.Run(ctx, streams, append(args, "--kubeconfig", path, "-n", f.ns))
		return out.String(), err
	}
	_, err = run("approve", r.Name)
	g.Expect(err).To(MatchError(ContainSubstring("--reason is required")))

	out, err := run("approve", r.Name, "--reason", "certification report checked")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal(fmt.Sprintf("exceptionrequest %s/%s: Approve recorded for stage manager by alice@example.com\n", f.ns, r.Name)))
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseApproved))
		g.Expect(got.Status.Decisions).To(ConsistOf(And(
			HaveField("Reviewer", "alice@example.com"), HaveField("Rationale", "certification report checked"))))
	}).Should(Succeed())

	_, err = run("deny", r.Name, "--reason", "too late")
	g.Expect(err).To(MatchError(ContainSubstring("not waiting on any stage")))
}

func TestARequesterCannotChooseALighterReview(t *testing.T) {
	g := NewWithT(t)
	f := newReviewFixture(t, g, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	light := &v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("small-funds")},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestFunds}, AmountAtMost: ptr(v1alpha1.Decimal("1000"))},
			Stages:          []v1alpha1.ReviewStage{stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate)},
			EscalationOwner: "owner@example.com",
		},
	}
	create(t, light)

	tests := map[string]struct {
		spec v1alpha1.ExceptionRequestSpec
		want []string
	}{
		"naming a path that does not govern the amount": {
			spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, ReviewPath: light.Name,
				Amount: &v1alpha1.Money{Amount: "90000", Currency: "USD"}},
			want: []string{"spec.reviewPath", "does not govern Funds requests of this amount"},
		},
		"naming a path that does not exist": {
			spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestReadinessClaim, ReviewPath: "gone",
				Grant: claimSpec().Grant},
			want: []string{"spec.reviewPath", "Not found"},
		},
		"opening a tier promotion by hand": {
			spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestTierPromotion, Grant: &v1alpha1.Grant{Tier: "premier"}},
			want: []string{"spec.type", "opened by the partnergov controller"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			spec := tc.spec
			spec.Partner, spec.Justification = f.partner.Name, "a justification long enough for the record"
			r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: spec}
			err := f.asker.Create(ctx, r)
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
