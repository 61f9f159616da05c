package controllers_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func newListing(ns, partner string, versions ...v1alpha1.ListingVersion) *v1alpha1.Listing {
	return &v1alpha1.Listing{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("listing")},
		Spec: v1alpha1.ListingSpec{Partner: partner, Product: "sync", Kind: v1alpha1.ListingKindApp, Versions: versions,
			Claims: v1alpha1.ListingClaims{Certified: true, SecurityReviewed: true}},
	}
}

func getListing(g Gomega, l *v1alpha1.Listing) *v1alpha1.Listing {
	var got v1alpha1.Listing
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(l), &got)).To(Succeed())
	return &got
}

func published(g Gomega, l *v1alpha1.Listing) metav1.Condition {
	return condition(getListing(g, l).Status.Conditions, v1alpha1.ConditionPublished)
}

func TestAListingIsPublishedOnlyWhileThePartnerIsEntitled(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	// Revenue stays fresh for 10s; the select tier (which grants List) is kept 1s after that.
	program, entry, selectTier := ladder(t, 10*time.Second, time.Second)
	p := settledPartner(t, g, ns, program.Name)
	l := newListing(ns, p.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, l)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(published(g, l)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonEntitlementRevoked)))
	}).Should(Succeed())

	crm := qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier))
		g.Expect(published(g, l)).To(And(HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonEntitled)))
		g.Expect(getListing(g, l).Status.PublishedVersions).To(Equal([]string{"1.0.0"}))
	}).Should(Succeed())

	// The evidence goes stale, the grace passes, the partner is demoted: the listing goes with it.
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, p).Status.Tier).To(Equal(entry))
		g.Expect(published(g, l)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonEntitlementRevoked)))
		g.Expect(getListing(g, l).Status.PublishedVersions).To(BeEmpty())
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		var evs eventsv1.EventList
		g.Expect(admin.List(ctx, &evs, client.InNamespace(ns))).To(Succeed())
		g.Expect(evs.Items).To(ContainElements(
			And(HaveField("Regarding.Name", l.Name), HaveField("Reason", v1alpha1.ReasonEntitlementRevoked)),
			And(HaveField("Regarding.Name", p.Name), HaveField("Reason", v1alpha1.ReasonEntitlementRevoked))))
	}).Should(Succeed())

	// Fresh evidence promotes the partner again, and the listing is republished.
	g.Expect(reportEvidence(crm, "crm", p, "revenue", "160", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(published(g, l).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())
}

func TestEachClaimIsShownOnlyWithItsApprovedEvidence(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, false, stage("office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.Entitlements.ClaimCertification = true })
	qualifyForSelect(t, g, f.partner)

	l := newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, l)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getListing(g, l)
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionPublished).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(got.Status.ShownClaims).To(BeEmpty())
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionClaimsVerified)).To(And(
			HaveField("Status", metav1.ConditionFalse),
			HaveField("Message", And(ContainSubstring("kind Certification"), ContainSubstring("kind SecurityReview")))))
	}).Should(Succeed())

	office := reviewer(t, "alice@example.com", f.path, "office")
	r := f.ask(g, claimSpec()) // Certification of product "sync"
	g.Expect(decide(office, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getListing(g, l)
		g.Expect(got.Status.ShownClaims).To(Equal([]string{"Certified"}))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionClaimsVerified).Message).To(ContainSubstring("kind SecurityReview"))
	}).Should(Succeed())
}

