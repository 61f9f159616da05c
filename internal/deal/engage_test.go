package deal

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func program(r *v1alpha1.DealRegistrationRules) *v1alpha1.PartnerProgram {
	return &v1alpha1.PartnerProgram{ObjectMeta: metav1.ObjectMeta{Name: "global"}, Spec: v1alpha1.PartnerProgramSpec{DealRegistration: r}}
}

func partner(entitlements ...v1alpha1.EffectiveEntitlement) *v1alpha1.Partner {
	return &v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "acme-consulting", UID: "uid-p"},
		Spec:   v1alpha1.PartnerSpec{Program: "global"},
		Status: v1alpha1.PartnerStatus{ObservedGeneration: 1, Entitlements: entitlements, TierRank: ptr.To[int32](2)}}
}

var resell = v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementResell}

// offboarded is a partner holding Resell whose offboarding takes effect at effective.
func offboarded(effective time.Time) *v1alpha1.Partner {
	p := partner(resell)
	p.Spec.Offboarding = &v1alpha1.PartnerOffboarding{Reason: "contract ended", Effective: metav1.NewTime(effective)}
	return p
}

func registration(name string, submitted time.Time, mutate ...func(*v1alpha1.DealRegistration)) *v1alpha1.DealRegistration {
	at := metav1.NewMicroTime(submitted)
	d := &v1alpha1.DealRegistration{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1alpha1.DealRegistrationSpec{Partner: "acme-consulting", Type: v1alpha1.DealResale, PartnerUID: "uid-p",
			Customer: v1alpha1.Customer{Name: "Globex", Domain: "www.globex.com"}, ProductLine: "sync",
			Amount: v1alpha1.Money{Amount: "40000", Currency: "USD"}, SubmittedAt: &at}}
	for _, m := range mutate {
		m(d)
	}
	return d
}

// waiting is another partner's registration already evaluated, in phase, for the same customer.
func waiting(name string, submitted time.Time, phase v1alpha1.DealPhase) v1alpha1.DealRegistration {
	d := registration(name, submitted)
	d.Spec.Partner = "rival"
	d.Status = v1alpha1.DealRegistrationStatus{Phase: phase, ConflictKey: "global/domain:globex.com/sync"}
	return *d
}

func inPhase(phase v1alpha1.DealPhase, mutate ...func(*v1alpha1.DealRegistrationStatus)) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) {
		d.Status.Phase = phase
		for _, m := range mutate {
			m(&d.Status)
		}
	}
}

func reviewIn(phase v1alpha1.RequestPhase) *v1alpha1.ExceptionRequest {
	q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: "d1-review-uid-d1"}, Status: v1alpha1.ExceptionRequestStatus{Phase: phase}}
	if phase == v1alpha1.PhaseApproved {
		q.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	return q
}

