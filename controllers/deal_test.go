package controllers_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// Deal registration: rules of engagement as code.

const crmDirect = "crm-direct@example.com"

type dealFixture struct {
	ns        string
	program   *v1alpha1.PartnerProgram
	entry     string // the tier the partners hold
	partners  []*v1alpha1.Partner
	registrar client.Client
}

// registrarRules let a partner's seller register deals and withdraw them.
var registrarRules = []rbacv1.PolicyRule{{
	APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations"}, Verbs: []string{"create", "get", "update", "patch"},
}}

// newDealFixture creates a program with rules of engagement, and partners at
// its entry tier, which grants Resell.
func newDealFixture(t *testing.T, g Gomega, rules v1alpha1.DealRegistrationRules, partners int) *dealFixture {
	f := &dealFixture{ns: newNamespace(t)}
	f.program, f.entry, _ = ladder(t, time.Hour, time.Hour)
	rules.CRMReporters = v1alpha1.Identities{Users: []string{crmDirect}}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"dealRegistration": rules}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Patch(ctx, f.program, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
	for range partners {
		f.partners = append(f.partners, settledPartner(t, g, f.ns, f.program.Name))
	}
	f.registrar = userClient(t, "seller@example.com", nil, registrarRules...)
	return f
}

func newDeal(ns string, p *v1alpha1.Partner, t v1alpha1.DealType, domain, product string) *v1alpha1.DealRegistration {
	return &v1alpha1.DealRegistration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("deal")},
		Spec: v1alpha1.DealRegistrationSpec{Partner: p.Name, Type: t, ProductLine: product,
			Customer: v1alpha1.Customer{Name: "Customer of " + domain, Domain: domain},
			Amount:   v1alpha1.Money{Amount: "40000", Currency: "USD"}},
	}
}

func (f *dealFixture) register(g Gomega, p *v1alpha1.Partner, domain string) *v1alpha1.DealRegistration {
	d := newDeal(f.ns, p, v1alpha1.DealResale, domain, "sync")
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	return d
}

func getDeal(g Gomega, d *v1alpha1.DealRegistration) *v1alpha1.DealRegistration {
	var got v1alpha1.DealRegistration
	g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(d), &got)).To(Succeed())
	return &got
}

func dealPhase(g Gomega, d *v1alpha1.DealRegistration) v1alpha1.DealPhase {
	return getDeal(g, d).Status.Phase
}

// withdraw sets spec.withdrawn, as the partner does.
func withdraw(g Gomega, d *v1alpha1.DealRegistration) {
	g.Expect(admin.Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"withdrawn":true}}`)))).To(Succeed())
}

// underReview waits until d is under review and its review request waits on
// stage, and returns the request.
func underReview(g Gomega, d *v1alpha1.DealRegistration, stage string) *v1alpha1.ExceptionRequest {
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealUnderReview))
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: got.Status.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal(stage))
	}).Should(Succeed())
	return &q
}

// reportWon has the CRM integration report d won for amount USD, closed now
// (with a forged reporter the server replaces).
// dealRecords lists the DealTransition records of registration d.
func dealRecords(g Gomega, d *v1alpha1.DealRegistration) []recordsv1alpha1.DecisionRecord {
	var recs recordsv1alpha1.DecisionRecordList
	g.Expect(admin.List(ctx, &recs, client.InNamespace(d.Namespace))).To(Succeed())
	var out []recordsv1alpha1.DecisionRecord
	for _, r := range recs.Items {
		if r.Spec.Type == recordsv1alpha1.DecisionDealTransition && r.Spec.Subject.UID == string(d.UID) {
			out = append(out, r)
		}
	}
	return out
}

func reportWon(g Gomega, crm client.Client, d *v1alpha1.DealRegistration, amount string) error {
	outcome := []byte(`{"status":{"outcome":{"result":"Won","closedAt":"` + time.Now().UTC().Format(time.RFC3339) +
		`","amount":{"amount":"` + amount + `","currency":"USD"},"reportedBy":"the-cfo"}}}`)
	return crm.Status().Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, outcome))
}

// claimInfluence has the registrar claim, on registration d, that partners
// influenced it now (the claims are made once the registration exists).
func claimInfluence(g Gomega, registrar client.Client, d *v1alpha1.DealRegistration, partners ...*v1alpha1.Partner) error {
	var infs []v1alpha1.Influencer
	at := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	for _, p := range partners {
		infs = append(infs, v1alpha1.Influencer{Partner: p.Name, Namespace: p.Namespace, Role: v1alpha1.InfluenceTechnicalWin, At: at})
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"influencers": infs}})
	g.Expect(err).NotTo(HaveOccurred())
	return registrar.Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, patch))
}

// confirmInfluence has c confirm every influence claim of d as claimed, with a
// forged confirmedBy the server replaces.
func confirmInfluence(g Gomega, c client.Client, d *v1alpha1.DealRegistration) error {
	var confs []v1alpha1.InfluenceConfirmation
	for _, inf := range getDeal(g, d).Spec.Influencers {
		confs = append(confs, v1alpha1.InfluenceConfirmation{Influencer: inf, ConfirmedBy: "the-cfo"})
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"influenceConfirmations": confs}})
	g.Expect(err).NotTo(HaveOccurred())
	return c.Status().Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, patch))
}

func TestOneHolderPerCustomerEvenWhenPartnersRace(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	type pair struct{ a, b *v1alpha1.DealRegistration }
	var pairs []pair
	for i := range 50 {
		domain := fmt.Sprintf("race%d-%s.com", i, rand.String(4))
		// The same customer, spelled two ways, registered at the same moment.
		a := newDeal(f.ns, f.partners[0], v1alpha1.DealResale, "https://www."+domain+"/contact", "sync")
		b := newDeal(f.ns, f.partners[1], v1alpha1.DealResale, "SALES."+domain, "sync")
		var wg sync.WaitGroup
		for _, d := range []*v1alpha1.DealRegistration{a, b} {
			wg.Go(func() { g.Expect(f.registrar.Create(ctx, d)).To(Succeed()) })
		}
		wg.Wait()
		pairs = append(pairs, pair{a, b})
	}
	for _, p := range pairs {
		eventually(g, func(g Gomega) {
			a, b := getDeal(g, p.a), getDeal(g, p.b)
			phases := []v1alpha1.DealPhase{a.Status.Phase, b.Status.Phase}
			g.Expect(phases).To(ConsistOf(v1alpha1.DealApproved, v1alpha1.DealQueued), "exactly one holder, the other queued")
			g.Expect(a.Status.ConflictKey).To(Equal(b.Status.ConflictKey), "both spellings are one customer")
			holder := a
			if b.Status.Phase == v1alpha1.DealApproved {
				holder = b
			}
			var lock v1alpha1.DealLock
			g.Expect(admin.Get(ctx, types.NamespacedName{Name: deal.LockName(a.Status.ConflictKey)}, &lock)).To(Succeed())
			g.Expect(lock.Spec.Holder.UID).To(Equal(string(holder.UID)), "the lock names the approved registration")
		}).Should(Succeed())
	}
}

