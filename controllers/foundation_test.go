package controllers_test

import (
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/test/testenv"
)

func TestEverySampleApplies(t *testing.T) {
	g := NewWithT(t)
	objs, err := testenv.Objects(filepath.Join(env.Root, "config", "samples"))
	g.Expect(err).NotTo(HaveOccurred())
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	g.Expect(kinds).To(Equal(map[string]int{
		"Namespace": 1, "PartnerProgram": 1, "PartnerTier": 4, "ReviewPath": 6,
		"Partner": 4, "Listing": 1, "ExceptionRequest": 2, "DealRegistration": 1, "JointBusinessPlan": 1, "ClusterRole": 4, "ClusterRoleBinding": 4,
	}))

	g.Expect(testenv.Apply(ctx, admin, "samples-test", objs)).To(Succeed())
	for _, o := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed(), "%s %s", o.GetKind(), o.GetName())
	}

	// The controllers accept the sample catalog, tiers and paths.
	for _, name := range []string{"registered", "select", "advanced", "premier"} {
		eventually(g, func(g Gomega) {
			var tier v1alpha1.PartnerTier
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: name}, &tier)).To(Succeed())
			g.Expect(condition(tier.Status.Conditions, v1alpha1.ConditionCatalogResolved)).To(HaveField("Status", metav1.ConditionTrue), name)
			g.Expect(tier.Status.ObservedGeneration).To(Equal(tier.Generation))
		}).Should(Succeed())
	}
	eventually(g, func(g Gomega) {
		var program v1alpha1.PartnerProgram
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: "global"}, &program)).To(Succeed())
		g.Expect(condition(program.Status.Conditions, v1alpha1.ConditionReady)).To(HaveField("Status", metav1.ConditionTrue))
	}).Should(Succeed())

	// The requester of the sample requests is who applied them.
	var req v1alpha1.ExceptionRequest
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "partners", Name: "acme-q4-launch-funds"}, &req)).To(Succeed())
	g.Expect(req.Spec.Requester).NotTo(BeNil())

	// The sample deal registration holds its customer (the alias maps globex.co.uk
	// to globex.com) while the channel manager reviews it.
	eventually(g, func(g Gomega) {
		var d v1alpha1.DealRegistration
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "partners", Name: "acme-globex-sync"}, &d)).To(Succeed())
		g.Expect(d.Status.Phase).To(Equal(v1alpha1.DealUnderReview))
		g.Expect(d.Status.ConflictKey).To(Equal("global/domain:globex.com/sync"))
	}).Should(Succeed())

	// Remove the cluster-scoped samples so that the rest of the suite does not see them.
	t.Cleanup(func() {
		for _, o := range objs {
			if o.GetNamespace() == "" {
				_ = admin.Delete(ctx, o)
			}
		}
	})
}

func TestAPartnerWithoutDisplayNameIsNamedAfterItself(t *testing.T) {
	g := NewWithT(t)
	p := newPartner(newNamespace(t), newProgram(t).Name)
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	g.Expect(p.Spec.DisplayName).To(Equal(p.Name))
}

