package tier

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

var testSeals = func() *seal.Keys {
	k, err := seal.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		panic(err)
	}
	return k
}()

// sealed seals every evidence entry and history entry of the input, as the
// webhook and the controller would have.
func sealedInput(opts ...option) Input {
	in := input(opts...)
	in.Partner.UID = "uid-acme"
	in.Seals = testSeals
	for i := range in.Partner.Status.Evidence {
		e := &in.Partner.Status.Evidence[i]
		e.Seal = testSeals.Sign(seal.Evidence("uid-acme", *e)...)
	}
	for i := range in.Partner.Status.History {
		testSeals.NextTier("uid-acme", in.Partner.Status.History[:i], &in.Partner.Status.History[i])
	}
	return in
}

// Decision integrity II, item 6: forged state does not survive.
func TestForgedStateDoesNotCount(t *testing.T) {
	unsealed := func(metric string) option {
		return func(in *Input) {
			for i := range in.Partner.Status.Evidence {
				if in.Partner.Status.Evidence[i].Metric == metric {
					in.Partner.Status.Evidence[i].Seal = "v1.forged"
				}
			}
		}
	}
	runSettling(t, map[string]scenario{
		"sealed evidence counts and the decision is sealed": {
			in: sealedInput(withEvidence(goldEvidence()...)),
			want: want{tier: "gold", qualified: "gold", decision: "- -> gold: Promoted", next: at(29 * day),
				check: func(t *testing.T, _ Input, r Result) {
					if h := r.Status.History; !testSeals.TierSealed("uid-acme", h, len(h)-1) {
						t.Errorf("the decision's seal %q does not verify", r.Decision.Seal)
					}
				}},
		},
		"evidence written past the webhook does not count": {
			in: func() Input {
				in := sealedInput(withEvidence(goldEvidence()...))
				unsealed(revenue)(&in)
				return in
			}(),
			want: want{tier: "registered", qualified: "registered", decision: "- -> registered: Promoted", next: at(29 * day),
				conditions: map[string]string{v1alpha1.ConditionEvidenceTrusted: "False/UntrustedEvidence"},
				messages:   map[string][]string{v1alpha1.ConditionEvidenceTrusted: {"metric sourced-revenue", "not sealed"}}},
		},
		"a tier no sealed decision gave is recomputed at once, without grace": {
			in: func() Input {
				in := sealedInput(withEvidence(silverEvidence()...))
				holding("platinum")(&in) // written past the webhooks, no history
				return in
			}(),
			want: want{tier: "silver", qualified: "silver", decision: "platinum -> silver: UnexplainedTier", next: at(89 * day)},
		},
		"a forged tier the evidence supports is re-sealed, not changed": {
			in: func() Input {
				in := sealedInput(withEvidence(goldEvidence()...))
				holding("gold")(&in)
				return in
			}(),
			want: want{tier: "gold", qualified: "gold", decision: "gold -> gold: UnexplainedTier", next: at(29 * day)},
		},
		"a tier a sealed decision gave stands": {
			in:   sealedInput(holding("gold"), withEvidence(goldEvidence()...), enteredBy("gold", v1alpha1.ReasonPromoted)),
			want: want{tier: "gold", qualified: "gold", next: at(29 * day)},
		},
	})
}