func TestTheDirectTeamHoldsACustomerAgainstPartners(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	key := f.program.Name + "/domain:direct-" + rand.String(4) + ".com/sync"
	domain := key[len(f.program.Name)+len("/domain:") : len(key)-len("/sync")]
	lockRules := []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"deallocks"}, Verbs: []string{"create", "update", "delete", "get"}}}
	crm := userClient(t, crmDirect, nil, lockRules...)
	stranger := userClient(t, "someone@example.com", nil, lockRules...)
	direct := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(key)}, Spec: v1alpha1.DealLockSpec{
		Program: f.program.Name, ConflictKey: key, Since: metav1.NowMicro(),
		Holder: v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: "006-direct"},
	}}

	err := stranger.Create(ctx, direct.DeepCopy())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("crmReporters"))
	misnamed := direct.DeepCopy()
	misnamed.Name = "deal-by-hand"
	err = crm.Create(ctx, misnamed)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("must be named " + deal.LockName(key)))
	g.Expect(crm.Create(ctx, direct)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, direct) })

	d := f.register(g, f.partners[0], "www."+domain)
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealRejected))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealDirectEngaged))
		g.Expect(got.Status.Message).To(ContainSubstring("006-direct"))
	}).Should(Succeed())

	// The CRM writes the direct team's claims only: it cannot take a partner's key.
	other := f.register(g, f.partners[0], "partner-held-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, other)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	var held v1alpha1.DealLock
	g.Expect(admin.Get(ctx, types.NamespacedName{Name: getDeal(g, other).Status.Lock}, &held)).To(Succeed())
	held.Spec.Holder = v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: "006-grab"}
	err = crm.Update(ctx, &held)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("direct team's claims only"))
}

func TestExpiryReleasesTheCustomerToTheEarliestQueued(t *testing.T) {
	g := NewWithT(t)
	protection := 4 * time.Second
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{
		AutoApprove: &v1alpha1.DealAutoApproval{}, Protection: &metav1.Duration{Duration: protection},
	}, 3)
	domain := "expiry-" + rand.String(4) + ".com"
	first := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, first)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	second := f.register(g, f.partners[1], "www."+domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, second)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())
	third := f.register(g, f.partners[2], domain+"/about")
	eventually(g, func(g Gomega) {
		got := getDeal(g, third)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued))
		g.Expect(got.Status.Holder).NotTo(BeNil())
		g.Expect(got.Status.Holder.Name).To(Equal(first.Name))
	}).Should(Succeed())

	// At protectedUntil the holder expires and the earlier queued registration
	// (second), not the later one, gets the customer.
	approvedAt := getDeal(g, first).Status.ApprovedAt.Time
	g.Expect(getDeal(g, first).Status.ProtectedUntil.Time).To(Equal(approvedAt.Add(protection)))
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, first)).To(Equal(v1alpha1.DealExpired))
		g.Expect(dealPhase(g, second)).To(Equal(v1alpha1.DealApproved))
		got := getDeal(g, third)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued))
		g.Expect(got.Status.Holder.Name).To(Equal(second.Name))
	}).WithTimeout(20 * time.Second).Should(Succeed())
	g.Expect(getDeal(g, first).Status.Reason).To(Equal(v1alpha1.ReasonDealProtectionEnd))

	// The partner withdraws the second: the third gets the customer at once.
	withdraw(g, second)
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, second)).To(Equal(v1alpha1.DealWithdrawn))
		g.Expect(dealPhase(g, third)).To(Equal(v1alpha1.DealApproved))
	}).Should(Succeed())
}

func TestEntitlementsDecideWhoMayRegister(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	p := f.partners[0] // at the entry tier, which grants Resell and not CoSell
	resale := f.register(g, p, "entitled-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, resale)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	cosell := newDeal(f.ns, p, v1alpha1.DealCoSell, "cosell-"+rand.String(4)+".com", "sync")
	cosell.Spec.Customer.Segment = "enterprise"
	g.Expect(f.registrar.Create(ctx, cosell)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, cosell)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealRejected))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealNotEntitled))
		g.Expect(got.Status.Message).To(ContainSubstring(`CoSell for segment "enterprise"`))
	}).Should(Succeed())
	// A referral needs no entitlement.
	referral := newDeal(f.ns, p, v1alpha1.DealReferral, "referral-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, referral)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, referral)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
}

func TestSuspensionEndsEveryProtection(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	p, next := f.partners[0], f.partners[1]
	resale := f.register(g, p, "suspended-"+rand.String(4)+".com")
	referral := newDeal(f.ns, p, v1alpha1.DealReferral, "referred-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, referral)).To(Succeed())
	for _, d := range []*v1alpha1.DealRegistration{resale, referral} {
		eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	}
	queued := newDeal(f.ns, next, v1alpha1.DealReferral, referral.Spec.Customer.Domain, "sync")
	g.Expect(f.registrar.Create(ctx, queued)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	// Suspended, the partner loses every protection, of every type, at once:
	// its keys go to the next in line, and each loss is recorded.
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspended":true}}`)))).To(Succeed())
	for _, d := range []*v1alpha1.DealRegistration{resale, referral} {
		eventually(g, func(g Gomega) {
			got := getDeal(g, d)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealExpired))
			g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealLostHolder))
			g.Expect(got.Status.Message).To(ContainSubstring("suspended"))
			g.Expect(got.Status.ProtectedUntil.Time).To(BeTemporally("<=", time.Now()), "protection ends at the loss")
			g.Expect(dealRecords(g, got)).To(HaveLen(int(got.Status.History[len(got.Status.History)-1].Sequence)))
		}).Should(Succeed())
	}
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())

	// It registers nothing new, of any type, until the suspension ends.
	for _, typ := range []v1alpha1.DealType{v1alpha1.DealReferral, v1alpha1.DealResale} {
		err := f.registrar.Create(ctx, newDeal(f.ns, p, typ, "later-"+rand.String(4)+".com", "sync"))
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		g.Expect(err.Error()).To(And(ContainSubstring("spec.partner"), ContainSubstring("suspended")))
	}
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspended":false}}`)))).To(Succeed())
	again := newDeal(f.ns, p, v1alpha1.DealReferral, "again-"+rand.String(4)+".com", "sync")
	eventually(g, func(g Gomega) { g.Expect(f.registrar.Create(ctx, again)).To(Succeed()) }).Should(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, again)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
}

func TestBadRegistrationsAreRefusedAtAdmission(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{}, 1)
	p := f.partners[0]

	err := f.registrar.Create(ctx, newDeal(f.ns, p, v1alpha1.DealResale, "jane.doe@gmail.com", "sync"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.customer.domain"), ContainSubstring("gmail.com is a free-mail domain")))

	err = f.registrar.Create(ctx, newDeal(f.ns, &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, v1alpha1.DealResale, "acme.com", "sync"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.partner"))

	// The server stamps the registrant and the submission time, whatever is written.
	d := newDeal(f.ns, p, v1alpha1.DealResale, "stamped-"+rand.String(4)+".com", "sync")
	d.Spec.Registrant = &v1alpha1.UserInfo{Username: "the-cfo"}
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	got := getDeal(g, d)
	g.Expect(got.Spec.Registrant.Username).To(Equal("seller@example.com"))
	g.Expect(got.Spec.SubmittedAt).NotTo(BeNil())
	g.Expect(got.Spec.PartnerUID).To(Equal(string(p.UID)))

	for field, change := range map[string]func(*v1alpha1.DealRegistration){
		"customer is immutable":    func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Domain = "elsewhere.com" },
		"productLine is immutable": func(d *v1alpha1.DealRegistration) { d.Spec.ProductLine = "vault" },
		"submittedAt is set by the server": func(d *v1alpha1.DealRegistration) {
			d.Spec.SubmittedAt = ptr(metav1.NewMicroTime(time.Now().Add(-time.Hour)))
		},
	} {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes status meanwhile
			changed := getDeal(g, d)
			change(changed)
			return f.registrar.Update(ctx, changed)
		})
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: got %v", field, err)
		g.Expect(err.Error()).To(ContainSubstring(field))
	}

	// A full update from a manifest, without the server's stamps, keeps them.
	g.Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		replaced := getDeal(g, d)
		replaced.Spec.Registrant, replaced.Spec.SubmittedAt, replaced.Spec.PartnerUID = nil, nil, ""
		replaced.Spec.ExpectedCloseDate = &metav1.Time{Time: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}
		return f.registrar.Update(ctx, replaced)
	})).To(Succeed())
	kept := getDeal(g, d)
	g.Expect(kept.Spec.Registrant).To(Equal(got.Spec.Registrant))
	g.Expect(kept.Spec.SubmittedAt.Equal(got.Spec.SubmittedAt)).To(BeTrue())
	g.Expect(kept.Spec.PartnerUID).To(Equal(got.Spec.PartnerUID))

	// Only the controller writes a registration's standing.
	forged := getDeal(g, d)
	forged.Status.Phase = v1alpha1.DealApproved
	statusWriter := userClient(t, "status-writer@example.com", nil, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "update"},
	})
	err = statusWriter.Status().Update(ctx, forged)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("the partnergov controller decides a registration's standing"))
}

