package controllers_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

// Decision integrity I: no partner gets or keeps access that no decision gave it.

func usd(a string) *v1alpha1.Money {
	return &v1alpha1.Money{Amount: v1alpha1.Decimal(a), Currency: "USD"}
}

// overCapStage may approve above the cap: it must still not fund an unentitled partner.
func overCapStage() v1alpha1.ReviewStage {
	s := stage("cfo", 1, time.Hour, v1alpha1.TimeoutEscalate)
	s.AllowOverCap = true
	return s
}

// suspendPartner sets spec.suspended with a merge patch (the controller writes
// the status meanwhile).
func suspendPartner(g Gomega, p *v1alpha1.Partner) {
	g.Expect(admin.Patch(ctx, p.DeepCopy(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspended":true}}`)))).To(Succeed())
}

func deniedWith(g Gomega, r *v1alpha1.ExceptionRequest, reason string) {
	eventually(g, func(g Gomega) {
		got := getRequest(g, r)
		g.Expect(got.Status.Phase).To(Equal(v1alpha1.PhaseDenied))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionDenied).Reason).To(Equal(reason))
	}).Should(Succeed())
}

func TestFundsForAPartnerWithoutTheFundsEntitlementAreDeniedNotEntitled(t *testing.T) {
	g := NewWithT(t)
	// The partner holds no tier at all: no funds cap, whatever the path allows.
	f := newReviewFixture(t, g, overCapStage())
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	deniedWith(g, r, v1alpha1.ReasonNotEntitled)
	g.Expect(getPartner(g, f.partner).Status.Funds).To(BeNil())
}

func TestFundsForASuspendedPartnerAreDeniedNotEntitled(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, overCapStage())
	suspendPartner(g, f.partner)
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(BeEmpty())
	}).Should(Succeed())

	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Amount: usd("100")})
	deniedWith(g, r, v1alpha1.ReasonNotEntitled)
	g.Expect(condition(getRequest(g, r).Status.Conditions, v1alpha1.ConditionDenied).Message).To(ContainSubstring("suspended"))
	if funds := getPartner(g, f.partner).Status.Funds; funds != nil {
		g.Expect(funds.Commitments).To(BeEmpty())
	}
}

func TestAFundsRequestInAnotherCurrencyThanTheCapIsRefusedAtAdmission(t *testing.T) {
	g := NewWithT(t)
	f, _, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")},
		Spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestFunds, Partner: f.partner.Name, ReviewPath: f.path.Name,
			Justification: "a justification long enough for the record", Amount: &v1alpha1.Money{Amount: "100", Currency: "EUR"}}}
	err := f.asker.Create(ctx, r)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.amount.currency"), ContainSubstring("EUR"), ContainSubstring("USD")))
}

// promotionRequests lists a partner's TierPromotion requests by name.
func promotionRequests(g Gomega, p *v1alpha1.Partner) map[string]v1alpha1.ExceptionRequest {
	var list v1alpha1.ExceptionRequestList
	g.Expect(admin.List(ctx, &list, client.InNamespace(p.Namespace))).To(Succeed())
	out := map[string]v1alpha1.ExceptionRequest{}
	for _, r := range list.Items {
		if r.Spec.Type == v1alpha1.RequestTierPromotion && r.Spec.Partner == p.Name {
			out[r.Name] = r
		}
	}
	return out
}