func TestEvaluate(t *testing.T) {
	auto := &v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{MinTierRank: ptr.To[int32](2), MaxAmount: &v1alpha1.Money{Amount: "50000", Currency: "USD"}}}
	direct := Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006XYZ"}}
	other := Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "rivals", Name: "r1", Partner: "rival"}}
	protectedUntil := func(t time.Time) func(*v1alpha1.DealRegistrationStatus) {
		return func(s *v1alpha1.DealRegistrationStatus) { s.ProtectedUntil = &metav1.Time{Time: t} }
	}
	for name, tc := range map[string]struct {
		in         Input
		wantPhase  v1alpha1.DealPhase
		wantReason string
		wantLock   Action
		wantReview bool
		wantMsg    string
		check      func(t *testing.T, r Result)
	}{
		"an approved registration of a partner whose offboarding took effect is withdrawn and releases the customer": {
			in: Input{Now: now, Deal: registration("d1", now.Add(-time.Hour), inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)))),
				Partner: offboarded(now.Add(-time.Minute)), Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealWithdrawn, wantReason: v1alpha1.ReasonPartnerOffboarded, wantLock: Release,
			wantMsg: "its deal protection is released",
		},
		"a queued registration of an offboarded partner is withdrawn": {
			in: Input{Now: now, Deal: registration("d1", now.Add(-time.Hour), inPhase(v1alpha1.DealQueued)),
				Partner: offboarded(now), Program: program(auto), Lock: other},
			wantPhase: v1alpha1.DealWithdrawn, wantReason: v1alpha1.ReasonPartnerOffboarded, wantLock: Release,
		},
		"before the offboarding takes effect the registration holds, and is looked at again at its effective time": {
			in: Input{Now: now, Deal: registration("d1", now.Add(-time.Hour), inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)))),
				Partner: offboarded(now.Add(time.Minute)), Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealApproved,
			check: func(t *testing.T, r Result) {
				if r.Next == nil || !r.Next.Equal(now.Add(time.Minute)) {
					t.Errorf("the controller must come back when the offboarding takes effect, got %v", r.Next)
				}
			},
		},
		"a deal the CRM reports closed before the offboarding is still won": {
			in: Input{Now: now, Deal: registration("d1", now.Add(-48*time.Hour), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
				s.ApprovedAt = &metav1.Time{Time: now.Add(-48 * time.Hour)}
				s.ProtectedUntil = &metav1.Time{Time: now.Add(time.Hour)}
				s.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: metav1.NewTime(now.Add(-2 * time.Hour)), Amount: &v1alpha1.Money{Amount: "40000", Currency: "USD"}}
			})), Partner: offboarded(now.Add(-time.Hour)), Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealWon, wantLock: Release,
		},
		"a registration first in line for a free key asks to acquire it": {
			in:        Input{Deal: registration("d1", now), Partner: partner(resell), Program: program(nil)},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
			check: func(t *testing.T, r Result) {
				if r.Status.ConflictKey != "global/domain:globex.com/sync" || r.Status.CanonicalDomain != "globex.com" {
					t.Errorf("key %q domain %q", r.Status.ConflictKey, r.Status.CanonicalDomain)
				}
			},
		},
		"with the key and no autoApprove rules it goes to review": {
			in:        Input{Deal: registration("d1", now), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealUnderReview, wantReview: true,
			check: func(t *testing.T, r Result) {
				if r.Status.Request != "d1-review-uid-d1" {
					t.Errorf("request %q", r.Status.Request)
				}
			},
		},
		"with the key and the autoApprove rules met it is approved at once, protected 90 days": {
			in:        Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealApproved, wantReason: v1alpha1.ReasonDealAutoApproved,
			check: func(t *testing.T, r Result) {
				if r.Status.ProtectedUntil == nil || !r.Status.ProtectedUntil.Equal(&metav1.Time{Time: now.Add(90 * 24 * time.Hour)}) {
					t.Errorf("protectedUntil %v", r.Status.ProtectedUntil)
				}
				if r.Next == nil || !r.Next.Equal(now.Add(90*24*time.Hour)) {
					t.Errorf("the controller must come back when protection ends, got %v", r.Next)
				}
			},
		},
		"an amount above autoApprove's maxAmount goes to review": {
			in: Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) { d.Spec.Amount.Amount = "50001" }),
				Partner: partner(resell), Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealUnderReview, wantReview: true,
		},
		"a partner below autoApprove's tier rank goes to review": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: func() *v1alpha1.Partner { p := partner(resell); p.Status.TierRank = ptr.To[int32](1); return p }(),
				Program: program(auto), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealUnderReview, wantReview: true,
		},
		"a suspected duplicate is never approved automatically": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(auto), Lock: Lock{State: LockMine},
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := waiting("x", now.Add(-time.Hour), v1alpha1.DealApproved)
					o.Spec.Customer = v1alpha1.Customer{Name: "Globex Corporation", Domain: "globex.io"}
					o.Status.ConflictKey = "global/domain:globex.io/sync"
					return o
				}()}},
			wantPhase: v1alpha1.DealUnderReview, wantReview: true,
			check: func(t *testing.T, r Result) {
				if len(r.Status.Duplicates) != 1 || r.Status.Duplicates[0].MatchedOn != "CustomerName" {
					t.Errorf("duplicates %+v", r.Status.Duplicates)
				}
			},
		},
		"the same customer name in another program is no duplicate": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(auto), Lock: Lock{State: LockMine},
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := waiting("x", now.Add(-time.Hour), v1alpha1.DealApproved)
					o.Spec.Customer = v1alpha1.Customer{Name: "Globex", Domain: "globex.io"}
					o.Status.ConflictKey = "emea/domain:globex.io/sync"
					return o
				}()}},
			wantPhase: v1alpha1.DealApproved,
		},
		"an approved review approves it, protected from the approval": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealUnderReview)), Partner: partner(resell), Program: program(nil),
				Lock: Lock{State: LockMine}, Review: reviewIn(v1alpha1.PhaseApproved)},
			wantPhase: v1alpha1.DealApproved, wantReason: v1alpha1.ReasonDealReviewed,
			check: func(t *testing.T, r Result) {
				if want := now.Add(-time.Hour).Add(90 * 24 * time.Hour); !r.Status.ProtectedUntil.Time.Equal(want) {
					t.Errorf("protectedUntil %v, want %v", r.Status.ProtectedUntil, want)
				}
			},
		},
		"a denied review rejects it and releases the key": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealUnderReview)), Partner: partner(resell), Program: program(nil),
				Lock: Lock{State: LockMine}, Review: reviewIn(v1alpha1.PhaseDenied)},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealReviewDenied, wantLock: Release,
		},
		"a review still pending keeps it under review without opening another": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealUnderReview)), Partner: partner(resell), Program: program(nil),
				Lock: Lock{State: LockMine}, Review: reviewIn(v1alpha1.PhasePending)},
			wantPhase: v1alpha1.DealUnderReview,
		},
		"another partner's holder queues it, naming the holder": {
			in:        Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil), Lock: other},
			wantPhase: v1alpha1.DealQueued, wantReason: v1alpha1.ReasonDealHeld, wantMsg: "registration rivals/r1 of partner rival holds customer globex.com",
		},
		"the direct team's holder rejects it DirectEngaged": {
			in:        Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil), Lock: direct},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealDirectEngaged, wantLock: Release, wantMsg: "opportunity 006XYZ",
		},
		"a free key goes to the earliest queued registration, not a later one": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{waiting("early", now.Add(-time.Microsecond), v1alpha1.DealQueued), waiting("late", now.Add(time.Second), v1alpha1.DealQueued)}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early",
		},
		"a partner's second registration of the same customer is rejected as a duplicate": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := waiting("mine", now.Add(-time.Hour), v1alpha1.DealApproved)
					o.Spec.Partner = "acme-consulting"
					return o
				}()}},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealDuplicate, wantLock: Release, wantMsg: "registration mine",
		},
		"a partner's earlier registration that ended is no duplicate": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := waiting("mine", now.Add(-time.Hour), v1alpha1.DealExpired)
					o.Spec.Partner = "acme-consulting"
					return o
				}()}},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"a reserved account is rejected whoever holds it, matched by canonical domain": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{Domain: "https://shop.globex.com/", Note: "strategic account"}}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealReserved, wantLock: Release, wantMsg: "strategic account",
		},
		"a reserved account reserves only its product lines": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{Domain: "globex.com", ProductLines: []string{"vault"}}}})},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"a reserved account named by DUNS matches a registration carrying that DUNS": {
			in: Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) { d.Spec.Customer.DUNS = "123456789" }), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{DUNS: "123456789"}}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealReserved, wantLock: Release,
		},
		"an approved registration keeps its protection when its customer is reserved later": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)))), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{Domain: "globex.com"}}}), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealApproved,
		},
		"a public tender is ineligible by default": {
			in:        Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) { d.Spec.PublicTender = true }), Partner: partner(resell), Program: program(auto)},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealIneligible, wantLock: Release, wantMsg: "public tender",
		},
		"a public tender under a program that reviews them is never approved automatically": {
			in: Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) { d.Spec.PublicTender = true }), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{AutoApprove: auto.AutoApprove, PublicTenders: v1alpha1.PublicTendersReview}), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealUnderReview, wantReview: true,
		},
		"an ended registration earlier in line does not hold the queue": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{waiting("early", now.Add(-time.Hour), v1alpha1.DealExpired)}},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"protection ends at protectedUntil exactly": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now))), Partner: partner(resell), Program: program(nil),
				Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealExpired, wantReason: v1alpha1.ReasonDealProtectionEnd, wantLock: Release,
		},
		"protection holds the second before protectedUntil": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Second)))), Partner: partner(resell), Program: program(nil),
				Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealApproved,
		},
		"Resale without Resell is rejected NotEntitled naming Resell": {
			in:        Input{Now: now, Deal: registration("d1", now), Partner: partner(), Program: program(nil)},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealNotEntitled, wantLock: Release, wantMsg: "needs the Resell entitlement",
		},
		"CoSell needs CoSell for the customer's segment": {
			in: Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) {
				d.Spec.Type, d.Spec.Customer.Segment = v1alpha1.DealCoSell, "enterprise"
			}),
				Partner: partner(v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementCoSell, Segments: []string{"smb"}}), Program: program(nil)},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealNotEntitled, wantLock: Release, wantMsg: `CoSell for segment "enterprise"`,
		},
		"Referral needs no entitlement": {
			in:        Input{Now: now, Deal: registration("d1", now, func(d *v1alpha1.DealRegistration) { d.Spec.Type = v1alpha1.DealReferral }), Partner: partner(), Program: program(nil)},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"a partner that loses the entitlement loses protection at once": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)))), Partner: partner(), Program: program(nil),
				Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealExpired, wantReason: v1alpha1.ReasonDealLostHolder, wantLock: Release,
		},
		"a suspended partner's approved registration loses protection": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)))),
				Partner: func() *v1alpha1.Partner { p := partner(resell); p.Spec.Suspended = true; return p }(), Program: program(nil), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealExpired, wantReason: v1alpha1.ReasonDealLostHolder, wantLock: Release, wantMsg: "suspended",
		},
		"below the program's minimum amount it is Ineligible": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{MinAmount: &v1alpha1.Money{Amount: "50000", Currency: "USD"}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealIneligible, wantLock: Release, wantMsg: "below the program's minimum",
		},
		"withdrawn by the partner it releases the key": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved), func(d *v1alpha1.DealRegistration) { d.Spec.Withdrawn = true }),
				Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealWithdrawn, wantLock: Release,
		},
		"a new partner of the registrant's name inherits nothing": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved)),
				Partner: func() *v1alpha1.Partner { p := partner(resell); p.UID = "uid-new"; return p }(), Program: program(nil), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealWithdrawn, wantReason: v1alpha1.ReasonPartnerNotFound, wantLock: Release,
		},
		"a partner whose entitlements are not computed yet is waited for, not rejected": {
			in: Input{Now: now, Deal: registration("d1", now), Program: program(nil),
				Partner: func() *v1alpha1.Partner { p := partner(); p.Status.ObservedGeneration = 0; return p }()},
			wantPhase: v1alpha1.DealSubmitted, wantReason: "PartnerNotEvaluated",
		},
		"an earlier registration not evaluated yet for the same customer is waited for": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{*registration("early", now.Add(-time.Second), func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Domain = "https://globex.com" })}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early",
		},
		"an earlier registration not evaluated yet for another customer is not": {
			in: Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(nil),
				Others: []v1alpha1.DealRegistration{*registration("early", now.Add(-time.Second), func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Domain = "initech.com" })}},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"without its program a registration keeps its standing": {
			in: Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealApproved, protectedUntil(now.Add(time.Hour)), func(s *v1alpha1.DealRegistrationStatus) {
				s.ConflictKey = "global/domain:globex.com/sync"
			})), Partner: partner(resell), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealApproved,
			check: func(t *testing.T, r Result) {
				if r.Status.ConflictKey == "" || r.Status.ProtectedUntil == nil || r.Lock != Keep {
					t.Errorf("status %+v, lock %d: the stored standing must be kept", r.Status, r.Lock)
				}
			},
		},
		"an ended registration only releases": {
			in:        Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealExpired)), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}},
			wantPhase: v1alpha1.DealExpired, wantLock: Release,
		},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.in.Now.IsZero() {
				tc.in.Now = now
			}
			r := Evaluate(tc.in)
			if r.Status.Phase != tc.wantPhase || (tc.wantReason != "" && r.Status.Reason != tc.wantReason) {
				t.Fatalf("phase %s (%s: %s), want %s (%s)", r.Status.Phase, r.Status.Reason, r.Status.Message, tc.wantPhase, tc.wantReason)
			}
			if r.Lock != tc.wantLock {
				t.Errorf("lock action %d, want %d", r.Lock, tc.wantLock)
			}
			if r.OpenReview != tc.wantReview {
				t.Errorf("open review %v, want %v", r.OpenReview, tc.wantReview)
			}
			if !strings.Contains(r.Status.Message, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", r.Status.Message, tc.wantMsg)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestReleases(t *testing.T) {
	holder := v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "partners", Name: "d1", UID: "uid-d1"}
	live := registration("d1", now, inPhase(v1alpha1.DealApproved))
	ended := registration("d1", now, inPhase(v1alpha1.DealLost))
	renamed := registration("d1", now, inPhase(v1alpha1.DealApproved), func(d *v1alpha1.DealRegistration) { d.UID = "uid-other" })
	for name, tc := range map[string]struct {
		h     v1alpha1.DealHolder
		until *metav1.Time
		deal  *v1alpha1.DealRegistration
		want  bool
	}{
		"a live holder holds":                        {holder, nil, live, false},
		"a holder that ended releases":               {holder, nil, ended, true},
		"a deleted holder releases":                  {holder, nil, nil, true},
		"a new object of the holder's name releases": {holder, nil, renamed, true},
		"the direct team holds without an until":     {v1alpha1.DealHolder{Kind: HolderDirect}, nil, nil, false},
		"the direct team holds before its until":     {v1alpha1.DealHolder{Kind: HolderDirect}, &metav1.Time{Time: now.Add(time.Second)}, nil, false},
		"the direct team releases at its until":      {v1alpha1.DealHolder{Kind: HolderDirect}, &metav1.Time{Time: now}, nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Releases(tc.h, tc.until, tc.deal, now); got != tc.want {
				t.Errorf("Releases = %v, want %v", got, tc.want)
			}
		})
	}
}

