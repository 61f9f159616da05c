package tier

import (
	"strings"
	"testing"

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
		h := &in.Partner.Status.History[i]
		h.Seal = testSeals.Sign(seal.Tier("uid-acme", *h)...)
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
					if !testSeals.Verify(r.Decision.Seal, seal.Tier("uid-acme", *r.Decision)...) {
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
		if decided {
			d := v1alpha1.ReviewDecision{Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "ok", Reviewer: "boss", Generation: 1}
			d.Seal = testSeals.Sign(seal.Decision("uid-q", 0, d)...)
			q.Status.Decisions = []v1alpha1.ReviewDecision{d}
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