func TestAPromotionApprovalIsUsedOnce(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, true, stage("program-office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	first := v1alpha1.PromotionRequestName(f.partner.Name, selectTier)
	eventually(g, func(g Gomega) {
		r, found := promotionRequests(g, f.partner)[first]
		g.Expect(found).To(BeTrue())
		g.Expect(r.Status.Phase).To(Equal(v1alpha1.PhasePending))
		g.Expect(r.Spec.Expires).NotTo(BeNil(), "a promotion approval lasts at most the program's maxExceptionDuration")
	}).Should(Succeed())
	office := reviewer(t, "alice@example.com", f.path, "program-office")
	g.Expect(decide(office, &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: first}}, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	// The revenue falls: after the 1s grace the partner drops, and the approval is spent.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(entry))
		r := promotionRequests(g, f.partner)[first]
		g.Expect(r.Status.Phase).To(Equal(v1alpha1.PhaseExpired))
		g.Expect(condition(r.Status.Conditions, v1alpha1.ConditionExpired).Reason).To(Equal(v1alpha1.ReasonPromotionUsed))
	}).Should(Succeed())

	// It recovers: the old approval does not promote it again; a new request is opened.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "150", time.Now())).To(Succeed())
	second := tier.PromotionName(f.partner.Name, selectTier, 2)
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.QualifiedTier).To(Equal(selectTier))
		pending := condition(got.Status.Conditions, v1alpha1.ConditionPromotionPending)
		g.Expect(pending.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(pending.Message).To(ContainSubstring(second))
		g.Expect(promotionRequests(g, f.partner)).To(HaveKey(second))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(entry))
	}).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

func TestADeniedPromotionIsNotAskedAgainUntilTheEvidenceChanges(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, true, stage("program-office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	first := v1alpha1.PromotionRequestName(f.partner.Name, selectTier)
	eventually(g, func(g Gomega) { g.Expect(promotionRequests(g, f.partner)).To(HaveKey(first)) }).Should(Succeed())
	office := reviewer(t, "alice@example.com", f.path, "program-office")
	g.Expect(decide(office, &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: first}}, "", v1alpha1.DecisionDeny)).To(Succeed())

	eventually(g, func(g Gomega) {
		pending := condition(getPartner(g, f.partner).Status.Conditions, v1alpha1.ConditionPromotionPending)
		g.Expect(pending.Reason).To(Equal(v1alpha1.ReasonPromotionDenied))
		g.Expect(pending.Message).To(ContainSubstring(first))
	}).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(promotionRequests(g, f.partner)).To(HaveLen(1), "a denial is not asked again in a loop")
	}).WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

	// New qualifying evidence is a new case: a new request, under a new name.
	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "175", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(promotionRequests(g, f.partner)).To(HaveKey(tier.PromotionName(f.partner.Name, selectTier, 2)))
	}).Should(Succeed())
}

func TestAPendingPromotionWhosePartnerNoLongerQualifiesIsWithdrawn(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, true, stage("program-office", 1, time.Hour, v1alpha1.TimeoutEscalate))
	crm := qualifyForSelect(t, g, f.partner)
	first := v1alpha1.PromotionRequestName(f.partner.Name, selectTier)
	eventually(g, func(g Gomega) {
		g.Expect(promotionRequests(g, f.partner)[first].Status.Phase).To(Equal(v1alpha1.PhasePending))
	}).Should(Succeed())

	g.Expect(reportEvidence(crm, "crm", f.partner, "revenue", "10", time.Now())).To(Succeed())
	eventually(g, func(g Gomega) {
		r := promotionRequests(g, f.partner)[first]
		g.Expect(r.Status.Phase).To(Equal(v1alpha1.PhaseWithdrawn))
		g.Expect(condition(r.Status.Conditions, v1alpha1.ConditionWithdrawn)).To(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", v1alpha1.ReasonNoLongerQualifies)))
		g.Expect(r.Status.CurrentStage).To(BeEmpty(), "a withdrawn request waits for nobody and breaches no SLA")
		g.Expect(condition(getPartner(g, f.partner).Status.Conditions, v1alpha1.ConditionPromotionPending).Status).To(Equal(metav1.ConditionFalse))
	}).Should(Succeed())
}

func TestATierExceptionEndsAtItsExpiryWithoutGrace(t *testing.T) {
	g := NewWithT(t)
	f, entry, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	// An hour of grace: a drop within seconds of the expiry can only be the exception's end.
	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.DemotionGracePeriod = &metav1.Duration{Duration: time.Hour} })

	manager := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestTierException, Grant: &v1alpha1.Grant{Tier: selectTier}, Expires: in(6 * time.Second)})
	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, f.partner).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(entry))
		g.Expect(got.Status.DemotionDeadline).To(BeNil())
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.Reason).To(Equal(v1alpha1.ReasonExceptionExpired))
		g.Expect(last.Request).To(Equal(r.Name))
	}).Should(Succeed())
}

