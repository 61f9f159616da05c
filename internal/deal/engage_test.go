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
	settled := now.Add(-Settle) // submitted long enough ago to take a free key
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
			in:        Input{Deal: registration("d1", settled), Partner: partner(resell), Program: program(nil)},
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
			in: Input{Now: now, Deal: registration("d1", settled), Partner: partner(resell), Program: program(nil),
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
			in: Input{Now: now, Deal: registration("d1", settled), Partner: partner(resell),
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
			in: Input{Now: now, Deal: registration("d1", settled), Partner: partner(resell), Program: program(nil),
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
			in:        Input{Now: now, Deal: registration("d1", settled, func(d *v1alpha1.DealRegistration) { d.Spec.Type = v1alpha1.DealReferral }), Partner: partner(), Program: program(nil)},
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
			in: Input{Now: now, Deal: registration("d1", settled), Partner: partner(resell), Program: program(nil),
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

// confirmed has the CRM confirm every influence claim of d as claimed.
func confirmed(d *v1alpha1.DealRegistration) {
	for _, inf := range d.Spec.Influencers {
		d.Status.InfluenceConfirmations = append(d.Status.InfluenceConfirmations, v1alpha1.InfluenceConfirmation{Influencer: inf, ConfirmedBy: "crm@example.com"})
	}
}

// programPartners are partners of program "global" (ns/name).
func programPartners(ids ...string) []v1alpha1.Partner {
	var out []v1alpha1.Partner
	for _, id := range ids {
		ns, name, _ := strings.Cut(id, "/")
		out = append(out, v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.PartnerSpec{Program: "global"}})
	}
	return out
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
		confirmed(d)
	}
	partners := programPartners("partners/nimbus", "partners/stale", "partners/late", "other-ns/elsewhere")
	submitted := now.Add(-200 * day)
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(day)}
	})

	r := Evaluate(Input{Now: now, Deal: registration("d1", submitted, approved, influenced, won("120000", now)), Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}, Influencers: partners})
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
	d := registration("d1", submitted, approved, influenced, won("120000", now))
	d.Status = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockMine}, Influencers: partners}).Status
	again := Evaluate(Input{Now: now.Add(day), Deal: d, Partner: partner(), Program: program(nil)})
	if again.Status.Phase != v1alpha1.DealWon || again.Status.Attribution == nil || len(again.Status.Attribution.Influenced) != 2 {
		t.Errorf("a won registration changed on a later evaluation: %s %+v", again.Status.Phase, again.Status.Attribution)
	}
}