// TestAPartnerJoinsWhenCreatedAndTheDateIsFixed: spec.joinedAt, which time to
// first revenue counts from, is the creation time unless an earlier date is
// imported; it is never in the future and never changes.
func TestAPartnerJoinsWhenCreatedAndTheDateIsFixed(t *testing.T) {
	g := NewWithT(t)
	ns, program := newNamespace(t), newProgram(t).Name
	before := time.Now().Add(-time.Second)
	p := newPartner(ns, program)
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	g.Expect(p.Spec.JoinedAt).NotTo(BeNil(), "defaulted on create")
	g.Expect(p.Spec.JoinedAt.Time).To(BeTemporally("~", p.CreationTimestamp.Time, 2*time.Second))
	g.Expect(p.Spec.JoinedAt.Time).To(BeTemporally(">=", before.Truncate(time.Second)))

	imported := newPartner(ns, program)
	joined := metav1.NewTime(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	imported.Spec.JoinedAt = &joined
	g.Expect(admin.Create(ctx, imported)).To(Succeed())
	g.Expect(imported.Spec.JoinedAt.Time).To(BeTemporally("==", joined.Time), "an earlier date is kept")

	future := newPartner(ns, program)
	future.Spec.JoinedAt = &metav1.Time{Time: time.Now().Add(24 * time.Hour)}
	err := admin.Create(ctx, future)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.joinedAt"), ContainSubstring("may not be in the future")))

	// The controller writes the partner too: retry a stale read, never a refusal.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		changed := getPartner(g, imported)
		changed.Spec.JoinedAt = &metav1.Time{Time: joined.Add(-24 * time.Hour)}
		return admin.Update(ctx, changed)
	})
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.joinedAt"), ContainSubstring("joinedAt is immutable once set")))

	// A full update from a manifest that never set it keeps the stored date.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		replaced := getPartner(g, imported)
		replaced.Spec.JoinedAt, replaced.Spec.DisplayName = nil, "Imported Partner"
		return admin.Update(ctx, replaced)
	})).To(Succeed())
	g.Expect(getPartner(g, imported).Spec.JoinedAt.Time).To(BeTemporally("==", joined.Time))
}

func TestInvalidObjectsAreRefusedNamingTheField(t *testing.T) {
	ns := newNamespace(t)
	program := newProgram(t)

	noOwner := newPartner(ns, program.Name)
	noOwner.Spec.Owner = ""

	fundsWithoutAmount := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "funds"},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestFunds, Partner: "acme", Justification: "joint launch event in Q4",
		},
	}
	tierExceptionWithoutTier := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "keep-tier"},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestTierException, Partner: "acme", Justification: "renewal of a strategic account",
			Expires: &metav1.Time{Time: time.Now().Add(time.Hour)}, Grant: &v1alpha1.Grant{Tier: ""},
		},
	}
	incentiveWithoutExpiry := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "incentive"},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestIncentiveException, Partner: "acme", Justification: "co-sell pilot in a new segment",
			Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementCoSell}},
		},
	}
	negativeRank := newTier(program.Name, uniqueName("tier"), -1)
	enablementOnly := newTier(program.Name, uniqueName("tier"), 2, atLeast("training", "10"))
	unknownMetric := newTier(program.Name, uniqueName("tier"), 3, atLeast("revenue", "1"), atLeast("karma", "1"))
	badVersion := &v1alpha1.Listing{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "listing"},
		Spec: v1alpha1.ListingSpec{Partner: "p", Product: "p", Kind: v1alpha1.ListingKindApp,
			Versions: []v1alpha1.ListingVersion{{Version: "v1.2"}}},
	}

	tests := map[string]struct {
		obj  client.Object
		want []string // substrings of the error: the field and the rule
	}{
		"partner without an accountable owner":  {obj: noOwner, want: []string{"spec.owner", "at least 1 chars long"}},
		"funds request without an amount":       {obj: fundsWithoutAmount, want: []string{"spec.amount", "amount is required for Funds requests"}},
		"tier exception without a tier":         {obj: tierExceptionWithoutTier, want: []string{"spec.grant", "grant.tier is required"}},
		"incentive exception without expiry":    {obj: incentiveWithoutExpiry, want: []string{"spec.expires", "expires is required"}},
		"tier rank below 0":                     {obj: negativeRank, want: []string{"spec.rank", "greater than or equal to 0"}},
		"tier above entry with enablement only": {obj: enablementOnly, want: []string{"spec.requirements", "Outcome"}},
		"tier requiring an unknown metric":      {obj: unknownMetric, want: []string{"spec.requirements", "karma"}},
		"listing version that is not semver":    {obj: badVersion, want: []string{"spec.versions[0].version", "should match"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := admin.Create(ctx, tc.obj)
			g.Expect(err).To(HaveOccurred())
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
			g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(tc.obj), tc.obj)).NotTo(Succeed(), "nothing is stored")
		})
	}
}