func won(amount string, closed time.Time) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) {
		d.Status.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultWon, ClosedAt: metav1.NewTime(closed), Amount: &v1alpha1.Money{Amount: v1alpha1.Decimal(amount), Currency: "USD"}}
	}
}

func influencer(partner, ns string, at time.Time) v1alpha1.Influencer {
	return v1alpha1.Influencer{Partner: partner, Namespace: ns, Role: v1alpha1.InfluenceTechnicalWin, At: metav1.NewTime(at)}
}

func TestOutcomesAndAttribution(t *testing.T) {
	day := 24 * time.Hour
	influenced := func(d *v1alpha1.DealRegistration) {
		d.Spec.Influencers = []v1alpha1.Influencer{
			influencer("nimbus", "", now.Add(-10*day)),               // credited
			influencer("acme-consulting", "partners", now.Add(-day)), // the sourcing partner
			influencer("nimbus", "partners", now.Add(-2*day)),        // named twice
			influencer("stale", "", now.Add(-181*day)),               // outside 180 days
			influencer("late", "", now.Add(day)),                     // after the close
			influencer("elsewhere", "other-ns", now.Add(-day)),       // credited, in its namespace
		}
	}
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(day)}
	})

	r := Evaluate(Input{Now: now, Deal: registration("d1", now, approved, influenced, won("120000", now)), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}})
	if r.Status.Phase != v1alpha1.DealWon || r.Lock != Release {
		t.Fatalf("a won approved registration: phase %s, lock %d", r.Status.Phase, r.Lock)
	}
	a := r.Status.Attribution
	if a == nil || a.Sourced == nil || a.Sourced.Partner != "acme-consulting" || a.Sourced.Amount.Amount != "120000" {
		t.Fatalf("sourced credit %+v, want acme-consulting for 120000", a)
	}
	var got []string
	for _, c := range a.Influenced {
		got = append(got, c.Namespace+"/"+c.Partner)
		if c.Partner == "acme-consulting" {
			t.Error("the sourcing partner is credited as influencing too: a dollar counted twice")
		}
	}
	if strings.Join(got, ",") != "partners/nimbus,other-ns/elsewhere" {
		t.Errorf("influenced credit to %v, want partners/nimbus and other-ns/elsewhere", got)
	}
	if len(a.Excluded) != 4 {
		t.Errorf("excluded %q, want the sourcing partner, the repeat, the stale and the late influence", a.Excluded)
	}

	r = Evaluate(Input{Now: now, Deal: registration("d1", now, inPhase(v1alpha1.DealQueued), influenced, won("120000", now)), Partner: partner(resell), Program: program(nil),
		Lock: Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Name: "other"}}})
	if r.Status.Phase != v1alpha1.DealWon || r.Status.Attribution != nil {
		t.Errorf("a win reported while queued: phase %s, attribution %+v; want Won with no credit", r.Status.Phase, r.Status.Attribution)
	}

	lost := func(d *v1alpha1.DealRegistration) {
		d.Status.Outcome = &v1alpha1.DealOutcome{Result: v1alpha1.DealResultLost, ClosedAt: metav1.NewTime(now)}
	}
	r = Evaluate(Input{Now: now, Deal: registration("d1", now, approved, lost), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}})
	if r.Status.Phase != v1alpha1.DealLost || r.Lock != Release || r.Status.Attribution != nil {
		t.Errorf("a lost deal: phase %s, lock %d, attribution %+v", r.Status.Phase, r.Lock, r.Status.Attribution)
	}

	// A won deal stays won: later evaluations keep the attribution.
	d := registration("d1", now, approved, influenced, won("120000", now))
	d.Status = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}}).Status
	again := Evaluate(Input{Now: now.Add(day), Deal: d, Partner: partner(), Program: program(nil)})
	if again.Status.Phase != v1alpha1.DealWon || again.Status.Attribution == nil || len(again.Status.Attribution.Influenced) != 2 {
		t.Errorf("a won registration changed on a later evaluation: %s %+v", again.Status.Phase, again.Status.Attribution)
	}
}