// TestInfluenceIsConfirmedNotDeclared: an influence claim earns influenced
// credit only once the program's CRM integration confirmed it as claimed, for
// a partner of the registration's program, with influence between the
// registration's submission and the close, within the lookback.
func TestInfluenceIsConfirmedNotDeclared(t *testing.T) {
	day := 24 * time.Hour
	submitted := now.Add(-30 * day)
	claim := influencer("nimbus", "", now.Add(-10*day))
	for name, tc := range map[string]struct {
		claim    v1alpha1.Influencer
		confirm  func(*v1alpha1.InfluenceConfirmation) // nil: not confirmed
		partners []v1alpha1.Partner
		excluded string // "" when credited
	}{
		"a confirmed claim of a partner of the program is credited": {
			claim: claim, confirm: func(*v1alpha1.InfluenceConfirmation) {}, partners: programPartners("partners/nimbus")},
		"a declared claim nobody confirmed earns nothing": {
			claim: claim, partners: programPartners("partners/nimbus"), excluded: "not confirmed by the program's CRM integration"},
		"a confirmation without the server's stamp confirms nothing": {
			claim: claim, confirm: func(c *v1alpha1.InfluenceConfirmation) { c.ConfirmedBy = "" }, partners: programPartners("partners/nimbus"),
			excluded: "not confirmed"},
		"a claim changed after its confirmation (another role) is not confirmed": {
			claim: claim, confirm: func(c *v1alpha1.InfluenceConfirmation) { c.Role = v1alpha1.InfluenceIntroduction }, partners: programPartners("partners/nimbus"),
			excluded: "not confirmed"},
		"a claim moved to another time after its confirmation is not confirmed": {
			claim: claim, confirm: func(c *v1alpha1.InfluenceConfirmation) { c.At = metav1.NewTime(now.Add(-11 * day)) }, partners: programPartners("partners/nimbus"),
			excluded: "not confirmed"},
		"a partner of another program earns nothing": {
			claim: claim, confirm: func(*v1alpha1.InfluenceConfirmation) {},
			partners: func() []v1alpha1.Partner {
				p := programPartners("partners/nimbus")
				p[0].Spec.Program = "other"
				return p
			}(),
			excluded: "not a partner of program global"},
		"a partner that does not exist earns nothing": {
			claim: claim, confirm: func(*v1alpha1.InfluenceConfirmation) {}, excluded: "not a partner of program global"},
		"a partner of the program in another namespace is credited": {
			claim: influencer("nimbus", "elsewhere", now.Add(-10*day)), confirm: func(*v1alpha1.InfluenceConfirmation) {}, partners: programPartners("elsewhere/nimbus")},
		"influence backdated before the registration's submission earns nothing": {
			claim: influencer("nimbus", "", submitted.Add(-time.Hour)), confirm: func(*v1alpha1.InfluenceConfirmation) {}, partners: programPartners("partners/nimbus"),
			excluded: "before the registration was submitted"},
		"influence claimed with the registration, by a clock a little behind, counts": {
			claim: influencer("nimbus", "", submitted.Add(-InfluenceSkew+time.Second)), confirm: func(*v1alpha1.InfluenceConfirmation) {}, partners: programPartners("partners/nimbus")},
	} {
		t.Run(name, func(t *testing.T) {
			d := registration("d1", submitted.Add(300*time.Millisecond), won("5000", now), func(d *v1alpha1.DealRegistration) {
				d.Spec.Influencers = []v1alpha1.Influencer{tc.claim}
				if tc.confirm != nil {
					c := v1alpha1.InfluenceConfirmation{Influencer: tc.claim, ConfirmedBy: "crm@example.com"}
					tc.confirm(&c)
					d.Status.InfluenceConfirmations = []v1alpha1.InfluenceConfirmation{c}
				}
			})
			a := Attribute(d, program(nil), tc.partners)
			if tc.excluded == "" {
				if len(a.Influenced) != 1 || a.Influenced[0].Partner != "nimbus" || len(a.Excluded) != 0 {
					t.Fatalf("influenced %+v, excluded %q: want nimbus credited", a.Influenced, a.Excluded)
				}
				return
			}
			if len(a.Influenced) != 0 || len(a.Excluded) != 1 || !strings.Contains(a.Excluded[0], tc.excluded) {
				t.Fatalf("influenced %+v, excluded %q: want no credit, excluded for %q", a.Influenced, a.Excluded, tc.excluded)
			}
		})
	}
}