func TestVersionDisciplineIsEnforcedAtAdmission(t *testing.T) {
	ns := newNamespace(t)
	program := newProgram(t) // the default notice: 90 days
	p := newPartner(ns, program.Name)
	g := NewWithT(t)
	g.Expect(admin.Create(ctx, p)).To(Succeed())
	l := newListing(ns, p.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour), Notes: "first release"})
	g.Expect(admin.Create(ctx, l)).To(Succeed())

	tests := map[string]struct {
		edit func(*v1alpha1.Listing)
		want []string
	}{
		"editing a released version": {
			edit: func(l *v1alpha1.Listing) { l.Spec.Versions[0].Notes = "rewritten history" },
			want: []string{"spec.versions[0]", "a released version is immutable"},
		},
		"deprecating with too short a notice": {
			edit: func(l *v1alpha1.Listing) {
				l.Spec.Versions[0].DeprecatedAt, l.Spec.Versions[0].SunsetAt = in(0), in(24*time.Hour)
			},
			want: []string{"spec.versions[0].sunsetAt", "at least the program's listingDeprecationNotice (2160h0m0s)"},
		},
		"removing a released version before its sunset": {
			edit: func(l *v1alpha1.Listing) { l.Spec.Versions = nil },
			want: []string{"spec.versions", "cannot be removed before its sunset"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			stored := getListing(g, l)
			edited := stored.DeepCopy()
			tc.edit(edited)
			err := admin.Patch(ctx, edited, client.MergeFrom(stored))
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
			for _, w := range tc.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
			g.Expect(getListing(g, l).Spec).To(Equal(stored.Spec), "nothing is stored")
		})
	}

	// With the full notice the deprecation is accepted and announced.
	stored := getListing(g, l)
	deprecated := stored.DeepCopy()
	deprecated.Spec.Versions[0].DeprecatedAt, deprecated.Spec.Versions[0].SunsetAt = in(0), in(91*24*time.Hour)
	g.Expect(admin.Patch(ctx, deprecated, client.MergeFrom(stored))).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getListing(g, l).Status.Notices).To(ContainElement(And(
			HaveField("Version", "1.0.0"), HaveField("Kind", v1alpha1.NoticeDeprecated))))
	}).Should(Succeed())
}

func TestOnlyThePartnersIntegrationReportsUsage(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)
	a := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)
	b := settledPartnerWithoutTier(t, g, ns, program.Name, withIntegration)
	l := newListing(ns, a.Name)
	g.Expect(admin.Create(ctx, l)).To(Succeed())

	usage := func(views int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(), "kind": "Listing",
			"metadata": map[string]any{"name": l.Name, "namespace": ns},
			"status": map[string]any{"usage": map[string]any{
				"views": views, "installs": int64(0), "observedAt": time.Now().UTC().Format(time.RFC3339)}},
		}}
	}
	apply := func(c client.Client, views int64) error {
		return c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(usage(views)), client.FieldOwner("usage"), client.ForceOwnership)
	}

	// Partner A's integration: its Role covers this listing once the controller sees it.
	own := newClient(t, tokenConfig(t, g, ns, v1alpha1.IntegrationName(a.Name)))
	eventually(g, func(g Gomega) { g.Expect(apply(own, 500)).To(Succeed()) }).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getListing(g, l)
		g.Expect(got.Status.Usage).To(And(Not(BeNil()), HaveField("Source", "system:serviceaccount:"+ns+":"+v1alpha1.IntegrationName(a.Name))))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionLowAdoption)).To(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonTrafficNoAdoption)))
	}).Should(Succeed())

	// Partner B's integration has no RBAC on A's listing.
	other := newClient(t, tokenConfig(t, g, ns, v1alpha1.IntegrationName(b.Name)))
	g.Expect(apierrors.IsForbidden(apply(other, 1))).To(BeTrue())
	// An identity RBAC lets through but the program does not trust is refused by the guard.
	foreign := userClient(t, "growth-hacker@example.com", nil, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"listings/status"}, Verbs: []string{"get", "patch"},
	})
	err := apply(foreign, 1)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("may not report usage"))
	g.Expect(getListing(g, l).Status.Usage.Views).To(Equal(int64(500)))
}

func TestAListingExceptionKeepsOneListingPublishedUntilItExpires(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	kept := newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	other := newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, kept)).To(Succeed())
	g.Expect(admin.Create(ctx, other)).To(Succeed())

	office := reviewer(t, "alice@example.com", f.path, "office")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestListingException,
		Grant: &v1alpha1.Grant{Listing: kept.Name}, Expires: in(10 * time.Second)})
	g.Expect(decide(office, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(published(g, kept)).To(And(HaveField("Status", metav1.ConditionTrue), HaveField("Message", ContainSubstring(r.Name))))
		g.Expect(published(g, other).Status).To(Equal(metav1.ConditionFalse))
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(published(g, kept)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonEntitlementRevoked)))
	}).Should(Succeed())
}