func TestTransitionsAreNumberedForTheirRecords(t *testing.T) {
	d := registration("d1", now)
	var seqs []int64
	for _, lock := range []Lock{{State: LockFree}, {State: LockMine}} {
		r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: lock})
		for _, e := range r.Events {
			seqs = append(seqs, e.Sequence)
		}
		d.Status = r.Status
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Errorf("sequences %v, want 1 (Submitted) and 2 (UnderReview)", seqs)
	}
	// Trimmed history keeps counting from the newest entry.
	d.Status.History = d.Status.History[1:]
	d.Status.RecordedSequence = 2
	d.Spec.Withdrawn = true
	r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}})
	if len(r.Events) != 1 || r.Events[0].Sequence != 3 {
		t.Errorf("events %+v, want one with sequence 3", r.Events)
	}
}

func TestCreditFollowsTheCloseNotTheReport(t *testing.T) {
	day := 24 * time.Hour
	protected := func(phase v1alpha1.DealPhase) func(*v1alpha1.DealRegistration) {
		return inPhase(phase, func(s *v1alpha1.DealRegistrationStatus) {
			s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-90 * day)}, &metav1.Time{Time: now.Add(-day)}
		})
	}
	// Closed the day before protection ended, reported after it expired: credited.
	r := Evaluate(Input{Now: now, Deal: registration("d1", now, protected(v1alpha1.DealExpired), won("5000", now.Add(-2*day))), Partner: partner(resell), Program: program(nil)})
	if r.Status.Phase != v1alpha1.DealWon || r.Status.Attribution == nil {
		t.Errorf("a close inside protection reported late: phase %s, attribution %+v; want Won with credit", r.Status.Phase, r.Status.Attribution)
	}
	// Closed after protection ended, reported before the controller expired it: no credit.
	r = Evaluate(Input{Now: now, Deal: registration("d1", now, protected(v1alpha1.DealApproved), won("5000", now.Add(-day/2))), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}})
	if r.Status.Attribution != nil || r.Status.Reason != "ClosedWithoutProtection" {
		t.Errorf("a close after protection ended: %s %s, attribution %+v; want no credit", r.Status.Phase, r.Status.Reason, r.Status.Attribution)
	}
	// An expired registration with no outcome stays expired.
	r = Evaluate(Input{Now: now, Deal: registration("d1", now, protected(v1alpha1.DealExpired)), Partner: partner(resell), Program: program(nil)})
	if r.Status.Phase != v1alpha1.DealExpired {
		t.Errorf("phase %s", r.Status.Phase)
	}
}