func TestTransitionsAreNumberedForTheirRecords(t *testing.T) {
	d := registration("d1", now.Add(-Settle))
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

func TestCreditFollowsProtectionThatWasActuallyHeld(t *testing.T) {
	day := 24 * time.Hour
	takenAt := now.Add(-time.Hour)
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
	})
	suspendedPartner := func() *v1alpha1.Partner { p := partner(resell); p.Spec.Suspended = true; return p }
	challenger := v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "rivals", Name: "r1", UID: "uid-r1", Partner: "rival"}
	conflictLost := Lock{State: LockTaken, Holder: challenger, TakenThrough: "rivals/r1-conflict-uid-r1", Since: takenAt}
	for name, tc := range map[string]struct {
		partner    *v1alpha1.Partner
		lock       Lock
		wantReason string
		wantUntil  time.Time
	}{
		"a conflict lost ends protection when the challenger took the key": {partner(resell), conflictLost, v1alpha1.ReasonDealConflictLost, takenAt},
		"the direct team engaged ends protection when it took the key": {partner(resell),
			Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006XYZ"}, Since: takenAt}, v1alpha1.ReasonDealDirectEngaged, takenAt},
		"a key lost to another holder ends protection when it took the key": {partner(resell),
			Lock{State: LockTaken, Holder: challenger, Since: takenAt}, v1alpha1.ReasonDealLostHolder, takenAt},
		"a lock that does not say when it was taken ends protection when the loss is seen": {partner(resell),
			Lock{State: LockTaken, Holder: challenger}, v1alpha1.ReasonDealLostHolder, now},
		"a lost entitlement (demotion, probation) ends protection at once": {partner(), Lock{State: LockMine}, v1alpha1.ReasonDealLostHolder, now},
		"a suspension ends protection at once":                             {suspendedPartner(), Lock{State: LockMine}, v1alpha1.ReasonDealLostHolder, now},
	} {
		t.Run(name, func(t *testing.T) {
			d := registration("d1", now.Add(-10*day), approved)
			r := Evaluate(Input{Now: now, Deal: d, Partner: tc.partner, Program: program(nil), Lock: tc.lock})
			if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != tc.wantReason || r.Lock != Release {
				t.Fatalf("phase %s (%s: %s), lock %d; want Expired (%s), released", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, tc.wantReason)
			}
			if !r.Status.ProtectedUntil.Time.Equal(tc.wantUntil) {
				t.Errorf("protectedUntil %v, want the loss at %v", r.Status.ProtectedUntil, tc.wantUntil)
			}
			if len(r.Events) != 1 || !strings.Contains(r.Events[0].Message, "protection ended at "+tc.wantUntil.Format(time.RFC3339)) {
				t.Errorf("events %+v: the loss must be recorded with the moment protection ended", r.Events)
			}
			// The CRM reports a win afterwards: closed after the loss, no credit
			// (the registration stays Expired); closed before it, Won and credited.
			for _, c := range []struct {
				closed time.Time
				credit bool
			}{{tc.wantUntil.Add(time.Second), false}, {tc.wantUntil.Add(-time.Second), true}} {
				later := d.DeepCopy()
				later.Status = r.Status
				won("5000", c.closed)(later)
				w := Evaluate(Input{Now: now.Add(day), Deal: later, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockTaken, Holder: challenger}})
				if (w.Status.Phase == v1alpha1.DealWon) != c.credit || (w.Status.Attribution != nil) != c.credit {
					t.Errorf("a win closed at %v: %s (%s), attribution %+v; want credit %v", c.closed, w.Status.Phase, w.Status.Reason, w.Status.Attribution, c.credit)
				}
			}
			// Reported before the controller saw the loss: judged the same way.
			early := registration("d1", now.Add(-10*day), approved, won("5000", tc.wantUntil.Add(time.Second)))
			w := Evaluate(Input{Now: now, Deal: early, Partner: tc.partner, Program: program(nil), Lock: tc.lock})
			if w.Status.Attribution != nil || w.Status.Reason != "ClosedWithoutProtection" {
				t.Errorf("a win closed after the loss, reported before it was seen: %s (%s), attribution %+v; want no credit", w.Status.Phase, w.Status.Reason, w.Status.Attribution)
			}
		})
	}
	t.Run("a registration that expired before losses moved protectedUntil is credited only up to its expiry", func(t *testing.T) {
		d := registration("d1", now.Add(-10*day), approved, won("5000", now.Add(-time.Minute)), func(d *v1alpha1.DealRegistration) {
			d.Status.Phase, d.Status.Reason = v1alpha1.DealExpired, v1alpha1.ReasonDealConflictLost
			d.Status.History = []v1alpha1.DealEvent{{Sequence: 1, Time: metav1.NewTime(now.Add(-time.Hour)), Phase: v1alpha1.DealExpired, Reason: v1alpha1.ReasonDealConflictLost}}
		})
		r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil)})
		if r.Status.Attribution != nil || !r.Status.ProtectedUntil.Time.Equal(now.Add(-time.Hour)) {
			t.Errorf("phase %s (%s), until %v, attribution %+v; want no credit, protection ended at the expiry", r.Status.Phase, r.Status.Reason, r.Status.ProtectedUntil, r.Status.Attribution)
		}
	})
}