func TestARegistrationIsReviewedLikeARequest(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("deals")},
		Spec: v1alpha1.ReviewPathSpec{
			AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealRegistration}},
			Stages:          []v1alpha1.ReviewStage{stage("channel", 1, time.Hour, v1alpha1.TimeoutEscalate)},
			EscalationOwner: "vp-partnerships@example.com",
		},
	}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{ReviewPath: path.Name}, 2)
	d := f.register(g, f.partners[0], "reviewed-"+rand.String(4)+".com")
	q := underReview(g, d, "channel")
	g.Expect(q.Spec.Type).To(Equal(v1alpha1.RequestDealRegistration))
	g.Expect(q.Spec.OnBehalfOf).To(Equal("seller@example.com"), "the registrant is the requester for separation of duties")

	// The registrant cannot approve its own registration, even with the right to approve.
	self := reviewer(t, "seller@example.com", path, "channel")
	err := decide(self, q, "", v1alpha1.DecisionApprove)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("requester"))

	g.Expect(decide(reviewer(t, "channel-manager@example.com", path, "channel"), q, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealReviewed))
		g.Expect(got.Status.ProtectedUntil.Time).To(Equal(got.Status.ApprovedAt.Add(v1alpha1.DefaultDealProtection)))
	}).Should(Succeed())

	// A registration deleted and registered again under its name inherits
	// nothing from the old review: it is reviewed afresh.
	eventually(g, func(g Gomega) { g.Expect(admin.Delete(ctx, getDeal(g, d))).To(Succeed()) }).Should(Succeed()) // once recorded
	again := newDeal(f.ns, f.partners[0], v1alpha1.DealResale, "another-"+rand.String(4)+".com", "sync")
	again.Name = d.Name
	eventually(g, func(g Gomega) { g.Expect(f.registrar.Create(ctx, again.DeepCopy())).To(Succeed()) }).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, again)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealUnderReview))
		g.Expect(got.Status.Request).NotTo(Equal(q.Name))
	}).Should(Succeed())

	// A queued registration that gets the customer when the holder withdraws is
	// reviewed, not rejected by the review it opens on the way.
	domain := "handover-" + rand.String(4) + ".com"
	holder := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealUnderReview)) }).Should(Succeed())
	waiting := f.register(g, f.partners[1], "www."+domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, waiting)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())
	withdraw(g, holder)
	handed := underReview(g, waiting, "channel")
	g.Consistently(func(g Gomega) { g.Expect(dealPhase(g, waiting)).To(Equal(v1alpha1.DealUnderReview)) }).WithTimeout(2 * time.Second).Should(Succeed())
	g.Expect(decide(reviewer(t, "channel-manager@example.com", path, "channel"), handed, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, waiting)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())

	// A registration withdrawn while under review withdraws its review request:
	// nothing is left to decide.
	other := f.register(g, f.partners[0], "withdrawn-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, other)).To(Equal(v1alpha1.DealUnderReview)) }).Should(Succeed())
	withdraw(g, other)
	eventually(g, func(g Gomega) {
		var review v1alpha1.ExceptionRequest
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: getDeal(g, other).Status.Request}, &review)).To(Succeed())
		g.Expect(review.Status.Phase).To(Equal(v1alpha1.PhaseWithdrawn))
	}).Should(Succeed())
}

func TestAWonDealCreditsItsHolderOnceAndEveryTransitionIsRecorded(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	seller, helper := f.partners[0], f.partners[1]
	d := newDeal(f.ns, seller, v1alpha1.DealResale, "won-"+rand.String(4)+".com", "sync")
	g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	g.Expect(claimInfluence(g, f.registrar, d, helper, seller)).To(Succeed())
	next := f.register(g, helper, getDeal(g, d).Status.CanonicalDomain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, next)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	statusRules := rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}}
	// Only the program's CRM integration reports outcomes.
	err := reportWon(g, userClient(t, "seller@example.com", nil, statusRules), d, "120000")
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("crmReporters"))
	crm := userClient(t, crmDirect, nil, statusRules)
	g.Expect(confirmInfluence(g, crm, d)).To(Succeed())
	g.Expect(reportWon(g, crm, d, "120000")).To(Succeed())

	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(got.Status.Outcome.ReportedBy).To(Equal(crmDirect), "the server stamps who reported")
		a := got.Status.Attribution
		g.Expect(a).NotTo(BeNil())
		g.Expect(a.Sourced).To(HaveField("Partner", seller.Name))
		g.Expect(a.Influenced).To(ConsistOf(HaveField("Partner", helper.Name)), "the sourcing partner is never also influencing")
		// The win releases the customer to the next in line.
		g.Expect(dealPhase(g, next)).To(Equal(v1alpha1.DealApproved))
	}).Should(Succeed())

	// Every transition is recorded once: approved at submission, then won.
	eventually(g, func(g Gomega) {
		var recs recordsv1alpha1.DecisionRecordList
		g.Expect(admin.List(ctx, &recs, client.InNamespace(f.ns))).To(Succeed())
		var to []string
		for _, r := range recs.Items {
			if r.Spec.Type == recordsv1alpha1.DecisionDealTransition && r.Spec.Subject.Name == d.Name {
				to = append(to, r.Spec.To)
			}
		}
		got := getDeal(g, d)
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(to).To(HaveLen(int(last.Sequence)), "one record per transition")
		g.Expect(to).To(ContainElements(string(v1alpha1.DealApproved), string(v1alpha1.DealWon)))
	}).Should(Succeed())
	// Once recorded, the registration may be deleted; its records stay.
	g.Expect(admin.Delete(ctx, getDeal(g, d))).To(Succeed())
}