func TestOneProtectionExtension(t *testing.T) {
	day := 24 * time.Hour
	approved := func(until time.Time, mutate ...func(*v1alpha1.DealRegistration)) *v1alpha1.DealRegistration {
		return registration("d1", now, append([]func(*v1alpha1.DealRegistration){inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
			s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: until.Add(-90 * day)}, &metav1.Time{Time: until}
		}), func(d *v1alpha1.DealRegistration) { d.Spec.ExtensionRequested = true }}, mutate...)...)
	}
	extension := func(phase v1alpha1.RequestPhase, at time.Time) *v1alpha1.ExceptionRequest {
		q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: "d1-extension-uid-d1"}, Status: v1alpha1.ExceptionRequestStatus{Phase: phase}}
		if phase == v1alpha1.PhaseApproved {
			q.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
		}
		return q
	}
	eval := func(d *v1alpha1.DealRegistration, q *v1alpha1.ExceptionRequest) Result {
		return Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}, Extension: q})
	}
	for name, tc := range map[string]struct {
		d          *v1alpha1.DealRegistration
		q          *v1alpha1.ExceptionRequest
		wantPhase  v1alpha1.DealPhase
		wantUntil  time.Time
		wantOpen   bool
		wantResult string
	}{
		"asking opens the extension request":                             {d: approved(now.Add(day)), wantPhase: v1alpha1.DealApproved, wantUntil: now.Add(day), wantOpen: true},
		"approved before protection ends, it runs from protectedUntil":   {d: approved(now.Add(day)), q: extension(v1alpha1.PhaseApproved, now.Add(-day)), wantPhase: v1alpha1.DealApproved, wantUntil: now.Add(31 * day), wantResult: "Approved"},
		"under review, protection holds past protectedUntil":             {d: approved(now.Add(-day)), q: extension(v1alpha1.PhasePending, now), wantPhase: v1alpha1.DealApproved, wantUntil: now.Add(-day)},
		"approved after protectedUntil, it runs from the approval":       {d: approved(now.Add(-2 * day)), q: extension(v1alpha1.PhaseApproved, now.Add(-day)), wantPhase: v1alpha1.DealApproved, wantUntil: now.Add(29 * day), wantResult: "Approved"},
		"denied after protectedUntil, the registration expires":          {d: approved(now.Add(-day)), q: extension(v1alpha1.PhaseDenied, now), wantPhase: v1alpha1.DealExpired, wantUntil: now.Add(-day), wantResult: "Denied"},
		"denied before protectedUntil, protection ends as it would have": {d: approved(now.Add(day)), q: extension(v1alpha1.PhaseDenied, now), wantPhase: v1alpha1.DealApproved, wantUntil: now.Add(day), wantResult: "Denied"},
		"only one extension: after it, protection ends at the extended time": {d: approved(now, func(d *v1alpha1.DealRegistration) {
			d.Status.Extension = &v1alpha1.DealExtension{Request: "x", Result: "Approved"}
		}), wantPhase: v1alpha1.DealExpired, wantUntil: now},
	} {
		t.Run(name, func(t *testing.T) {
			r := eval(tc.d, tc.q)
			if r.Status.Phase != tc.wantPhase || !r.Status.ProtectedUntil.Time.Equal(tc.wantUntil) {
				t.Fatalf("phase %s until %v (%s), want %s until %v", r.Status.Phase, r.Status.ProtectedUntil, r.Status.Message, tc.wantPhase, tc.wantUntil)
			}
			if r.OpenExtension != tc.wantOpen {
				t.Errorf("open extension %v, want %v", r.OpenExtension, tc.wantOpen)
			}
			if tc.wantResult != "" && (r.Status.Extension == nil || r.Status.Extension.Result != tc.wantResult) {
				t.Errorf("extension %+v, want result %s", r.Status.Extension, tc.wantResult)
			}
		})
	}
}