func TestGraceCountsFromWhenTheEvidenceFailedNotWhenTheControllerNoticed(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	// Revenue is fresh for 4s and the select tier has 6s of grace: stale at
	// observedAt+4s, demoted at observedAt+10s, whether or not a controller ran.
	program, entry, selectTier := ladder(t, 4*time.Second, 6*time.Second)
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	var observed time.Time
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		for _, e := range got.Status.Evidence {
			if e.Metric == "revenue" {
				observed = e.ObservedAt.Time
			}
		}
	}).Should(Succeed())

	// The controller is down while the evidence goes stale and the grace runs out.
	stopManager()
	time.Sleep(time.Until(observed.Add(12 * time.Second)))
	if err := startManager(); err != nil {
		t.Fatal(err)
	}
	if err := waitForWebhooks(); err != nil {
		t.Fatal(err)
	}
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(entry))
		last := got.Status.History[len(got.Status.History)-1]
		g.Expect(last.Reason).To(Equal(v1alpha1.ReasonDemoted))
		// The deadline that passed is the evidence's, not restart time plus grace.
		g.Expect(last.Message).To(ContainSubstring(observed.Add(10 * time.Second).UTC().Format(time.RFC3339)))
	}).Should(Succeed())
}

func TestSuspensionWinsOverEveryException(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	l := newListing(f.ns, f.partner.Name, v1alpha1.ListingVersion{Version: "1.0.0", ReleasedAt: in(-time.Hour)})
	g.Expect(admin.Create(ctx, l)).To(Succeed())
	for _, spec := range []v1alpha1.ExceptionRequestSpec{
		{Type: v1alpha1.RequestListingException, Grant: &v1alpha1.Grant{Listing: l.Name}, Expires: in(time.Hour)},
		{Type: v1alpha1.RequestIncentiveException, Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}}, Expires: in(time.Hour)},
		{Type: v1alpha1.RequestTierException, Grant: &v1alpha1.Grant{Tier: selectTier}, Expires: in(time.Hour)},
	} {
		g.Expect(decide(manager, f.ask(g, spec), "", v1alpha1.DecisionApprove)).To(Succeed())
	}
	eventually(g, func(g Gomega) {
		g.Expect(published(g, l).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
	}).Should(Succeed())

	suspendPartner(g, f.partner)
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(BeEmpty())
		g.Expect(published(g, l)).To(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonPartnerSuspended)))
		g.Expect(getListing(g, l).Status.PublishedVersions).To(BeEmpty())
	}).Should(Succeed())
}

func TestAProgramOrTierInUseCannotBeDeleted(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, _ := ladder(t, time.Hour, time.Hour)
	settledPartner(t, g, ns, program.Name)

	err := admin.Delete(ctx, &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: program.Name}})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("2 PartnerTiers"), ContainSubstring("1 Partner")))

	err = admin.Delete(ctx, &v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: entry}})
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("held by 1 Partner"), ContainSubstring("spec.retired")))
	var still v1alpha1.PartnerTier
	g.Expect(admin.Get(ctx, client.ObjectKey{Name: entry}, &still)).To(Succeed())
}

func TestAPartnerOrTierForAMissingProgramIsRefused(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	err := admin.Create(ctx, newPartner(ns, "no-such-program"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.program"))

	err = admin.Create(ctx, newTier("no-such-program", uniqueName("orphan"), 0))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.program"))
}

func TestARetiredTierIsDrainedThroughItsGracePeriod(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program, entry, selectTier := ladder(t, time.Hour, 3*time.Second)
	p := settledPartner(t, g, ns, program.Name)
	qualifyForSelect(t, g, p)
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(selectTier)) }).Should(Succeed())

	updateTier(g, selectTier, func(t *v1alpha1.PartnerTier) { t.Spec.Retired = true })
	eventually(g, func(g Gomega) {
		got := getPartner(g, p)
		g.Expect(got.Status.Tier).To(Equal(selectTier), "a holder keeps a retired tier for its grace period")
		g.Expect(got.Status.DemotionDeadline).NotTo(BeNil())
	}).Should(Succeed())
	eventually(g, func(g Gomega) { g.Expect(getPartner(g, p).Status.Tier).To(Equal(entry)) }).Should(Succeed())

	// Nobody holds it any more: now it can go.
	g.Expect(admin.Delete(ctx, &v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: selectTier}})).To(Succeed())
}