func TestAWonDealMovesDealsEvidenceAndCanPromote(t *testing.T) {
	g := NewWithT(t)
	dealsMetric := func(name string, m v1alpha1.DealMeasure) v1alpha1.MetricDefinition {
		return v1alpha1.MetricDefinition{Name: name, Class: v1alpha1.MetricClassOutcome, Unit: "USD", FreshnessWindow: metav1.Duration{Duration: 24 * time.Hour},
			Source: v1alpha1.MetricSourceDeals, Deals: &v1alpha1.DealMetric{Measure: m, Currency: "USD"}}
	}
	program := &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("program")}, Spec: v1alpha1.PartnerProgramSpec{
		Owner: "owner@example.com",
		Metrics: []v1alpha1.MetricDefinition{
			dealsMetric("deal-revenue", v1alpha1.DealMeasureSourcedAmount), dealsMetric("deal-influence", v1alpha1.DealMeasureInfluencedAmount),
		},
		DealRegistration: &v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, CRMReporters: v1alpha1.Identities{Users: []string{crmDirect}}},
	}}
	create(t, program)
	entry, selectTier := uniqueName("registered"), uniqueName("select")
	create(t, newTier(program.Name, entry, 0))
	create(t, newTier(program.Name, selectTier, 1, atLeast("deal-revenue", "100000")))
	ns := newNamespace(t)
	seller, helper := settledPartner(t, g, ns, program.Name), settledPartner(t, g, ns, program.Name)
	g.Expect(seller.Status.Tier).To(Equal(entry))

	// A reported value of a Deals metric is refused: only won deals count.
	crmReporter := userClient(t, crmUser, nil, integrationRules...)
	err := reportEvidence(crmReporter, "crm", seller, "deal-revenue", "9000000", time.Now())
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("computed by partnergov from won deal registrations"))

	registrar := userClient(t, "seller@example.com", nil, registrarRules...)
	d := newDeal(ns, seller, v1alpha1.DealResale, "promoting-"+rand.String(4)+".com", "sync")
	g.Expect(registrar.Create(ctx, d)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	g.Expect(claimInfluence(g, registrar, d, helper)).To(Succeed())
	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}})
	g.Expect(confirmInfluence(g, crm, d)).To(Succeed())
	g.Expect(reportWon(g, crm, d, "120000")).To(Succeed())

	dealID := ns + "/" + d.Name
	eventually(g, func(g Gomega) {
		got := getPartner(g, seller)
		g.Expect(got.Status.Tier).To(Equal(selectTier), "the won deal's sourced revenue meets select")
		g.Expect(got.Status.DealMetrics).To(ContainElement(And(HaveField("Metric", "deal-revenue"), HaveField("Value", v1alpha1.Decimal("120000")),
			HaveField("Deals", ConsistOf(dealID)))))
		g.Expect(got.Status.DealMetrics).To(ContainElement(And(HaveField("Metric", "deal-influence"), HaveField("Value", v1alpha1.Decimal("0")))),
			"the sourcing partner's win is not also its influence")
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.Evidence).To(ContainElement(And(HaveField("Metric", "deal-revenue"), HaveField("Value", v1alpha1.Decimal("120000")))),
			"the tier decision names the deal evidence it rested on")

		h := getPartner(g, helper)
		g.Expect(h.Status.Tier).To(Equal(entry), "influence is not sourced revenue")
		g.Expect(h.Status.DealMetrics).To(ContainElement(And(HaveField("Metric", "deal-influence"), HaveField("Value", v1alpha1.Decimal("120000")))))
		g.Expect(h.Status.DealMetrics).To(ContainElement(And(HaveField("Metric", "deal-revenue"), HaveField("Value", v1alpha1.Decimal("0")))))
	}).Should(Succeed())

	// `explain partner` shows the deals behind the requirement.
	run := pluginAs(t, g, uniqueName("analyst")+"@example.com", nil,
		readRule([]string{"get"}, "partners", "partnerprograms"), readRule([]string{"list"}, "partnertiers"))
	out, err := run("explain", "partner", seller.Name, "-n", ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`
  deal-revenue\s+>= 100000\s+yes\s+120000\s+partnergov\s+.*computed from 1 won deal\(s\): %s
`, dealID))
}

func TestThePluginListsDealsAndExplainsWhoHoldsACustomer(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	domain := "explained-" + rand.String(4) + ".com"
	first := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, first)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	second := f.register(g, f.partners[1], "https://www."+domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, second)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	run := pluginAs(t, g, uniqueName("channel")+"@example.com", nil, readRule([]string{"get", "list"}, "dealregistrations", "deallocks", "exceptionrequests"))
	out, err := run("deals", "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`\n%s\s+%s\s+%s\s+%s\s+sync\s+Approved\s+AutoApproved\s+\S+Z \(in 89d\)\s+-\n`, f.ns, first.Name, f.partners[0].Name, domain))
	g.Expect(out).To(MatchRegexp(`\n%s\s+%s\s+%s\s+%s\s+sync\s+Queued\s+HeldByAnother\s+-\s+%s \(%s/%s\)\n`, f.ns, second.Name, f.partners[1].Name, domain, f.partners[0].Name, f.ns, first.Name))

	out, err = run("deals", "-n", f.ns, "--conflicts")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(second.Name))
	g.Expect(out).NotTo(ContainSubstring(first.Name + " "))

	out, err = run("explain", "deal", second.Name, "-n", f.ns)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`Phase:\s+Queued \(HeldByAnother\)\n`))
	g.Expect(out).To(MatchRegexp(`Held by:\s+%s \(%s/%s\)\n`, f.partners[0].Name, f.ns, first.Name))
	g.Expect(out).To(MatchRegexp(`Customer:\s+Customer of https://www.%s, %s \(as typed: https://www.%s\)\n`, domain, domain, domain))
	g.Expect(out).To(MatchRegexp(`\n1\s+%s/%s\s+%s\s+\S+Z\s+Approved\n2\s+%s/%s\s+%s\s+\S+Z\s+Queued  <- this one\n`,
		f.ns, first.Name, f.partners[0].Name, f.ns, second.Name, f.partners[1].Name))
}

func TestAPartnerRegistersDealsFromACSVAsItself(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	p, other := f.partners[0], f.partners[1]
	suffix := rand.String(4)
	held := f.register(g, other, "held-"+suffix+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, held)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())

	seller := uniqueName("seller") + "@example.com"
	run := pluginAs(t, g, seller, nil, registrarRules...)
	file := filepath.Join(t.TempDir(), "q1-deals.csv")
	g.Expect(os.WriteFile(file, []byte("Customer Name,Customer Domain,Product Line,Amount,Currency,External IDs\n"+
		"Fresh Corp,fresh-"+suffix+".com,sync,25000,USD,salesforce=006A\n"+
		"Held Corp,https://www.held-"+suffix+".com,sync,\"40,000\",USD,\n"+
		"Jane Doe,jane.doe@gmail.com,sync,5000,USD,\n"), 0o600)).To(Succeed())
	register := []string{"register", "--csv", file, "-n", f.ns, "--partner", p.Name, "--type", "Resale", "--wait", "20s"}
	out, err := run(register...)

	// The free-mail row is refused by the server, named by row and column; the others are registered.
	g.Expect(err).To(MatchError(And(
		HavePrefix("1 of 3 registrations refused:\nrow 4, column customer-domain: "),
		ContainSubstring("gmail.com is a free-mail domain"))), out)
	fresh, queued := p.Name+"-fresh-"+suffix+"-com-sync", p.Name+"-held-"+suffix+"-com-sync"
	g.Expect(out).To(MatchRegexp(`\n2\s+%s\s+%s\s+Approved\s+AutoApproved\s+-\s+\S+Z \(in 89d\)\n`, f.ns, fresh))
	g.Expect(out).To(MatchRegexp(`\n3\s+%s\s+%s\s+Queued\s+HeldByAnother\s+%s \(%s/%s\)\s+-\n`, f.ns, queued, other.Name, f.ns, held.Name))
	// The API server's warning about the held customer reaches the user.
	g.Expect(out).To(ContainSubstring("Warning: row 3 (%s): registration %s/%s of partner %s holds", queued, f.ns, held.Name, other.Name))

	// Created as the user running the plugin: the server stamped it the registrant.
	for name, amount := range map[string]v1alpha1.Decimal{fresh: "25000", queued: "40000"} {
		got := getDeal(g, &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}})
		g.Expect(got.Spec.Registrant.Username).To(Equal(seller))
		g.Expect(got.Spec.SubmittedAt).NotTo(BeNil())
		g.Expect(got.Spec.Partner).To(Equal(p.Name))
		g.Expect(got.Spec.Amount).To(Equal(v1alpha1.Money{Amount: amount, Currency: "USD"}))
	}
	var all v1alpha1.DealRegistrationList
	g.Expect(admin.List(ctx, &all, client.InNamespace(f.ns))).To(Succeed())
	g.Expect(all.Items).To(HaveLen(3), "the held registration and rows 2 and 3, nothing of row 4")

	// The same file again registers nothing twice: the generated names exist.
	_, err = run(register...)
	g.Expect(err).To(MatchError(And(HavePrefix("3 of 3 registrations refused:\nrow 2: "),
		ContainSubstring("already exists: the name is generated from partner, customer-domain and product-line, so this row was registered before"))))

	// A server dry run from flags validates without creating.
	out, err = run("register", "dry-one", "-n", f.ns, "--partner", p.Name, "--type", "referral", "--customer-name", "Dry Corp",
		"--customer-domain", "dry-"+suffix+".com", "--product-line", "sync", "--amount", "1000", "--currency", "usd", "--dry-run")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`\n%s\s+dry-one\s+Valid \(dry run\)\s+`, f.ns))
	err = admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "dry-one"}, &v1alpha1.DealRegistration{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
}