// One won deal is sourced-credited once: the holder a conflict took the key
// from and the challenger that took it never both cover one close.
func TestOneCloseIsSourcedCreditedToOneRegistrationOfItsKey(t *testing.T) {
	day := 24 * time.Hour
	takenAt := now.Add(-time.Hour).Add(300 * time.Millisecond) // the lock's since, to the microsecond
	holder := registration("r1", now.Add(-20*day), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
	}))
	challenger := registration("d1", now.Add(-5*day), func(d *v1alpha1.DealRegistration) {
		d.Spec.EscalateConflict = true
		d.Status.Phase, d.Status.Reason = v1alpha1.DealQueued, "ConflictEscalated"
		d.Status.Conflict = &v1alpha1.DealConflict{Request: "d1-conflict-uid-d1", Against: HolderOf(holder)}
	})
	// The conflict was approved a while before the challenger took the key.
	q := &v1alpha1.ExceptionRequest{ObjectMeta: metav1.ObjectMeta{Name: "d1-conflict-uid-d1"}, Status: v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved,
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(takenAt.Add(-10 * time.Minute))}}}}
	c := Evaluate(Input{Now: takenAt, Deal: challenger, Partner: partner(resell), Program: program(nil), Conflict: q,
		Lock: Lock{State: LockMine, Holder: HolderOf(challenger), TakenThrough: "partners/d1-conflict-uid-d1", Since: takenAt}})
	if c.Status.Phase != v1alpha1.DealApproved {
		t.Fatalf("challenger: %s (%s)", c.Status.Phase, c.Status.Message)
	}
	h := Evaluate(Input{Now: now, Deal: holder, Partner: partner(resell), Program: program(nil),
		Lock: Lock{State: LockTaken, Holder: HolderOf(challenger), TakenThrough: "partners/d1-conflict-uid-d1", Since: takenAt}})
	if h.Status.Phase != v1alpha1.DealExpired {
		t.Fatalf("holder: %s (%s)", h.Status.Phase, h.Status.Message)
	}
	// What the API server stores: times to the second.
	stored := func(st v1alpha1.DealRegistrationStatus) v1alpha1.DealRegistrationStatus {
		st.ApprovedAt = &metav1.Time{Time: st.ApprovedAt.Truncate(time.Second)}
		st.ProtectedUntil = &metav1.Time{Time: st.ProtectedUntil.Truncate(time.Second)}
		return st
	}
	cs, hs := stored(c.Status), stored(h.Status)
	for at := takenAt.Add(-15 * time.Minute); at.Before(takenAt.Add(15 * time.Minute)); at = at.Add(500 * time.Millisecond) {
		if ProtectedAt(cs, at) && ProtectedAt(hs, at) {
			t.Fatalf("a close at %v lies in both protections (holder %v to %v, challenger %v to %v)", at, hs.ApprovedAt, hs.ProtectedUntil, cs.ApprovedAt, cs.ProtectedUntil)
		}
	}
	if !cs.ApprovedAt.Time.Equal(takenAt.Truncate(time.Second)) {
		t.Errorf("the challenger's protection begins at %v, want when it took the key (%v), not at the conflict's approval", cs.ApprovedAt, takenAt)
	}
}