func TestOutcomeEvidenceCannotBeSelfReportedOrZero(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	program := newProgram(t)

	// A tier whose only Outcome requirement a zero meets.
	err := admin.Create(ctx, newTier(program.Name, uniqueName("zero"), 1, atLeast("revenue", "0"), atLeast("training", "5")))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(ContainSubstring("met by a value of zero"))

	// An Outcome metric trusting the partners' namespace would let each partner's
	// integration report its own revenue.
	p := settledPartnerWithoutTier(t, g, ns, program.Name)
	trusting := func(group string) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var got v1alpha1.PartnerProgram
			if err := admin.Get(ctx, client.ObjectKeyFromObject(program), &got); err != nil {
				return err
			}
			got.Spec.Metrics[0].TrustedReporters.Groups = []string{group}
			return admin.Update(ctx, &got)
		})
	}
	err = trusting("system:serviceaccounts:" + ns)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("self-report"), ContainSubstring(ns+"/"+p.Name)))

	err = trusting("system:serviceaccounts")
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(strings.Contains(err.Error(), "every partner's integration identity")).To(BeTrue(), err.Error())

	// Naming one partner's integration ServiceAccount is found through the
	// cache's index, as a namespace group is; another ServiceAccount is not one.
	trustingAccount := func(name string) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var got v1alpha1.PartnerProgram
			if err := admin.Get(ctx, client.ObjectKeyFromObject(program), &got); err != nil {
				return err
			}
			got.Spec.Metrics[0].TrustedReporters.ServiceAccounts = append(got.Spec.Metrics[0].TrustedReporters.ServiceAccounts,
				v1alpha1.ServiceAccountReference{Namespace: ns, Name: name})
			return admin.Update(ctx, &got)
		})
	}
	err = trustingAccount(v1alpha1.IntegrationName(p.Name))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("self-report"), ContainSubstring(ns+"/"+p.Name)))
	g.Expect(trustingAccount("finance-sync")).To(Succeed())
}

func TestAnExceptionLongerThanTheProgramAllowsIsRefused(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	updateProgram(g, f.program.Name, func(p *v1alpha1.PartnerProgram) {
		p.Spec.MaxExceptionDuration = &metav1.Duration{Duration: 30 * 24 * time.Hour}
	})

	for name, spec := range map[string]v1alpha1.ExceptionRequestSpec{
		"tier exception": {Type: v1alpha1.RequestTierException, Grant: &v1alpha1.Grant{Tier: selectTier}, Expires: in(31 * 24 * time.Hour)},
		"readiness claim": {Type: v1alpha1.RequestReadinessClaim, Expires: in(40 * 24 * time.Hour),
			Grant: &v1alpha1.Grant{Claim: &v1alpha1.ClaimGrant{Kind: v1alpha1.ReadinessClaimCertification, Product: "sync"}}},
	} {
		spec.Partner, spec.ReviewPath, spec.Justification = f.partner.Name, f.path.Name, "a justification long enough for the record"
		err := f.asker.Create(ctx, &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("req")}, Spec: spec})
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: got %v", name, err)
		g.Expect(err.Error()).To(And(ContainSubstring("spec.expires"), ContainSubstring("maxExceptionDuration")), name)
	}

	// A claim without an expiry gets the longest the program allows.
	r := f.ask(g, claimSpec())
	g.Expect(r.Spec.Expires).NotTo(BeNil())
	g.Expect(r.Spec.Expires.Time).To(BeTemporally("~", time.Now().Add(30*24*time.Hour), time.Minute))
}