// Decision integrity III, item 6: a TierException request whose Approved phase
// no sealed decisions explain grants no tier, and the engine seals no decision
// for it.
func TestAForgedApprovalGrantsNoTier(t *testing.T) {
	exception := func(decided bool) v1alpha1.ExceptionRequest {
		q := v1alpha1.ExceptionRequest{
			Spec: v1alpha1.ExceptionRequestSpec{Type: v1alpha1.RequestTierException, Partner: "acme",
				Grant: &v1alpha1.Grant{Tier: "gold"}, Requester: &v1alpha1.UserInfo{Username: "rep"}},
			Status: v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved,
				ReviewPath: &v1alpha1.ResolvedReviewPath{Name: "exceptions", Stages: []v1alpha1.ReviewStage{{Name: "manager", Quorum: 1}}}},
		}
		q.Name, q.UID = "acme-gold", "uid-q"
		q.Status.ReviewPath.Seal = testSeals.Sign(seal.Path("uid-q", *q.Status.ReviewPath)...)
		if decided {
			d := v1alpha1.ReviewDecision{Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "ok", Reviewer: "boss", Generation: 1}
			d.Seal = testSeals.Sign(seal.Decision("uid-q", 0, d)...)
			q.Status.Decisions = []v1alpha1.ReviewDecision{d}
			o := v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Time: metav1.NewTime(now), Reason: v1alpha1.ReasonQuorumReached}
			o.Seal = testSeals.Sign(seal.RequestOutcome("uid-q", o)...)
			q.Status.Outcome = &o
		}
		return q
	}
	for name, tc := range map[string]struct {
		decided bool
		tier    string
	}{
		"an Approved phase no sealed decision explains grants nothing": {decided: false, tier: "registered"},
		"an approval its sealed decisions explain grants the tier":     {decided: true, tier: "gold"},
	} {
		t.Run(name, func(t *testing.T) {
			in := sealedInput()
			in.Grants = GrantsFrom([]v1alpha1.ExceptionRequest{exception(tc.decided)}, testSeals)
			r := Evaluate(in)
			if r.Status.Tier != tc.tier {
				t.Errorf("tier = %q, want %q (grants %+v)", r.Status.Tier, tc.tier, in.Grants)
			}
			if !tc.decided && r.Decision != nil && r.Decision.Request == "acme-gold" {
				t.Errorf("the engine sealed a decision for a forged approval: %s", describeDecision(r.Decision))
			}
		})
	}
}

// Decision integrity III, item 7: a sealed decision has one place in history.
// Each tier decision's seal binds its sequence and its predecessor's seal, so an
// older sealed decision replayed as the newest entry explains nothing.
func TestASealedTierDecisionHasOnePlaceInHistory(t *testing.T) {
	const uid = "uid-acme"
	decision := func(from, to, reason string, ago time.Duration) v1alpha1.TierDecision {
		return v1alpha1.TierDecision{Time: metav1.NewTime(now.Add(-ago)), From: from, To: to, Reason: reason}
	}
	chain := func(ds ...v1alpha1.TierDecision) []v1alpha1.TierDecision {
		var h []v1alpha1.TierDecision
		for _, d := range ds {
			testSeals.NextTier(uid, h, &d)
			h = append(h, d)
		}
		return h
	}
	legacy := func(ds ...v1alpha1.TierDecision) []v1alpha1.TierDecision {
		for i := range ds {
			ds[i].Seal = testSeals.Sign(seal.Tier(uid, ds[i], "")...)
		}
		return ds
	}
	promoted := decision("", "gold", v1alpha1.ReasonPromoted, 100*day)
	demoted := decision("gold", "silver", v1alpha1.ReasonDemoted, 10*day)
	real := chain(promoted, demoted)
	replayed := append(slices.Clone(real), real[0])
	old := legacy(promoted, demoted)
	for name, tc := range map[string]struct {
		history []v1alpha1.TierDecision
		tier    string
		want    bool
	}{
		"the newest sealed decision explains the tier":                     {history: real, tier: "silver", want: true},
		"an older sealed decision replayed as the newest explains nothing": {history: replayed, tier: "gold", want: false},
		"a decision moved out of its place explains nothing":               {history: []v1alpha1.TierDecision{real[1], real[0]}, tier: "gold", want: false},
		// Issue 28: a decision carries its predecessor's seal, so it explains
		// the tier alone; one sealed before it did cannot be placed alone.
		"a decision whose predecessor was dropped explains the tier by its previousSeal": {history: real[1:], tier: "silver", want: true},
		"a decision without previousSeal whose predecessor was dropped explains nothing": {history: []v1alpha1.TierDecision{withoutPreviousSeal(real[1])}, tier: "silver", want: false},
		// Adoption chains decisions sealed before chaining (seal.Keys.AdoptPartner);
		// once it ended, one left unchained explains nothing.
		"a decision sealed before chaining explains nothing once adoption ended": {history: old, tier: "silver", want: false},
		"an older decision sealed before chaining replayed as the newest":        {history: append(slices.Clone(old), old[0]), tier: "gold", want: false},
		"a decision sealed before chaining replayed after a chained one explains nothing": {
			history: append(chain(promoted, demoted), old[0]), tier: "gold", want: false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := TierExplained(testSeals, uid, tc.tier, tc.history); got != tc.want {
				t.Errorf("TierExplained = %v, want %v", got, tc.want)
			}
		})
	}
	// The engine recomputes a tier the replay claims, with no grace.
	in := sealedInput(withEvidence(silverEvidence()...))
	in.Partner.Status.Tier, in.Partner.Status.History = "gold", replayed
	if r := Evaluate(in); r.Status.Tier != "silver" || r.Decision == nil || r.Decision.Reason != v1alpha1.ReasonUnexplainedTier {
		t.Errorf("tier %q, decision %s; want silver through UnexplainedTier", r.Status.Tier, describeDecision(r.Decision))
	}
}