func TestSuspensionEndsEveryProtection(t *testing.T) {
	suspended := func() *v1alpha1.Partner { p := partner(resell); p.Spec.Suspended = true; return p }
	referral := func(d *v1alpha1.DealRegistration) { d.Spec.Type = v1alpha1.DealReferral }
	cosell := func(d *v1alpha1.DealRegistration) {
		d.Spec.Type, d.Spec.Customer.Segment = v1alpha1.DealCoSell, "enterprise"
	}
	approved := inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-time.Hour)}, &metav1.Time{Time: now.Add(time.Hour)}
	})
	for name, tc := range map[string]struct {
		d          *v1alpha1.DealRegistration
		lock       Lock
		wantPhase  v1alpha1.DealPhase
		wantReason string
	}{
		"an approved Referral loses protection and releases the key": {registration("d1", now, referral, approved), Lock{State: LockMine}, v1alpha1.DealExpired, v1alpha1.ReasonDealLostHolder},
		"an approved Resale loses protection and releases the key":   {registration("d1", now, approved), Lock{State: LockMine}, v1alpha1.DealExpired, v1alpha1.ReasonDealLostHolder},
		"an approved CoSell loses protection and releases the key":   {registration("d1", now, cosell, approved), Lock{State: LockMine}, v1alpha1.DealExpired, v1alpha1.ReasonDealLostHolder},
		"a Referral under review loses the key": {registration("d1", now, referral, inPhase(v1alpha1.DealUnderReview)), Lock{State: LockMine},
			v1alpha1.DealExpired, v1alpha1.ReasonDealLostHolder},
		"a new Referral is rejected":    {registration("d1", now, referral), Lock{}, v1alpha1.DealRejected, v1alpha1.ReasonDealNotEntitled},
		"a queued Referral is rejected": {registration("d1", now, referral, inPhase(v1alpha1.DealQueued)), Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Name: "r1"}}, v1alpha1.DealRejected, v1alpha1.ReasonDealNotEntitled},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: tc.d, Partner: suspended(), Program: program(nil), Lock: tc.lock})
			if r.Status.Phase != tc.wantPhase || r.Status.Reason != tc.wantReason || r.Lock != Release {
				t.Fatalf("phase %s (%s: %s), lock %d; want %s (%s), released", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, tc.wantPhase, tc.wantReason)
			}
			if !strings.Contains(r.Status.Message, "suspended") || len(r.Events) != 1 {
				t.Errorf("message %q, events %d: the suspension must be named and recorded", r.Status.Message, len(r.Events))
			}
		})
	}
	if MissingEntitlement(suspended(), v1alpha1.DealReferral, "") == "" {
		t.Errorf("a suspended partner lacks what a Referral needs")
	}
	t.Run("without its program, a suspended partner's registration still loses protection", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: registration("d1", now, referral, approved), Partner: suspended(), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Lock != Release {
			t.Errorf("phase %s (%s), lock %d; want Expired, released", r.Status.Phase, r.Status.Message, r.Lock)
		}
	})
}

func TestDeadlinesFireWithoutAProgram(t *testing.T) {
	approved := func(until time.Time) *v1alpha1.DealRegistration {
		return registration("d1", now.Add(-time.Hour), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
			s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-time.Hour)}, &metav1.Time{Time: until}
			s.ConflictKey = "global/domain:globex.com/sync"
		}))
	}
	t.Run("before protectedUntil it holds and comes back at protectedUntil", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: approved(now.Add(time.Minute)), Partner: partner(resell), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealApproved || r.Lock != Keep {
			t.Fatalf("phase %s, lock %d", r.Status.Phase, r.Lock)
		}
		if r.Next == nil || !r.Next.Equal(now.Add(time.Minute)) {
			t.Errorf("next %v, want protectedUntil %v", r.Next, now.Add(time.Minute))
		}
	})
	t.Run("at protectedUntil it expires and releases the key", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: approved(now), Partner: partner(resell), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != v1alpha1.ReasonDealProtectionEnd || r.Lock != Release || len(r.Events) != 1 {
			t.Errorf("phase %s (%s: %s), lock %d, events %d; want Expired (ProtectionEnded), released, recorded", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, len(r.Events))
		}
	})
	t.Run("a pending extension does not hold protection past protectedUntil without the program", func(t *testing.T) {
		d := approved(now)
		d.Spec.ExtensionRequested = true
		d.Status.Extension = &v1alpha1.DealExtension{Request: "d1-extension-uid-d1"}
		r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Lock != Release {
			t.Errorf("phase %s (%s), lock %d; want Expired, released", r.Status.Phase, r.Status.Message, r.Lock)
		}
	})
	t.Run("the key taken by another ends it", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: approved(now.Add(time.Hour)), Partner: partner(resell),
			Lock: Lock{State: LockTaken, Holder: v1alpha1.DealHolder{Kind: HolderDirect, Opportunity: "006XYZ"}, Since: now.Add(-time.Minute)}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != v1alpha1.ReasonDealDirectEngaged || !r.Status.ProtectedUntil.Time.Equal(now.Add(-time.Minute)) {
			t.Errorf("phase %s (%s), until %v; want Expired (DirectEngaged) at the take", r.Status.Phase, r.Status.Reason, r.Status.ProtectedUntil)
		}
	})
}