func TestTiersOfAProgramNeedDistinctRanks(t *testing.T) {
	g := NewWithT(t)
	program := newProgram(t)
	first := newTier(program.Name, uniqueName("tier"), 1, atLeast("revenue", "100"))
	g.Expect(admin.Create(ctx, first)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, first) })

	second := newTier(program.Name, uniqueName("tier"), 1, atLeast("revenue", "200"))
	err := admin.Create(ctx, second)
	g.Expect(err).To(MatchError(And(ContainSubstring("spec.rank"), ContainSubstring(first.Name))))
}

func TestCatalogChangeThatBreaksATierIsRefused(t *testing.T) {
	g := NewWithT(t)
	program := newProgram(t)
	tier := newTier(program.Name, uniqueName("tier"), 1, atLeast("revenue", "100"))
	g.Expect(admin.Create(ctx, tier)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, tier) })

	// Dropping the only Outcome metric the tier requires would leave it unearnable.
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
	program.Spec.Metrics = program.Spec.Metrics[1:]
	err := admin.Update(ctx, program)
	g.Expect(err).To(MatchError(And(ContainSubstring("spec.metrics"), ContainSubstring(tier.Name))))

	var stored v1alpha1.PartnerProgram
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(program), &stored)).To(Succeed())
	g.Expect(stored.Spec.Metrics).To(HaveLen(2), "the stored catalog is unchanged")
}

func TestRequesterComesFromTheAPIServer(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)
	partner := newPartner(ns, program.Name)
	g.Expect(admin.Create(ctx, partner)).To(Succeed())

	requester := userClient(t, "jordan.lee@example.com", []string{"sales"}, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"exceptionrequests"}, Verbs: []string{"create", "get"},
	})
	req := &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "claim"},
		Spec: v1alpha1.ExceptionRequestSpec{
			Type: v1alpha1.RequestReadinessClaim, Partner: partner.Name,
			Justification: "passed the certification suite",
			Grant:         &v1alpha1.Grant{Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}},
			Requester:     &v1alpha1.UserInfo{Username: "the-vp@example.com"}, // forged
		},
	}
	g.Expect(requester.Create(ctx, req)).To(Succeed())

	var stored v1alpha1.ExceptionRequest
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(req), &stored)).To(Succeed())
	g.Expect(stored.Spec.Requester.Username).To(Equal("jordan.lee@example.com"))
	g.Expect(stored.Spec.Requester.Groups).To(ContainElement("sales"))

	// The spec, requester included, cannot change afterwards.
	edited := stored.DeepCopy()
	edited.Spec.Justification = "something else entirely"
	g.Expect(admin.Patch(ctx, edited, client.MergeFrom(&stored))).To(MatchError(ContainSubstring("spec is immutable")))
}

func condition(conds []metav1.Condition, typ string) metav1.Condition {
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func TestEvidenceFromTwoIntegrationsMerges(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)
	partner := newPartner(ns, program.Name)
	g.Expect(admin.Create(ctx, partner)).To(Succeed())

	crm := userClient(t, crmUser, nil, integrationRules...)
	lms := userClient(t, lmsUser, nil, integrationRules...)
	now := time.Now()
	g.Expect(reportEvidence(crm, "crm-sync", partner, "revenue", "250000", now)).To(Succeed())
	g.Expect(reportEvidence(lms, "lms-sync", partner, "training", "12", now)).To(Succeed())
	// The CRM reports again: its own entry changes, the LMS entry stays.
	g.Expect(reportEvidence(crm, "crm-sync", partner, "revenue", "300000", now)).To(Succeed())

	var stored v1alpha1.Partner
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(partner), &stored)).To(Succeed())
	values := map[string]v1alpha1.Decimal{}
	for _, e := range stored.Status.Evidence {
		values[e.Metric] = e.Value
	}
	g.Expect(values).To(Equal(map[string]v1alpha1.Decimal{"revenue": "300000", "training": "12"}))
}