func TestAnApprovedRegistrationGetsOneExtensionThroughReview(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("deals")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealRegistration}},
		Stages:          []v1alpha1.ReviewStage{stage("channel", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ReviewPath: path.Name,
		Protection: &metav1.Duration{Duration: time.Hour}, Extension: &metav1.Duration{Duration: 30 * time.Minute}}, 1)
	d := f.register(g, f.partners[0], "extended-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	until := getDeal(g, d).Status.ProtectedUntil.Time

	g.Expect(admin.Patch(ctx, getDeal(g, d), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"extensionRequested":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Extension).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Extension.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel"))
	}).Should(Succeed())
	g.Expect(q.Spec.OnBehalfOf).To(Equal("seller@example.com"))
	g.Expect(decide(reviewer(t, "seller@example.com", path, "channel"), &q, "", v1alpha1.DecisionApprove)).NotTo(Succeed(), "the registrant cannot approve its own extension")
	g.Expect(decide(reviewer(t, "channel-manager@example.com", path, "channel"), &q, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Extension.Result).To(Equal("Approved"))
		g.Expect(got.Status.Reason).To(Equal("Extended"))
		g.Expect(got.Status.ProtectedUntil.Time).To(Equal(until.Add(30*time.Minute)), "approved before protection ended, it runs from protectedUntil")
	}).Should(Succeed())
}

func TestTheHeldTiersDealProtectionOverridesTheProgram(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	updateTier(g, f.entry, func(t *v1alpha1.PartnerTier) {
		t.Spec.Entitlements.DealProtection = &metav1.Duration{Duration: 120 * 24 * time.Hour}
	})
	eventually(g, func(g Gomega) { // the manager's cache has the new tier
		var tier v1alpha1.PartnerTier
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: f.entry}, &tier)).To(Succeed())
		g.Expect(tier.Status.ObservedGeneration).To(Equal(tier.Generation))
	}).Should(Succeed())
	d := f.register(g, f.partners[0], "tiered-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(got.Status.ProtectedUntil.Time).To(Equal(got.Status.ApprovedAt.Add(120 * 24 * time.Hour)))
	}).Should(Succeed())
}