func TestFirstComeIsBySubmittedAtNotByWhoIsSeenFirst(t *testing.T) {
	// A later registration seen before an earlier one waits Settle from its
	// submission, writing nothing, before it takes the free key.
	late := registration("late", now.Add(-Settle/2))
	r := Evaluate(Input{Now: now, Deal: late, Partner: partner(resell), Program: program(nil)})
	if r.Lock != Keep || r.Status.Phase != "" || len(r.Events) != 0 {
		t.Fatalf("within the settle window: lock %d, phase %q, events %d; want nothing taken, nothing written", r.Lock, r.Status.Phase, len(r.Events))
	}
	if want := now.Add(Settle / 2); r.Next == nil || !r.Next.Equal(want) {
		t.Errorf("next %v, want the end of the settle window %v", r.Next, want)
	}
	// By then the earlier one has reached the cache: the later one queues behind it.
	early := registration("early", now.Add(-Settle/2-time.Millisecond), func(d *v1alpha1.DealRegistration) { d.Spec.Partner = "rival" })
	r = Evaluate(Input{Now: now.Add(Settle / 2), Deal: late, Partner: partner(resell), Program: program(nil), Others: []v1alpha1.DealRegistration{*early}})
	if r.Status.Phase != v1alpha1.DealQueued || r.Lock != Keep || !strings.Contains(r.Status.Message, "partners/early") {
		t.Errorf("after the settle window: %s (%s), lock %d; want Queued behind the earlier registration", r.Status.Phase, r.Status.Message, r.Lock)
	}
	// Alone after the window, it takes the key.
	r = Evaluate(Input{Now: now.Add(Settle / 2), Deal: late, Partner: partner(resell), Program: program(nil)})
	if r.Lock != Acquire {
		t.Errorf("alone after the settle window: lock %d, want Acquire", r.Lock)
	}
}

func TestAHolderWhoseKeyWasTakenDoesNotTakeItBack(t *testing.T) {
	day := 24 * time.Hour
	takenAt := now.Add(-time.Hour)
	d := registration("d1", now.Add(-20*day), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
		s.ConflictKey = "global/domain:globex.com/sync"
	}))
	// The challenger took the key through its conflict and has ended since: the
	// lock is free, naming it as the last holder.
	released := Lock{State: LockFree, Holder: v1alpha1.DealHolder{Kind: HolderPartner, Namespace: "rivals", Name: "r1", UID: "uid-r1", Partner: "rival"},
		TakenThrough: "rivals/r1-conflict-uid-r1", Since: takenAt}
	r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: released})
	if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != v1alpha1.ReasonDealConflictLost || r.Lock == Acquire {
		t.Fatalf("phase %s (%s: %s), lock %d; want Expired (ConflictLost), the key not taken back", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock)
	}
	if !r.Status.ProtectedUntil.Time.Equal(takenAt) {
		t.Errorf("protectedUntil %v, want when the key was taken (%v)", r.Status.ProtectedUntil, takenAt)
	}
	// Reported won, closed after the key was taken: no credit.
	won("5000", takenAt.Add(time.Minute))(d)
	r = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: released})
	if r.Status.Attribution != nil {
		t.Errorf("a close after the key was taken is credited: %s (%s)", r.Status.Phase, r.Status.Reason)
	}
	// A lock that is gone (deleted by hand) says nothing: the holder takes it back.
	d.Status.Outcome = nil
	r = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockFree}})
	if r.Status.Phase != v1alpha1.DealApproved || r.Lock != Acquire {
		t.Errorf("phase %s, lock %d; want Approved, taking its key back", r.Status.Phase, r.Lock)
	}
	// A key whose last holder took it before this registration was approved
	// (a registration that ended before it, on a key it holds or only gains
	// now, a D-U-N-S key after an upgrade) was taken from nobody: it is
	// acquired, in any position among the registration's keys.
	stale := Lock{State: LockFree, Holder: released.Holder, Since: now.Add(-15 * day)}
	for _, locks := range [][]Lock{{stale}, {{State: LockMine}, stale}, {stale, {State: LockMine}}} {
		r = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Combine(locks)})
		if r.Status.Phase != v1alpha1.DealApproved || r.Lock != Acquire {
			t.Errorf("locks %+v: phase %s (%s), lock %d; want Approved, acquiring the key nobody took from it", locks, r.Status.Phase, r.Status.Reason, r.Lock)
		}
	}
	// Of two free keys, the one taken after the approval decides.
	r = Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Combine([]Lock{stale, released})})
	if r.Status.Phase != v1alpha1.DealExpired {
		t.Errorf("phase %s; want Expired: one of its keys was taken after its approval", r.Status.Phase)
	}
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
			in:        Input{Deal: registration("d1", now.Add(-Settle), withDUNS("123456789")), Partner: partner(resell), Program: program(nil), Lock: Combine([]Lock{{State: LockMine}, {State: LockFree}})},
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