func TestAPartnerWithMoreGrantsThanItsStatusListsHoldStillEvaluates(t *testing.T) {
	g := NewWithT(t)
	f, _, selectTier := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	const n = 66 // more than status.grants (64) holds
	var requests []*v1alpha1.ExceptionRequest
	for range n {
		r := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: uniqueName("inc")},
			Spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestIncentiveException, Partner: f.partner.Name, ReviewPath: f.path.Name,
				Justification: "a justification long enough for the record", Expires: in(time.Hour),
				Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement, v1alpha1.EntitlementClaimCertification}}}}
		g.Expect(f.asker.Create(ctx, r)).To(Succeed())
		requests = append(requests, r)
	}
	for _, r := range requests {
		eventually(g, func(g Gomega) { g.Expect(getRequest(g, r).Status.CurrentStage).To(Equal("manager")) }).Should(Succeed())
		g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	}
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Grants).To(HaveLen(64))
		names := map[v1alpha1.EntitlementName]int{}
		for _, e := range got.Status.Entitlements {
			names[e.Name]++
		}
		g.Expect(names).To(Equal(map[v1alpha1.EntitlementName]int{
			v1alpha1.EntitlementResell: 1, v1alpha1.EntitlementFunds: 1, v1alpha1.EntitlementImplement: 1, v1alpha1.EntitlementClaimCertification: 1,
		}))
	}).Should(Succeed())

	// Still evaluating: new evidence still moves the tier.
	qualifyForSelect(t, g, f.partner)
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(got.Status.Tier).To(Equal(selectTier))
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}).Should(Succeed())
}

// withoutProgramDeleteCheck removes DELETE from the program webhook's rules, as
// an uninstall or an edited webhook configuration would, for the rest of the test.
func withoutProgramDeleteCheck(t *testing.T, g Gomega) {
	var list admissionregistrationv1.ValidatingWebhookConfigurationList
	g.Expect(admin.List(ctx, &list)).To(Succeed())
	for i := range list.Items {
		vwc := &list.Items[i]
		before := vwc.DeepCopy()
		changed := false
		for j := range vwc.Webhooks {
			if vwc.Webhooks[j].Name != "vpartnerprogram.governance.partnergov.io" {
				continue
			}
			for k := range vwc.Webhooks[j].Rules {
				vwc.Webhooks[j].Rules[k].Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
			}
			changed = true
		}
		if !changed {
			continue
		}
		g.Expect(admin.Update(ctx, vwc)).To(Succeed())
		t.Cleanup(func() {
			var now admissionregistrationv1.ValidatingWebhookConfiguration
			if err := admin.Get(ctx, client.ObjectKeyFromObject(before), &now); err == nil {
				now.Webhooks = before.Webhooks
				_ = admin.Update(ctx, &now)
			}
		})
	}
}

func TestAMissingProgramFreezesNobody(t *testing.T) {
	g := NewWithT(t)
	f, entry, _ := effectsFixture(t, g, false, stage("manager", 1, time.Hour, v1alpha1.TimeoutEscalate))
	manager := reviewer(t, "alice@example.com", f.path, "manager")
	r := f.ask(g, v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestIncentiveException,
		Grant: &v1alpha1.Grant{Entitlements: []v1alpha1.EntitlementName{v1alpha1.EntitlementImplement}}, Expires: in(8 * time.Second)})
	g.Expect(decide(manager, r, "", v1alpha1.DecisionApprove)).To(Succeed())
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).To(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
	}).Should(Succeed())

	// The program goes while the webhook that refuses it is off.
	withoutProgramDeleteCheck(t, g)
	eventually(g, func() error {
		return admin.Delete(ctx, &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: f.program.Name}})
	}).Should(Succeed())
	eventually(g, func(g Gomega) {
		got := getPartner(g, f.partner)
		g.Expect(condition(got.Status.Conditions, v1alpha1.ConditionReady)).To(And(
			HaveField("Status", metav1.ConditionFalse), HaveField("Reason", v1alpha1.ReasonProgramNotFound)))
		g.Expect(got.Status.Tier).To(Equal(entry), "nothing new is decided from evidence")
	}).Should(Succeed())
	// The grant still lapses on time.
	eventually(g, func(g Gomega) {
		g.Expect(getPartner(g, f.partner).Status.Entitlements).NotTo(ContainElement(HaveField("Name", v1alpha1.EntitlementImplement)))
	}).Should(Succeed())
}