func TestTheHeldTierMaySetProtection(t *testing.T) {
	auto := &v1alpha1.DealRegistrationRules{AutoApprove: &v1alpha1.DealAutoApproval{}, Protection: &metav1.Duration{Duration: 90 * 24 * time.Hour}}
	premier := &v1alpha1.PartnerTier{Spec: v1alpha1.PartnerTierSpec{Entitlements: v1alpha1.Entitlements{Resell: true, DealProtection: &metav1.Duration{Duration: 120 * 24 * time.Hour}}}}
	plain := &v1alpha1.PartnerTier{Spec: v1alpha1.PartnerTierSpec{Entitlements: v1alpha1.Entitlements{Resell: true}}}
	for name, tc := range map[string]struct {
		tier *v1alpha1.PartnerTier
		want time.Duration
	}{
		"a tier with dealProtection overrides the program": {premier, 120 * 24 * time.Hour},
		"a tier without it keeps the program's":            {plain, 90 * 24 * time.Hour},
		"no tier keeps the program's":                      {nil, 90 * 24 * time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: registration("d1", now), Partner: partner(resell), Program: program(auto), Tier: tc.tier, Lock: Lock{State: LockMine}})
			if r.Status.Phase != v1alpha1.DealApproved || !r.Status.ProtectedUntil.Time.Equal(now.Add(tc.want)) {
				t.Errorf("phase %s until %v, want Approved until %v", r.Status.Phase, r.Status.ProtectedUntil, now.Add(tc.want))
			}
		})
	}
}