func TestAReviewThatEndsReleasesTheKeyWithoutAProgram(t *testing.T) {
	// A registration under review holds its key while the review is decided.
	// Without its program it must still end when the review ends unapproved
	// (denied, expired or withdrawn): otherwise it holds the key, and blocks
	// the queue behind it, forever.
	underReview := func() *v1alpha1.DealRegistration {
		return registration("d1", now.Add(-time.Hour), inPhase(v1alpha1.DealUnderReview, func(s *v1alpha1.DealRegistrationStatus) {
			s.ConflictKey, s.Request = "global/domain:globex.com/sync", "d1-review-uid-d1"
		}))
	}
	for _, phase := range []v1alpha1.RequestPhase{v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn} {
		t.Run("the review ended "+string(phase), func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: underReview(), Partner: partner(resell), Lock: Lock{State: LockMine}, Review: reviewIn(phase)})
			if r.Status.Phase != v1alpha1.DealRejected || r.Status.Reason != v1alpha1.ReasonDealReviewDenied || r.Lock != Release {
				t.Errorf("phase %s (%s: %s), lock %d; want Rejected (%s), the key released", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, v1alpha1.ReasonDealReviewDenied)
			}
		})
	}
	t.Run("while the review is pending it holds", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: underReview(), Partner: partner(resell), Lock: Lock{State: LockMine}, Review: reviewIn(v1alpha1.PhasePending)})
		if r.Status.Phase != v1alpha1.DealUnderReview || r.Lock == Release {
			t.Errorf("phase %s, lock %d; want UnderReview, held", r.Status.Phase, r.Lock)
		}
	})
}

func TestASuspensionEndsProtectionEvenIfLiftedBeforeItWasSeen(t *testing.T) {
	// The controller may never see a partner suspended: lifted a moment later,
	// or while the registration waited in the queue. The server records when the
	// suspension began (spec.suspendedAt): a registration submitted before it
	// lost its protection then.
	suspendedAt := now.Add(-30 * time.Minute)
	lifted := func() *v1alpha1.Partner {
		p := partner(resell)
		p.Spec.SuspendedAt = &metav1.Time{Time: suspendedAt}
		return p
	}
	approved := func(submitted time.Time) *v1alpha1.DealRegistration {
		return registration("d1", submitted, inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
			s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: submitted}, &metav1.Time{Time: now.Add(24 * time.Hour)}
			s.ConflictKey = "global/domain:globex.com/sync"
		}))
	}
	t.Run("a registration submitted before the suspension lost protection when it began", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: approved(now.Add(-2 * time.Hour)), Partner: lifted(), Program: program(nil), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealExpired || r.Status.Reason != v1alpha1.ReasonDealLostHolder || r.Lock != Release {
			t.Fatalf("phase %s (%s: %s), lock %d; want Expired (%s), released", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock, v1alpha1.ReasonDealLostHolder)
		}
		if !r.Status.ProtectedUntil.Time.Equal(suspendedAt) {
			t.Errorf("protectedUntil %v, want the suspension's start %v", r.Status.ProtectedUntil, suspendedAt)
		}
	})
	t.Run("a win closed during the unseen suspension earns no credit", func(t *testing.T) {
		d := approved(now.Add(-2 * time.Hour))
		won("5000", suspendedAt.Add(time.Minute))(d)
		r := Evaluate(Input{Now: now, Deal: d, Partner: lifted(), Program: program(nil), Lock: Lock{State: LockMine}})
		if r.Status.Attribution != nil {
			t.Errorf("a close after the suspension began is credited: %s (%s)", r.Status.Phase, r.Status.Message)
		}
	})
	t.Run("a registration submitted after the suspension ended is untouched", func(t *testing.T) {
		r := Evaluate(Input{Now: now, Deal: approved(now.Add(-10 * time.Minute)), Partner: lifted(), Program: program(nil), Lock: Lock{State: LockMine}})
		if r.Status.Phase != v1alpha1.DealApproved || r.Lock == Release {
			t.Errorf("phase %s (%s), lock %d; want Approved, held", r.Status.Phase, r.Status.Message, r.Lock)
		}
	})
}

