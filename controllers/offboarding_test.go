package controllers_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// Offboarding: at spec.offboarding.effective the partner loses its integration
// identity, its listings, its deal protection and its open requests; it may
// then be deleted, and its decision records outlive it.

// offboardedAt gives a new partner an offboarding effective at t.
func offboardedAt(t time.Time) func(*v1alpha1.Partner) {
	return func(p *v1alpha1.Partner) {
		p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "the partner agreement ended", Effective: metav1.NewTime(t.UTC().Truncate(time.Second))}
	}
}

// offboard sets a stored partner's spec.offboarding, effective at t.
func offboard(g Gomega, p *v1alpha1.Partner, t time.Time) {
	patch := []byte(`{"spec":{"offboarding":{"reason":"the partner agreement ended","effective":"` + t.UTC().Format(time.RFC3339) + `"}}}`)
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, patch))).To(Succeed())
}

func TestOffboardingRevokesReleasesUnpublishesWithdrawsAndKeepsTheRecords(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, selectTier := ladder(t, time.Hour, time.Hour)
	crmDirectUser := uniqueName("crm") + "@example.com"
	updateProgram(g, program.Name, func(p *v1alpha1.PartnerProgram) {
		// Partners' own integrations report certifications; registrations are approved at submission.
		certifications := metric("certifications", v1alpha1.MetricClassEnablement, "lms-sync")
		certifications.TrustedReporters.Groups = []string{"system:serviceaccounts:" + ns}
		p.Spec.Metrics = append(p.Spec.Metrics, certifications)
		p.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{},
			CRMReporters: v1alpha1.Identities{Users: []string{crmDirectUser}}}
	})
	leaving := settledPartner(t, g, ns, program.Name, withIntegration)
	staying := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, leaving)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, leaving).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	// A token of the partner's integration identity reports evidence.
	sa := v1alpha1.IntegrationName(leaving.Name)
	integration := newClient(t, tokenConfig(t, g, ns, sa))
	eventually(g, func() error {
		return reportEvidence(integration, "partner-lms", leaving, "certifications", "9", time.Now())
	}).Should(Succeed())

	// A published listing.
	listing := newListing(ns, leaving.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, listing)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(published(g, listing).Status).To(Equal(metav1.ConditionTrue)) }).Should(Succeed())

	// A registration holding its customer, and another partner's queued behind it.
	registrar := userClient(t, "seller@example.com", nil, registrarRules...)
	domain := "offboard-" + rand.String(5) + ".com"
	held := newDeal(ns, leaving, v1alpha1.DealResale, domain, "sync")
	g.Expect(registrar.Create(ctx, held)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, held)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	queued := newDeal(ns, staying, v1alpha1.DealResale, "www."+domain, "sync")
	g.Expect(registrar.Create(ctx, queued)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	// An open request.
	path := newPath(t, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	requests := &reviewFixture{ns: ns, program: program, partner: leaving, path: path, asker: requesterClient(t, path)}
	open := requests.ask(g, claimSpec())
	g.Expect(open.Status.Phase).To(Equal(v1alpha1.PhasePending))

	// A partner that is not offboarded cannot be deleted.
	err := admin.Delete(ctx, getPartner(g, leaving))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("can be deleted only once it is offboarded: set spec.offboarding (reason and effective) first"))

	// The offboarding is set to take effect in a few seconds: until then nothing changes.
	effective := time.Now().Add(6 * time.Second).Truncate(time.Second)
	offboard(g, leaving, effective)
	err = admin.Delete(ctx, getPartner(g, leaving))
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("may be deleted from then on"))
	g.Expect(dealPhase(g, held)).To(Equal(v1alpha1.DealApproved))
	g.Expect(published(g, listing).Status).To(Equal(metav1.ConditionTrue))

	// At its effective time every consequence follows, with no other change to
	// wake the controllers.
	eventually(g, func(g Gomega) {
		for _, obj := range []client.Object{&corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}} {
			err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: sa}, obj)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T %s: %v", obj, sa, err)
		}
		c := published(g, listing)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(v1alpha1.ReasonPartnerOffboarded))
		d := getDeal(g, held)
		g.Expect(d.Status.Phase).To(Equal(v1alpha1.DealWithdrawn))
		g.Expect(d.Status.Reason).To(Equal(v1alpha1.ReasonPartnerOffboarded))
		g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealApproved), "the customer goes to the next registration in line")
		var lock v1alpha1.DealLock
		g.Expect(admin.Get(ctx, types.NamespacedName{Name: deal.LockName(d.Status.ConflictKey)}, &lock)).To(Succeed())
		g.Expect(lock.Spec.Holder.UID).To(Equal(string(getDeal(g, queued).UID)))
		q := getRequest(g, open)
		g.Expect(q.Status.Phase).To(Equal(v1alpha1.PhaseWithdrawn))
		g.Expect(condition(q.Status.Conditions, v1alpha1.ConditionWithdrawn).Reason).To(Equal(v1alpha1.ReasonPartnerOffboarded))
	}).WithTimeout(40 * time.Second).Should(Succeed())
	g.Expect(time.Now()).To(BeTemporally(">=", effective), "nothing happens before the offboarding takes effect")

	// No token of the old identity works (the API server caches a token's
	// authentication for ten seconds; until then RBAC refuses it, its Role and
	// RoleBinding being gone), and the identity is not provisioned again.
	eventually(g, func(g Gomega) {
		err := reportEvidence(integration, "partner-lms", leaving, "certifications", "10", time.Now())
		g.Expect(apierrors.IsUnauthorized(err)).To(BeTrue(), "a token of the revoked ServiceAccount: got %v", err)
	}).WithTimeout(30 * time.Second).Should(Succeed())
	g.Consistently(func(g Gomega) {
		err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: sa}, &corev1.ServiceAccount{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the integration identity came back: %v", err)
	}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	// Nor is evidence admitted from that identity, should someone make a
	// ServiceAccount of the same name.
	impostor := userClient(t, "system:serviceaccount:"+ns+":"+sa, []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}, integrationRules...)
	err = reportEvidence(impostor, "partner-lms", leaving, "certifications", "11", time.Now())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("revoked when its offboarding took effect"))

	// Nothing new is admitted for the partner, and the offboarding cannot be undone.
	late := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("req")}, Spec: claimSpec()}
	late.Spec.Partner, late.Spec.Justification = leaving.Name, "a justification long enough for the record"
	err = requests.asker.Create(ctx, late)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.partner: Forbidden: partner %s was offboarded at", leaving.Name))
	g.Expect(err.Error()).To(ContainSubstring("an offboarded partner gets no new ExceptionRequest"))
	err = registrar.Create(ctx, newDeal(ns, leaving, v1alpha1.DealResale, "late-"+domain, "sync"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("an offboarded partner gets no new DealRegistration"))
	err = admin.Create(ctx, newListing(ns, leaving.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)}))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("an offboarded partner gets no new Listing"))
	err = admin.Patch(ctx, getPartner(g, leaving), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"offboarding":null}}`)))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.offboarding: Forbidden"))
	g.Expect(err.Error()).To(ContainSubstring("cannot be removed or changed"))

	// Each consequence is recorded.
	var before []recordsv1alpha1.DecisionRecord
	eventually(g, func(g Gomega) {
		before = recordsOf(g, leaving)
		g.Expect(before).To(ContainElement(And(HaveField("Spec.Type", recordsv1alpha1.DecisionDealTransition),
			HaveField("Spec.To", string(v1alpha1.DealWithdrawn)), HaveField("Spec.Reason", v1alpha1.ReasonPartnerOffboarded))))
		g.Expect(before).To(ContainElement(And(HaveField("Spec.Type", recordsv1alpha1.DecisionRequestOutcome),
			HaveField("Spec.Request", open.Name), HaveField("Spec.To", string(v1alpha1.PhaseWithdrawn)), HaveField("Spec.Reason", v1alpha1.ReasonPartnerOffboarded))))
		g.Expect(before).To(ContainElement(And(HaveField("Spec.Type", recordsv1alpha1.DecisionListingPublication),
			HaveField("Spec.To", "Unpublished"), HaveField("Spec.Reason", v1alpha1.ReasonPartnerOffboarded))))
	}).Should(Succeed())

	// Offboarded, the partner can be deleted; its records remain and the
	// plugin's history still finds them.
	g.Expect(admin.Delete(ctx, getPartner(g, leaving))).To(Succeed())
	eventually(g, func(g Gomega) {
		err := admin.Get(ctx, client.ObjectKeyFromObject(leaving), &v1alpha1.Partner{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(recordsOf(g, leaving)).To(HaveLen(len(before)))
	}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
	run := pluginAs(t, g, uniqueName("auditor")+"@example.com", nil, readRule([]string{"list"}, "decisionrecords"))
	out, err := run("history", leaving.Name, "-n", ns, "-o", "wide")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("DealTransition"))
	g.Expect(out).To(ContainSubstring("request " + open.Name + " Withdrawn (PartnerOffboarded)"))
	g.Expect(out).To(ContainSubstring("listing " + listing.Name + " Unpublished (PartnerOffboarded)"))
	g.Expect(out).To(ContainSubstring("partner " + leaving.Name + " was offboarded at " + effective.UTC().Format(time.RFC3339)))
}

// The sample offboarding (config/samples/offboarding), applied as its comment
// says, offboards a partner at once: its listing is unpublished, its
// integration identity revoked, and it may be deleted.
func TestTheOffboardingSampleOffboardsAPartner(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, _, selectTier := ladder(t, time.Hour, time.Hour)
	p := settledPartner(t, g, ns, program.Name, withIntegration)
	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())
	listing := newListing(ns, p.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, listing)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(published(g, listing).Status).To(Equal(metav1.ConditionTrue)) }).Should(Succeed())

	sample, err := os.ReadFile(filepath.Join(env.Root, "config", "samples", "offboarding", "nimbus-software.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	patch, err := yaml.YAMLToJSON(sample)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, patch))).To(Succeed())

	eventually(g, func(g Gomega) {
		g.Expect(published(g, listing)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonPartnerOffboarded)))
		err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.IntegrationName(p.Name)}, &corev1.ServiceAccount{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
	}).Should(Succeed())
	g.Expect(admin.Delete(ctx, getPartner(g, p))).To(Succeed())
}