func TestAQueuedRegistrationEscalatesItsConflictOnce(t *testing.T) {
	rival := v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "rivals", Name: "r1", UID: "uid-r1", Partner: "rival"}
	later := v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "rivals", Name: "r2", UID: "uid-r2", Partner: "rival-two"}
	escalated := func(result string) func(*v1alpha1.DealRegistration) {
		return func(d *v1alpha1.DealRegistration) {
			d.Spec.EscalateConflict = true
			d.Status.Phase, d.Status.Reason = v1alpha1.DealQueued, "ConflictEscalated"
			d.Status.Conflict = &v1alpha1.DealConflict{Request: "d1-conflict-uid-d1", Against: rival, Result: result}
		}
	}
	conflict := func(phase v1alpha1.RequestPhase) *v1alpha1.ExceptionRequest {
		q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: "d1-conflict-uid-d1"}, Status: v1alpha1.ExceptionRequestStatus{Phase: phase}}
		if phase == v1alpha1.PhaseApproved {
			q.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
		}
		return q
	}
	for name, tc := range map[string]struct {
		d          *v1alpha1.DealRegistration
		q          *v1alpha1.ExceptionRequest
		lock       Lock
		others     []v1alpha1.DealRegistration
		wantPhase  v1alpha1.DealPhase
		wantReason string
		wantLock   Action
		wantOpen   bool
		wantResult string
	}{
		"escalating opens the conflict request against the holder": {
			d:    registration("d1", now, inPhase(v1alpha1.DealQueued), func(d *v1alpha1.DealRegistration) { d.Spec.EscalateConflict = true }),
			lock: Lock{State: LockTaken, Holder: rival}, wantPhase: v1alpha1.DealQueued, wantReason: "ConflictEscalated", wantOpen: true,
		},
		"while the request is pending the registration stays in line": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhasePending),
			lock: Lock{State: LockTaken, Holder: rival}, wantPhase: v1alpha1.DealQueued, wantReason: "ConflictEscalated",
		},
		"an approved conflict takes the key from the holder it was escalated against": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhaseApproved),
			lock: Lock{State: LockTaken, Holder: rival}, wantPhase: v1alpha1.DealQueued, wantLock: TakeOver,
		},
		"with the key taken over, the approved conflict approves the registration": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhaseApproved),
			lock: Lock{State: LockMine}, wantPhase: v1alpha1.DealApproved, wantReason: v1alpha1.ReasonDealConflictWon, wantResult: "Approved",
		},
		"an approved conflict does not take the key from a holder it was not escalated against": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhaseApproved),
			lock: Lock{State: LockTaken, Holder: later}, wantPhase: v1alpha1.DealQueued, wantReason: v1alpha1.ReasonDealHeld, wantResult: "Superseded",
		},
		"an approved conflict whose holder ended takes the free key ahead of the line": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhaseApproved),
			others: []v1alpha1.DealRegistration{waiting("early", now.Add(-time.Hour), v1alpha1.DealQueued)},
			lock:   Lock{State: LockFree}, wantPhase: v1alpha1.DealQueued, wantLock: Acquire,
		},
		"a denied conflict leaves the registration in line, and it is not escalated again": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhaseDenied),
			lock: Lock{State: LockTaken, Holder: rival}, wantPhase: v1alpha1.DealQueued, wantReason: "ConflictDenied", wantResult: "Denied",
		},
		"once denied, a new holder is waited for without a new request": {
			d:    registration("d1", now, escalated("Denied")),
			lock: Lock{State: LockTaken, Holder: later}, wantPhase: v1alpha1.DealQueued, wantReason: "ConflictDenied", wantResult: "Denied",
		},
		"taking the customer in turn supersedes a pending conflict": {
			d: registration("d1", now, escalated("")), q: conflict(v1alpha1.PhasePending),
			lock: Lock{State: LockMine}, wantPhase: v1alpha1.DealUnderReview, wantResult: "Superseded",
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: tc.d, Partner: partner(resell), Program: program(nil), Lock: tc.lock, Conflict: tc.q, Others: tc.others})
			if r.Status.Phase != tc.wantPhase || (tc.wantReason != "" && r.Status.Reason != tc.wantReason) {
				t.Fatalf("phase %s (%s: %s), want %s (%s)", r.Status.Phase, r.Status.Reason, r.Status.Message, tc.wantPhase, tc.wantReason)
			}
			if r.Lock != tc.wantLock || (tc.wantLock == TakeOver && r.From != rival.UID) {
				t.Errorf("lock action %d from %q, want %d", r.Lock, r.From, tc.wantLock)
			}
			if r.OpenConflict != tc.wantOpen {
				t.Errorf("open conflict %v, want %v", r.OpenConflict, tc.wantOpen)
			}
			if c := r.Status.Conflict; c == nil || c.Against.UID != rival.UID || c.Result != tc.wantResult {
				t.Errorf("conflict %+v, want against %s with result %q", c, rival.UID, tc.wantResult)
			}
		})
	}
	t.Run("the holder whose key a conflict took expires with reason ConflictLost", func(t *testing.T) {
		d := registration("r1", now, inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) { s.ProtectedUntil = &metav1.Time{Time: now.Add(time.Hour)} }))
		r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil),
			Lock: Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "partners", Name: "d1", UID: "uid-d1"}, TakenThrough: "partners/d1-conflict-uid-d1"}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != v1alpha1.ReasonDealConflictLost || !strings.Contains(r.Status.Message, "partners/d1-conflict-uid-d1") {
			t.Fatalf("phase %s (%s: %s), want Expired (ConflictLost) naming the request", r.Status.Phase, r.Status.Reason, r.Status.Message)
		}
	})
}

// withDUNS gives the registration's customer a D-U-N-S number.
func withDUNS(n string) func(*v1alpha1.DealRegistration) {
	return func(d *v1alpha1.DealRegistration) { d.Spec.Customer.DUNS = n }
}