func TestAConflictIsDecidedThroughTheConflictPathNotShouted(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("conflicts")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealConflict}},
		Stages:          []v1alpha1.ReviewStage{stage("channel-chief", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 2)
	domain := "contested-" + rand.String(4) + ".com"
	holder := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	challenger := f.register(g, f.partners[1], "https://www."+domain+"/about")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, challenger)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	// Only a queued registration escalates, and only the controller opens DealConflict requests.
	escalate := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalateConflict":true}}`))
	err := f.registrar.Patch(ctx, getDeal(g, holder), escalate)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("spec.escalateConflict"))
	forged := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("forged")}, Spec: v1alpha1.ExceptionRequestSpec{
		Type: v1alpha1.RequestDealConflict, Partner: f.partners[1].Name, Justification: "give it to us", Grant: &v1alpha1.Grant{Deal: challenger.Name}}}
	err = admin.Create(ctx, forged)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("opened by the partnergov controller"))

	g.Expect(f.registrar.Patch(ctx, getDeal(g, challenger), escalate)).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Reason).To(Equal("ConflictEscalated"))
		g.Expect(got.Status.Conflict).NotTo(BeNil())
		g.Expect(got.Status.Conflict.Against.Name).To(Equal(holder.Name))
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Conflict.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel-chief"))
	}).Should(Succeed())
	g.Expect(q.Spec.Type).To(Equal(v1alpha1.RequestDealConflict))
	g.Expect(q.Spec.OnBehalfOf).To(Equal("seller@example.com"))
	g.Expect(decide(reviewer(t, "seller@example.com", path, "channel-chief"), &q, "", v1alpha1.DecisionApprove)).NotTo(Succeed(),
		"the registrant cannot decide its own conflict")
	g.Consistently(func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).WithTimeout(2*time.Second).Should(Succeed(),
		"an escalation alone takes nothing from the holder")

	g.Expect(decide(reviewer(t, "channel-chief@example.com", path, "channel-chief"), &q, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		won, lost := getDeal(g, challenger), getDeal(g, holder)
		g.Expect(won.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(won.Status.Reason).To(Equal(v1alpha1.ReasonDealConflictWon))
		g.Expect(won.Status.Conflict.Result).To(Equal("Approved"))
		g.Expect(lost.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(lost.Status.Reason).To(Equal(v1alpha1.ReasonDealConflictLost))
		var lock v1alpha1.DealLock
		g.Expect(admin.Get(ctx, types.NamespacedName{Name: won.Status.Lock}, &lock)).To(Succeed())
		g.Expect(lock.Spec.Holder.UID).To(Equal(string(won.UID)))
		g.Expect(lock.Spec.TakenThrough).To(Equal(f.ns + "/" + q.Name))
		// Both transitions are recorded: one record per transition of each.
		for _, d := range []*v1alpha1.DealRegistration{won, lost} {
			g.Expect(dealRecords(g, d)).To(HaveLen(int(d.Status.History[len(d.Status.History)-1].Sequence)))
		}
	}).Should(Succeed())
}

func TestReservedAccountsPublicTendersAndSecondRegistrationsAreRejected(t *testing.T) {
	g := NewWithT(t)
	reserved := "reserved-" + rand.String(4) + ".com"
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{},
		ReservedAccounts: []v1alpha1.ReservedAccount{{Domain: reserved, Note: "a strategic account"}}}, 1)
	p := f.partners[0]

	d := f.register(g, p, "https://eu."+reserved)
	tender := newDeal(f.ns, p, v1alpha1.DealResale, "tender-"+rand.String(4)+".gov", "sync")
	tender.Spec.PublicTender = true
	g.Expect(f.registrar.Create(ctx, tender)).To(Succeed())
	first := f.register(g, p, "twice-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, first)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	second := f.register(g, p, "www."+first.Spec.Customer.Domain)
	for _, tc := range []struct {
		d      *v1alpha1.DealRegistration
		reason string
		says   string
	}{
		{d, v1alpha1.ReasonDealReserved, "a strategic account"},
		{tender, v1alpha1.ReasonDealIneligible, "public tender"},
		{second, v1alpha1.ReasonDealDuplicate, first.Name},
	} {
		eventually(g, func(g Gomega) {
			got := getDeal(g, tc.d)
			g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealRejected))
			g.Expect(got.Status.Reason).To(Equal(tc.reason))
			g.Expect(got.Status.Message).To(ContainSubstring(tc.says))
		}).Should(Succeed())
	}
	g.Expect(dealPhase(g, first)).To(Equal(v1alpha1.DealApproved), "a partner's second registration takes nothing from its first")

	// publicTender is immutable: it decides eligibility.
	err := f.registrar.Patch(ctx, getDeal(g, first), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"publicTender":true}}`)))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("publicTender is immutable"))
}

// TestInfluenceIsConfirmedNotDeclared: influence claims name partners of the
// registration's program, at a time between its submission and now (refused at
// admission otherwise); only a claim the program's CRM integration confirmed
// earns influenced credit (a seller cannot confirm, the server stamps who did);
// claims and confirmations are fixed once the outcome is reported.
func TestInfluenceIsConfirmedNotDeclared(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	seller, helper := f.partners[0], f.partners[1]
	otherProgram, _, _ := ladder(t, time.Hour, time.Hour)
	outsider := settledPartner(t, g, f.ns, otherProgram.Name)
	statusRules := rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}}
	crm := userClient(t, crmDirect, nil, statusRules)
	sellerStatus := userClient(t, "seller@example.com", nil, statusRules)

	unconfirmed := f.register(g, seller, "unconfirmed-"+rand.String(4)+".com")
	confirmed := f.register(g, seller, "confirmed-"+rand.String(4)+".com")
	for _, d := range []*v1alpha1.DealRegistration{unconfirmed, confirmed} {
		eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	}

	// Refused at admission, naming the field: a partner of another program,
	// influence backdated before the submission, influence in the future.
	err := claimInfluence(g, f.registrar, confirmed, outsider)
	g.Expect(err).To(MatchError(And(ContainSubstring("spec.influencers[0].partner"), ContainSubstring("must be a partner of the registration's program"))))
	claim := func(at time.Time) error {
		patch := fmt.Sprintf(`{"spec":{"influencers":[{"partner":%q,"role":"Introduction","at":%q}]}}`, helper.Name, at.UTC().Format(time.RFC3339))
		return f.registrar.Patch(ctx, getDeal(g, confirmed), client.RawPatch(types.MergePatchType, []byte(patch)))
	}
	g.Expect(claim(time.Now().Add(-30 * 24 * time.Hour))).To(MatchError(And(ContainSubstring("spec.influencers[0].at"), ContainSubstring("before the registration's submission"))))
	g.Expect(claim(time.Now().Add(time.Hour))).To(MatchError(ContainSubstring("may not be claimed in the future")))

	for _, d := range []*v1alpha1.DealRegistration{unconfirmed, confirmed} {
		g.Expect(claimInfluence(g, f.registrar, d, helper)).To(Succeed())
	}
	// The seller cannot confirm its own claim; the CRM can, stamped.
	err = confirmInfluence(g, sellerStatus, confirmed)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("crmReporters"))
	g.Expect(confirmInfluence(g, crm, confirmed)).To(Succeed())
	g.Expect(getDeal(g, confirmed).Status.InfluenceConfirmations).To(ConsistOf(HaveField("ConfirmedBy", crmDirect)))

	for _, d := range []*v1alpha1.DealRegistration{unconfirmed, confirmed} {
		g.Expect(reportWon(g, crm, d, "50000")).To(Succeed())
	}
	eventually(g, func(g Gomega) {
		got := getDeal(g, unconfirmed)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(got.Status.Attribution).NotTo(BeNil())
		g.Expect(got.Status.Attribution.Influenced).To(BeEmpty(), "a declared claim earns nothing")
		g.Expect(got.Status.Attribution.Excluded).To(ConsistOf(ContainSubstring("not confirmed by the program's CRM integration")))
		got = getDeal(g, confirmed)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(got.Status.Attribution).NotTo(BeNil())
		g.Expect(got.Status.Attribution.Influenced).To(ConsistOf(HaveField("Partner", helper.Name)))
	}).Should(Succeed())

	// Fixed once the outcome is reported: the claims and the confirmations.
	err = claimInfluence(g, f.registrar, confirmed, helper, seller)
	g.Expect(err).To(MatchError(ContainSubstring("influence claims are fixed once the outcome is reported")))
	g.Expect(confirmInfluence(g, crm, unconfirmed)).To(MatchError(ContainSubstring("fixed once its outcome is reported")))
	g.Expect(getDeal(g, unconfirmed).Status.InfluenceConfirmations).To(BeEmpty())
}

// escalatedConflict has partners[1] queue behind partners[0]'s approved
// registration and escalate; it returns both and the pending conflict request.
func escalatedConflict(t *testing.T, g Gomega, path *v1alpha1.ReviewPath, f *dealFixture) (holder, challenger *v1alpha1.DealRegistration, q *v1alpha1.ExceptionRequest) {
	domain := "contested-" + rand.String(4) + ".com"
	holder = f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	challenger = f.register(g, f.partners[1], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, challenger)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())
	g.Expect(f.registrar.Patch(ctx, getDeal(g, challenger), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalateConflict":true}}`)))).To(Succeed())
	q = &v1alpha1.ExceptionRequest{}
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Conflict).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Conflict.Request}, q)).To(Succeed())
		g.Expect(q.Status.Phase).To(Equal(v1alpha1.PhasePending))
	}).Should(Succeed())
	return holder, challenger, q
}

func conflictPath(t *testing.T) *v1alpha1.ReviewPath {
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("conflicts")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealConflict}},
		Stages:          []v1alpha1.ReviewStage{stage("channel-chief", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	return path
}

func TestCreditFollowsProtectionThatWasActuallyHeld(t *testing.T) {
	g := NewWithT(t)
	path := conflictPath(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 2)
	holder, challenger, q := escalatedConflict(t, g, path, f)
	original := getDeal(g, holder).Status.ProtectedUntil.Time
	g.Expect(decide(reviewer(t, "channel-chief@example.com", path, "channel-chief"), q, "", v1alpha1.DecisionApprove)).To(Succeed())
	var lock v1alpha1.DealLock
	eventually(g, func(g Gomega) {
		lost, won := getDeal(g, holder), getDeal(g, challenger)
		g.Expect(lost.Status.Reason).To(Equal(v1alpha1.ReasonDealConflictLost))
		g.Expect(won.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(admin.Get(ctx, types.NamespacedName{Name: won.Status.Lock}, &lock)).To(Succeed())
		// The holder's protection ended when the challenger took the key, and
		// the challenger's began then: one close lies in at most one of them.
		taken := lock.Spec.Since.Time.Truncate(time.Second)
		g.Expect(lost.Status.ProtectedUntil.Time).To(BeTemporally("==", taken))
		g.Expect(lost.Status.ProtectedUntil.Time).To(BeTemporally("<", original))
		g.Expect(won.Status.ApprovedAt.Time).To(BeTemporally(">=", taken))
		g.Expect(lost.Status.History[len(lost.Status.History)-1].Message).To(ContainSubstring("protection ended at"))
	}).Should(Succeed())

	// The CRM reports the deal won on both, closed now: after the holder lost
	// the customer. Only the challenger, which held it, is credited.
	statusRules := rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dealregistrations/status"}, Verbs: []string{"get", "patch"}}
	crm := userClient(t, crmDirect, nil, statusRules)
	g.Expect(reportWon(g, crm, holder, "90000")).To(Succeed())
	g.Expect(reportWon(g, crm, challenger, "90000")).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealWon))
		g.Expect(got.Status.Attribution).NotTo(BeNil())
		g.Expect(got.Status.Attribution.Sourced).To(HaveField("Partner", f.partners[1].Name))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		got := getDeal(g, holder)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(got.Status.Attribution).To(BeNil())
	}).WithTimeout(2 * time.Second).Should(Succeed())
}

func TestEndingARegistrationWakesItsOpenConflictRequest(t *testing.T) {
	g := NewWithT(t)
	path := conflictPath(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 2)
	_, challenger, q := escalatedConflict(t, g, path, f)
	withdraw(g, challenger)
	eventually(g, func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(q), q)).To(Succeed())
		g.Expect(q.Status.Phase).To(Equal(v1alpha1.PhaseWithdrawn))
	}).Should(Succeed())
}