// A holder whose key another registration took through a conflict, and whose
// lock that one's release then deleted, does not take the key back as if the
// lock had been deleted by hand: the registration approved for its key after
// it shows the loss, at that approval (not at a later holder's).
func TestAHolderDoesNotTakeBackAKeyTakenAndReleasedWhileItLooked(t *testing.T) {
	day := 24 * time.Hour
	const key = "global/domain:globex.com/sync"
	d := registration("d1", now.Add(-20*day), inPhase(v1alpha1.DealApproved, func(s *v1alpha1.DealRegistrationStatus) {
		s.ApprovedAt, s.ProtectedUntil = &metav1.Time{Time: now.Add(-10 * day)}, &metav1.Time{Time: now.Add(30 * day)}
		s.ConflictKey, s.ConflictKeys = key, []string{key}
	}))
	taker := func(name string, approved time.Time, phase v1alpha1.DealPhase) v1alpha1.DealRegistration {
		o := waiting(name, now.Add(-15*day), phase)
		o.UID = types.UID("uid-" + name)
		o.Status.ConflictKeys = []string{key}
		o.Status.ApprovedAt = &metav1.Time{Time: approved}
		return o
	}
	b := taker("b", now.Add(-2*day), v1alpha1.DealWon) // took the customer, won and released it
	c := taker("c", now.Add(-1*day), v1alpha1.DealApproved)
	earlier := taker("old", now.Add(-12*day), v1alpha1.DealExpired) // held it before d: took nothing from d
	for name, tc := range map[string]struct {
		lock   Lock
		others []v1alpha1.DealRegistration
	}{
		"the lock deleted by the taker's release":          {Lock{State: LockFree}, []v1alpha1.DealRegistration{earlier, b}},
		"a later holder took the key free after the taker": {Lock{State: LockTaken, Holder: HolderOf(&c), Since: c.Status.ApprovedAt.Time}, []v1alpha1.DealRegistration{b, c}},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: tc.lock, Others: tc.others})
			if r.Status.Phase != v1alpha1.DealExpired || r.Lock == Acquire {
				t.Fatalf("phase %s (%s: %s), lock %d; want Expired, the key not taken back", r.Status.Phase, r.Status.Reason, r.Status.Message, r.Lock)
			}
			if want := b.Status.ApprovedAt.Time; !r.Status.ProtectedUntil.Time.Equal(want) {
				t.Errorf("protectedUntil %v, want the first taker's approval %v", r.Status.ProtectedUntil, want)
			}
		})
	}
	// Nobody approved for its key since: a lock deleted by hand is taken back.
	r := Evaluate(Input{Now: now, Deal: d, Partner: partner(resell), Program: program(nil), Lock: Lock{State: LockFree}, Others: []v1alpha1.DealRegistration{earlier}})
	if r.Status.Phase != v1alpha1.DealApproved || r.Lock != Acquire {
		t.Errorf("phase %s, lock %d; want Approved, taking back a lock deleted by hand", r.Status.Phase, r.Lock)
	}
}