// Decision integrity III, item 7: a TierPromotion grant's applied and spent
// marks are sealed; a status that lost them (written past the webhooks) gets
// them back from the sealed tier history, so a spent approval does not promote
// the partner again without a new review.
func TestAStatusThatLosesTheSpentMarkDoesNotPromoteAgain(t *testing.T) {
	const uid = "uid-acme"
	var history []v1alpha1.TierDecision
	for _, d := range []v1alpha1.TierDecision{
		{Time: metav1.NewTime(now.Add(-200 * day)), To: "gold", Reason: v1alpha1.ReasonPromoted},
		{Time: metav1.NewTime(now.Add(-100 * day)), From: "gold", To: "platinum", Reason: v1alpha1.ReasonPromoted, Request: "acme-promote-platinum"},
		{Time: metav1.NewTime(now.Add(-10 * day)), From: "platinum", To: "gold", Reason: v1alpha1.ReasonDemoted},
	} {
		testSeals.NextTier(uid, history, &d)
		history = append(history, d)
	}
	spent := v1alpha1.ActiveGrant{Request: "acme-promote-platinum", Type: v1alpha1.RequestTierPromotion, Tier: "platinum",
		AppliedAt: mt(-100 * day), SpentAt: mt(-10 * day)}
	lost := spent
	lost.SpentAt = nil
	sealedGrant := func(g v1alpha1.ActiveGrant) v1alpha1.ActiveGrant {
		g.Seal = testSeals.Sign(seal.Grant(uid, g)...)
		return g
	}
	forgedLost := lost
	forgedLost.Seal = sealedGrant(spent).Seal // the seal of the entry before the spent mark was removed
	for name, stored := range map[string][]v1alpha1.ActiveGrant{
		"the sealed spent mark holds":                             {sealedGrant(spent)},
		"a status that lost the entry re-derives the spent mark":  nil,
		"a status that lost the spent mark re-derives it":         {forgedLost},
		"an unsealed entry without the spent mark does not count": {lost},
	} {
		t.Run(name, func(t *testing.T) {
			in := sealedInput(holding("gold"), withEvidence(platinumEvidence()...),
				withGrant(tierPromotion("acme-promote-platinum", "platinum", at(300*day))))
			in.Partner.Status.History, in.Partner.Status.Grants = history, stored
			r := Evaluate(in)
			if r.Status.Tier != "gold" || r.Decision != nil {
				t.Fatalf("tier %q, decision %s: a spent approval promoted the partner again", r.Status.Tier, describeDecision(r.Decision))
			}
			if r.PromotionRequest != "platinum" {
				t.Errorf("promotion request = %q, want a new review for platinum", r.PromotionRequest)
			}
			g := r.Status.Grants
			if len(g) != 1 || g[0].SpentAt == nil || !testSeals.Verify(g[0].Seal, seal.Grant(uid, g[0])...) {
				t.Errorf("grants = %+v, want the approval marked spent, sealed", g)
			}
		})
	}
}

// withoutPreviousSeal is d as sealed before decisions carried their predecessor's seal.
func withoutPreviousSeal(d v1alpha1.TierDecision) v1alpha1.TierDecision {
	d.PreviousSeal = ""
	return d
}