func TestDeadlinesFireWithoutAProgram(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, Protection: &metav1.Duration{Duration: 15 * time.Second}}, 2)
	moved, next := f.partners[0], f.partners[1]
	d := f.register(g, moved, "orphaned-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	queued := f.register(g, next, d.Spec.Customer.Domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealQueued)) }).Should(Succeed())

	// The partner moves to a program that does not exist: its registration's
	// protection still ends on time, and the key goes to the next in line.
	g.Expect(admin.Patch(ctx, getPartner(g, moved), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"program":"`+uniqueName("nowhere")+`"}}`)))).To(Succeed())
	eventually(g, func(g Gomega) { // seen without its program while still protected
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Reason).To(Equal(v1alpha1.ReasonProgramNotFound))
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealProtectionEnd))
		g.Expect(dealPhase(g, queued)).To(Equal(v1alpha1.DealApproved))
	}).Should(Succeed())
}

// One customer, one key, whatever identifiers are given: a registration
// holds a DealLock per identifier (domain, D-U-N-S), all or none, and
// conflicts with any live holder of any of them, the direct team included.
func TestOneCustomerOneKeyWhateverIdentifiersAreGiven(t *testing.T) {
	g := NewWithT(t)
	r := rand.String(4)
	alias, canonical := "alias-"+r+".co.uk", "canon-"+r+".com"
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{},
		DomainAliases: []v1alpha1.DomainAlias{{Domain: alias, Canonical: canonical}}}, 2)
	key := func(id string) string { return f.program.Name + "/" + id + "/sync" }
	withDUNS := func(p *v1alpha1.Partner, domain, duns string) *v1alpha1.DealRegistration {
		d := newDeal(f.ns, p, v1alpha1.DealResale, domain, "sync")
		d.Spec.Customer.DUNS = duns
		g.Expect(f.registrar.Create(ctx, d)).To(Succeed())
		return d
	}
	lockHolder := func(g Gomega, k string) string {
		var lock v1alpha1.DealLock
		if err := admin.Get(ctx, types.NamespacedName{Name: deal.LockName(k)}, &lock); apierrors.IsNotFound(err) {
			return ""
		} else {
			g.Expect(err).NotTo(HaveOccurred())
		}
		return lock.Spec.Holder.Name + lock.Spec.Holder.Opportunity
	}
	queuedBehind := func(g Gomega, d, holder *v1alpha1.DealRegistration) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued), got.Status.Message)
		g.Expect(got.Status.Holder).NotTo(BeNil())
		g.Expect(got.Status.Holder.Name).To(Equal(holder.Name))
	}

	// A holds the domain; B gives the same domain and a D-U-N-S number: queued
	// behind A, and holding neither key (not the number's either).
	domain := "one-" + r + ".com"
	a := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, a)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	b := withDUNS(f.partners[1], "www."+domain, "100000001")
	eventually(g, func(g Gomega) {
		queuedBehind(g, b, a)
		g.Expect(getDeal(g, b).Status.ConflictKeys).To(Equal([]string{key("domain:" + domain), key("duns:100000001")}))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) { g.Expect(lockHolder(g, key("duns:100000001"))).To(BeEmpty(), "all or none") }).
		WithTimeout(2 * time.Second).Should(Succeed())

	// C gives a domain and a number and holds both keys; D gives the number
	// under another domain: queued behind C, holding no key.
	c := withDUNS(f.partners[1], "other-"+r+".com", "100000002")
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, c)).To(Equal(v1alpha1.DealApproved))
		g.Expect(lockHolder(g, key("domain:other-"+r+".com"))).To(Equal(c.Name))
		g.Expect(lockHolder(g, key("duns:100000002"))).To(Equal(c.Name))
	}).Should(Succeed())
	d := withDUNS(f.partners[0], "third-"+r+".com", "100000002")
	eventually(g, func(g Gomega) { queuedBehind(g, d, c) }).Should(Succeed())
	g.Expect(lockHolder(g, key("domain:third-"+r+".com"))).To(BeEmpty(), "all or none")

	// The direct team's claim on a domain rejects a registration giving a number.
	crm := userClient(t, crmDirect, nil, rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"deallocks"}, Verbs: []string{"create", "delete", "get"}})
	directKey := key("domain:direct-" + r + ".com")
	direct := &v1alpha1.DealLock{ObjectMeta: metav1.ObjectMeta{Name: deal.LockName(directKey)}, Spec: v1alpha1.DealLockSpec{
		Program: f.program.Name, ConflictKey: directKey, Since: metav1.NowMicro(), Holder: v1alpha1.DealHolder{Kind: deal.HolderDirect, Opportunity: "006-direct"},
	}}
	g.Expect(crm.Create(ctx, direct)).To(Succeed())
	t.Cleanup(func() { _ = admin.Delete(ctx, direct) })
	e := withDUNS(f.partners[0], "direct-"+r+".com", "100000003")
	eventually(g, func(g Gomega) {
		got := getDeal(g, e)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealRejected))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealDirectEngaged))
		g.Expect(lockHolder(g, key("duns:100000003"))).To(BeEmpty(), "all or none")
	}).Should(Succeed())

	// An alias and its canonical domain are one key: found by the index of identifiers.
	x := f.register(g, f.partners[0], alias)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, x)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	y := f.register(g, f.partners[1], canonical)
	eventually(g, func(g Gomega) { queuedBehind(g, y, x) }).Should(Succeed())

	// The same name under another domain, one side giving a number, is a
	// suspected duplicate: found through the index of identifiers (a
	// registration's conflict keys alone do not find it) and reviewed.
	n1 := newDeal(f.ns, f.partners[0], v1alpha1.DealResale, "initech-"+r+".com", "sync")
	n1.Spec.Customer.Name = "Initech"
	g.Expect(f.registrar.Create(ctx, n1)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, n1)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	n2 := newDeal(f.ns, f.partners[1], v1alpha1.DealResale, "initech-"+r+".io", "sync")
	n2.Spec.Customer.Name, n2.Spec.Customer.DUNS = "Initech Corp.", "100000004"
	g.Expect(f.registrar.Create(ctx, n2)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, n2)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealUnderReview), got.Status.Message)
		g.Expect(got.Status.Duplicates).To(ContainElement(HaveField("Name", n1.Name)))
	}).Should(Succeed())

	// A ends: B takes every key.
	withdraw(g, a)
	eventually(g, func(g Gomega) {
		g.Expect(dealPhase(g, b)).To(Equal(v1alpha1.DealApproved))
		g.Expect(lockHolder(g, key("domain:"+domain))).To(Equal(b.Name))
		g.Expect(lockHolder(g, key("duns:100000001"))).To(Equal(b.Name))
	}).Should(Succeed())
}

// An alias may not point at a free-mail domain: refused at admission, naming the field.
func TestAnAliasMayNotPointAtAFreeMailDomain(t *testing.T) {
	g := NewWithT(t)
	p := newProgram(t)
	p.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{FreeMailDomains: []string{"mail.isp-" + rand.String(4) + ".example"}}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.PartnerProgram
		if err := admin.Get(ctx, client.ObjectKeyFromObject(p), &cur); err != nil {
			return err
		}
		cur.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{FreeMailDomains: p.Spec.DealRegistration.FreeMailDomains,
			DomainAliases: []v1alpha1.DomainAlias{{Domain: "acme.co.uk", Canonical: "acme.com"}, {Domain: "acme.de", Canonical: "eu." + p.Spec.DealRegistration.FreeMailDomains[0]}}}
		return admin.Update(ctx, &cur)
	})
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.dealRegistration.domainAliases[1].canonical"))
	g.Expect(err.Error()).To(ContainSubstring("an alias may not point at a free-mail domain"))
	updateProgram(g, p.Name, func(cur *v1alpha1.PartnerProgram) {
		cur.Spec.DealRegistration = &v1alpha1.DealRegistrationRules{DomainAliases: []v1alpha1.DomainAlias{{Domain: "acme.co.uk", Canonical: "acme.com"}}}
	})
}

// An approved conflict takes every key of the customer or none: while a third
// registration holds the challenger's D-U-N-S number, the holder it was
// decided against keeps the domain.
func TestAnApprovedConflictTakesEveryKeyOrNone(t *testing.T) {
	g := NewWithT(t)
	path := &v1alpha1.ReviewPath{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("conflicts")}, Spec: v1alpha1.ReviewPathSpec{
		AppliesTo:       v1alpha1.AppliesTo{Types: []v1alpha1.RequestType{v1alpha1.RequestDealConflict}},
		Stages:          []v1alpha1.ReviewStage{stage("channel-chief", 1, time.Hour, v1alpha1.TimeoutEscalate)},
		EscalationOwner: "vp-partnerships@example.com",
	}}
	create(t, path)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, ConflictReviewPath: path.Name}, 3)
	r := rand.String(4)
	domain, duns := "both-"+r+".com", "200000001"
	domainKey, dunsKey := f.program.Name+"/domain:"+domain+"/sync", f.program.Name+"/duns:"+duns+"/sync"
	lockOf := func(g Gomega, k string) v1alpha1.DealLock {
		var lock v1alpha1.DealLock
		g.Expect(admin.Get(ctx, types.NamespacedName{Name: deal.LockName(k)}, &lock)).To(Succeed())
		return lock
	}
	holder := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	third := newDeal(f.ns, f.partners[2], v1alpha1.DealResale, "numbered-"+r+".com", "sync")
	third.Spec.Customer.DUNS = duns
	g.Expect(f.registrar.Create(ctx, third)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, third)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	challenger := newDeal(f.ns, f.partners[1], v1alpha1.DealResale, domain, "sync")
	challenger.Spec.Customer.DUNS = duns
	g.Expect(f.registrar.Create(ctx, challenger)).To(Succeed())
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued))
		g.Expect(got.Status.Holder.Name).To(Equal(holder.Name), "the first key's holder")
	}).Should(Succeed())

	g.Expect(f.registrar.Patch(ctx, getDeal(g, challenger), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"escalateConflict":true}}`)))).To(Succeed())
	var q v1alpha1.ExceptionRequest
	eventually(g, func(g Gomega) {
		got := getDeal(g, challenger)
		g.Expect(got.Status.Conflict).NotTo(BeNil())
		g.Expect(admin.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: got.Status.Conflict.Request}, &q)).To(Succeed())
		g.Expect(q.Status.CurrentStage).To(Equal("channel-chief"))
	}).Should(Succeed())
	g.Expect(decide(reviewer(t, "channel-chief@example.com", path, "channel-chief"), &q, "", v1alpha1.DecisionApprove)).To(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(dealPhase(g, holder)).To(Equal(v1alpha1.DealApproved), "nothing is taken while another holds the number")
		l := lockOf(g, domainKey)
		g.Expect(l.Spec.Holder.Name).To(Equal(holder.Name))
		g.Expect(l.Spec.TakenThrough).To(BeEmpty())
		g.Expect(lockOf(g, dunsKey).Spec.Holder.Name).To(Equal(third.Name))
	}).WithTimeout(3 * time.Second).Should(Succeed())

	// The number's holder ends: the approved conflict takes every key.
	withdraw(g, third)
	eventually(g, func(g Gomega) {
		won, lost := getDeal(g, challenger), getDeal(g, holder)
		g.Expect(won.Status.Phase).To(Equal(v1alpha1.DealApproved))
		g.Expect(won.Status.Reason).To(Equal(v1alpha1.ReasonDealConflictWon))
		g.Expect(lost.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(lost.Status.Reason).To(Equal(v1alpha1.ReasonDealConflictLost))
		l := lockOf(g, domainKey)
		g.Expect(l.Spec.Holder.Name).To(Equal(challenger.Name))
		g.Expect(l.Spec.TakenThrough).To(Equal(f.ns + "/" + q.Name))
		g.Expect(lockOf(g, dunsKey).Spec.Holder.Name).To(Equal(challenger.Name))
	}).Should(Succeed())
}