// One customer, one key, whatever identifiers are given: a registration
// conflicts with any live holder sharing its domain or its D-U-N-S number.
func TestOneCustomerOneKeyWhateverIdentifiersAreGiven(t *testing.T) {
	const domainKey, dunsKey = "global/domain:globex.com/sync", "global/duns:123456789/sync"
	held := func(name string, keys ...string) v1alpha1.DealRegistration {
		o := waiting(name, now.Add(-time.Hour), v1alpha1.DealApproved)
		o.Status.ConflictKey, o.Status.ConflictKeys = keys[0], keys
		return o
	}
	direct := Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006XYZ"}}
	for name, tc := range map[string]struct {
		in                     Input
		wantPhase              v1alpha1.DealPhase
		wantReason             string
		wantLock               Action
		wantMsg, wantDuplicate string
	}{
		"giving a D-U-N-S number queues behind the holder of the customer's domain": {
			in:        Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{held("early", domainKey)}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early", wantDuplicate: "ConflictKey",
		},
		"the same D-U-N-S number under another domain queues behind its holder": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789"), func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Domain = "globex-holdings.com" }),
				Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{held("early", "global/domain:globex.com/sync", dunsKey)}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early", wantDuplicate: "ConflictKey",
		},
		"without a number it queues behind a holder that gave one": {
			in:        Input{Deal: registration("d1", now), Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{held("early", domainKey, dunsKey)}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early", wantDuplicate: "ConflictKey",
		},
		"the direct team's claim on the domain rejects a registration giving a number": {
			in:        Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Lock: Combine([]Lock{direct, {State: LockFree}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealDirectEngaged, wantLock: Release,
		},
		"a reserved domain rejects a registration giving a number": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{Domain: "globex.com"}}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealReserved, wantLock: Release,
		},
		"a reserved D-U-N-S number rejects a registration of another domain": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789"), func(d *v1alpha1.DealRegistration) { d.Spec.Customer.Domain = "globex-holdings.com" }), Partner: partner(resell),
				Program: program(&v1alpha1.DealRegistrationRules{ReservedAccounts: []v1alpha1.ReservedAccount{{DUNS: "123456789"}}})},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealReserved, wantLock: Release,
		},
		"a partner's second registration giving a number is its own duplicate": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
				o := held("mine", domainKey)
				o.Spec.Partner = "acme-consulting"
				return o
			}()}},
			wantPhase: v1alpha1.DealRejected, wantReason: v1alpha1.ReasonDealDuplicate, wantLock: Release,
		},
		"an earlier registration giving a number, not evaluated yet, is waited for": {
			in: Input{Deal: registration("d1", now), Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
				o := waiting("early", now.Add(-time.Second), "")
				o.Spec.Customer.DUNS, o.Status.ConflictKey = "123456789", ""
				return o
			}()}},
			wantPhase: v1alpha1.DealQueued, wantMsg: "registration partners/early",
		},
		"a registration holding only one of its keys acquires the rest": {
			in:        Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Lock: Combine([]Lock{{State: LockMine}, {State: LockFree}})},
			wantPhase: v1alpha1.DealSubmitted, wantLock: Acquire,
		},
		"the same name under another domain is suspected even when one side gives a number": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine},
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := held("x", "global/domain:globex.io/sync")
					o.Spec.Customer = v1alpha1.Customer{Name: "Globex Corp", Domain: "globex.io"}
					return o
				}()}},
			wantPhase: v1alpha1.DealUnderReview, wantDuplicate: "CustomerName",
		},
		"the same name with two different numbers is two companies": {
			in: Input{Deal: registration("d1", now, withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine},
				Others: []v1alpha1.DealRegistration{func() v1alpha1.DealRegistration {
					o := held("x", "global/domain:globex.io/sync", "global/duns:987654321/sync")
					o.Spec.Customer = v1alpha1.Customer{Name: "Globex Corp", Domain: "globex.io", DUNS: "987654321"}
					return o
				}()}},
			wantPhase: v1alpha1.DealUnderReview,
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc.in.Now = now
			r := Evaluate(tc.in)
			if r.Status.Phase != tc.wantPhase || (tc.wantReason != "" && r.Status.Reason != tc.wantReason) {
				t.Fatalf("phase %s (%s: %s), want %s (%s)", r.Status.Phase, r.Status.Reason, r.Status.Message, tc.wantPhase, tc.wantReason)
			}
			if r.Lock != tc.wantLock {
				t.Errorf("lock action %d, want %d", r.Lock, tc.wantLock)
			}
			if !strings.Contains(r.Status.Message, tc.wantMsg) {
				t.Errorf("message %q does not contain %q", r.Status.Message, tc.wantMsg)
			}
			got := ""
			for _, m := range r.Status.Duplicates {
				got = m.MatchedOn
			}
			if got != tc.wantDuplicate {
				t.Errorf("duplicates %+v, want a match on %q", r.Status.Duplicates, tc.wantDuplicate)
			}
			if tc.in.Deal.Spec.Customer.DUNS != "" && r.Status.Phase != v1alpha1.DealRejected && len(r.Status.ConflictKeys) != 2 {
				t.Errorf("status.conflictKeys %q: a registration giving a number shows both its keys", r.Status.ConflictKeys)
			}
		})
	}
}

// Taking the customer takes every identifier's key or none.
func TestCombineHoldsEveryKeyOrNone(t *testing.T) {
	mine, free := Lock{State: LockMine}, Lock{State: LockFree}
	rival := Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Name: "r1"}}
	direct := Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006"}}
	for name, tc := range map[string]struct {
		locks      []Lock
		want       LockState
		wantHolder string
	}{
		"every key held is the customer held":            {[]Lock{mine, mine}, LockMine, ""},
		"one key of two is not the customer":             {[]Lock{mine, free}, LockFree, ""},
		"one key of two is not the customer, either way": {[]Lock{free, mine}, LockFree, ""},
		"another's holder of any key holds the customer": {[]Lock{mine, rival}, LockTaken, "r1"},
		"another's holder of the first key holds it too": {[]Lock{rival, free}, LockTaken, "r1"},
		"the direct team's claim on any key comes first": {[]Lock{rival, direct}, LockTaken, "006"},
		"no key read is free":                            {nil, LockFree, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got := Combine(tc.locks)
			if got.State != tc.want || got.Holder.Name+got.Holder.Opportunity != tc.wantHolder {
				t.Errorf("Combine = %+v; want state %d holder %q", got, tc.want, tc.wantHolder)
			}
		})
	}
}