// Issue 26 items 2 and 15: one customer, one key whatever the script of its
// domain. A registration of the customer's domain typed in full-width letters
// is queued behind the registration that holds it (same conflict key), and a
// free-mail domain in full-width letters is refused at admission.
func TestOneCustomerOneKeyWhateverTheScriptOfItsDomain(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 2)
	fullWidth := func(s string) string {
		return strings.Map(func(r rune) rune {
			if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
				return r + 0xFEE0
			}
			return r
		}, s)
	}
	domain := "wide-" + rand.String(4) + ".com"
	a := f.register(g, f.partners[0], domain)
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, a)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())
	b := f.register(g, f.partners[1], fullWidth(domain))
	eventually(g, func(g Gomega) {
		got := getDeal(g, b)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealQueued), got.Status.Message)
		g.Expect(got.Status.Holder).NotTo(BeNil())
		g.Expect(got.Status.Holder.Name).To(Equal(a.Name))
		g.Expect(got.Status.ConflictKeys).To(Equal([]string{f.program.Name + "/domain:" + domain + "/sync"}))
	}).Should(Succeed())

	err := f.registrar.Create(ctx, newDeal(f.ns, f.partners[1], v1alpha1.DealResale, fullWidth("gmail")+".com", "sync"))
	g.Expect(err).To(HaveOccurred(), "a free-mail domain in full-width letters was admitted")
	g.Expect(err.Error()).To(ContainSubstring("gmail.com is a free-mail domain"))
}

// TestASuspensionLiftedBeforeItWasSeenStillEndsProtection: a partner
// suspended and reinstated a moment later (before the controller may have seen
// it) keeps no protection it held: the server records when the suspension
// began (spec.suspendedAt, which no writer sets), and a registration submitted
// before it lost its protection then.
func TestASuspensionLiftedBeforeItWasSeenStillEndsProtection(t *testing.T) {
	g := NewWithT(t)
	f := newDealFixture(t, g, v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}}, 1)
	p := f.partners[0]
	d := f.register(g, p, "toggled-"+rand.String(4)+".com")
	eventually(g, func(g Gomega) { g.Expect(dealPhase(g, d)).To(Equal(v1alpha1.DealApproved)) }).Should(Succeed())

	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspended":true}}`)))).To(Succeed())
	g.Expect(admin.Patch(ctx, getPartner(g, p), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspended":false}}`)))).To(Succeed())
	got := getPartner(g, p)
	g.Expect(got.Spec.SuspendedAt).NotTo(BeNil(), "the server records when the suspension began")
	at := got.Spec.SuspendedAt.Time
	g.Expect(at).To(BeTemporally("~", time.Now(), 5*time.Second))

	// Nobody writes it: a forged value is replaced by the stored one.
	g.Expect(admin.Patch(ctx, got, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspendedAt":"2020-01-01T00:00:00Z"}}`)))).To(Succeed())
	g.Expect(getPartner(g, p).Spec.SuspendedAt.Time).To(BeTemporally("==", at))

	eventually(g, func(g Gomega) {
		got := getDeal(g, d)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.DealExpired))
		g.Expect(got.Status.Reason).To(Equal(v1alpha1.ReasonDealLostHolder))
		g.Expect(got.Status.Message).To(ContainSubstring("suspended"))
		g.Expect(got.Status.ProtectedUntil.Time).To(BeTemporally("~", at, time.Second), "protection ends when the suspension began")
	}).Should(Succeed())
}
