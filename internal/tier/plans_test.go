package tier

import (
	"slices"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// goldNeedsPlan is gold requiring an approved, current joint business plan.
func goldNeedsPlan() v1alpha1.PartnerTier {
	t := gold()
	t.Spec.RequiresBusinessPlan = true
	return t
}

func withPlan(name string) option { return func(in *Input) { in.CurrentPlan = name } }

func planScenarios() map[string]scenario {
	tiers := withTiers(registered(), silver(), goldNeedsPlan(), platinum())
	return map[string]scenario{
		"a tier requiring a plan holds a partner without one at the tier below": {
			in: input(holding("silver"), tiers, withEvidence(goldEvidence()...)),
			want: want{
				tier: "silver", qualified: "silver", next: at(29 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/BusinessPlanRequired"}),
				messages: map[string][]string{v1alpha1.ConditionPromotionPending: {
					"tier gold, which requires an approved, current joint business plan", "no higher than tier silver"}},
			},
		},
		"an approved, current plan lets the partner into the tier": {
			in: input(holding("silver"), tiers, withEvidence(goldEvidence()...), withPlan("acme-2026")),
			want: want{
				tier: "gold", qualified: "gold", decision: "silver -> gold: Promoted", next: at(29 * day),
				conditions: settled(nil),
			},
		},
		"a tier without requiresBusinessPlan needs no plan": {
			in: input(holding("silver"), withEvidence(goldEvidence()...)),
			want: want{
				tier: "gold", qualified: "gold", decision: "silver -> gold: Promoted", next: at(29 * day),
				conditions: settled(nil),
			},
		},
		"a plan does not stand in for evidence": {
			in: input(holding("silver"), tiers, withEvidence(silverEvidence()...), withPlan("acme-2026")),
			want: want{
				tier: "silver", qualified: "silver", next: at(89 * day),
				conditions: settled(nil),
			},
		},
		"a holder whose plan lapses keeps the tier for its grace period, told why": {
			in: input(holding("gold"), tiers, withEvidence(goldEvidence()...)),
			want: want{
				tier: "gold", qualified: "silver", deadline: at(10 * day), next: at(10 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionTierAtRisk: "True/BusinessPlanRequired"}),
				messages:   map[string][]string{v1alpha1.ConditionTierAtRisk: {"requires an approved, current joint business plan"}},
			},
		},
		"the grace period over, a holder without a plan drops to the tier below": {
			in: input(holding("gold"), tiers, withEvidence(goldEvidence()...), withDeadline(-day)),
			want: want{
				tier: "silver", qualified: "silver", decision: "gold -> silver: Demoted", next: at(29 * day),
				conditions: settled(map[string]string{v1alpha1.ConditionPromotionPending: "True/BusinessPlanRequired"}),
			},
		},
	}
}

func TestBusinessPlanRequirement(t *testing.T) {
	for name, tc := range planScenarios() {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(tc.in)
			assertResult(t, tc.in, tc.want, r)
			if tc.want.check != nil {
				tc.want.check(t, tc.in, r)
			}
		})
	}
}

func track(name string) v1alpha1.EnablementTrack { return v1alpha1.EnablementTrack{Name: name} }

func enablementTiers() option {
	reg, sil, gol, pla := registered(), silver(), gold(), platinum()
	reg.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{track("partner-basics")}
	sil.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{track("sales-foundations"), {Name: "partner-basics", Description: "again"}}
	gol.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{track("solution-architect"), track("delivery-methodology")}
	pla.Spec.RequiredEnablement = []v1alpha1.EnablementTrack{track("executive-alignment")}
	return withTiers(gol, reg, pla, sil)
}

func TestRequiredEnablement(t *testing.T) {
	for name, tc := range map[string]struct {
		in   Input
		tier string
		want []string // "track@tier" in order; nil for no status.enablement
	}{
		"a partner without a tier must be enrolled in nothing": {
			in: input(enablementTiers(), withTiers()), want: nil,
		},
		"the entry tier's tracks": {
			in: input(enablementTiers()), tier: "registered", want: []string{"partner-basics@registered"},
		},
		"a promotion adds the new tier's tracks to the lower tiers'": {
			in: input(enablementTiers(), holding("silver"), withEvidence(goldEvidence()...)), tier: "gold",
			want: []string{"partner-basics@registered", "sales-foundations@silver", "delivery-methodology@gold", "solution-architect@gold"},
		},
		"a demotion drops the higher tier's tracks": {
			in: input(enablementTiers(), holding("gold"), withEvidence(silverEvidence()...), withDeadline(-day)), tier: "silver",
			want: []string{"partner-basics@registered", "sales-foundations@silver"},
		},
		"a retired lower tier's tracks are no longer required": {
			in: func() Input {
				in := input(enablementTiers(), holding("silver"), withEvidence(silverEvidence()...))
				for i := range in.Tiers {
					if in.Tiers[i].Name == "registered" {
						in.Tiers[i].Spec.Retired = true
					}
				}
				return in
			}(),
			tier: "silver", want: []string{"partner-basics@silver", "sales-foundations@silver"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := Evaluate(tc.in)
			if r.Status.Tier != tc.tier {
				t.Fatalf("tier = %q, want %q", r.Status.Tier, tc.tier)
			}
			e := r.Status.Enablement
			if tc.want == nil {
				if e != nil {
					t.Errorf("enablement = %+v, want none", e)
				}
				return
			}
			if e == nil {
				t.Fatalf("enablement missing, want %q", tc.want)
			}
			var got []string
			for _, rt := range e.Required {
				got = append(got, rt.Track+"@"+rt.Tier)
			}
			if !slices.Equal(got, tc.want) || e.Tier != tc.tier {
				t.Errorf("enablement = %q for %q, want %q for %q", got, e.Tier, tc.want, tc.tier)
			}
		})
	}
}

func TestRequiredEnablementStaysWithinItsBound(t *testing.T) {
	reg := registered()
	for i := range 70 {
		reg.Spec.RequiredEnablement = append(reg.Spec.RequiredEnablement, track("t"+string(rune('a'+i/26))+string(rune('a'+i%26))))
	}
	r := Evaluate(input(withTiers(reg)))
	e := r.Status.Enablement
	if e == nil || len(e.Required) != v1alpha1.MaxRequiredTracks || e.Omitted != 70-v1alpha1.MaxRequiredTracks {
		t.Fatalf("enablement = %d listed, %v omitted; want %d and %d", len(e.Required), e.Omitted, v1alpha1.MaxRequiredTracks, 70-v1alpha1.MaxRequiredTracks)
	}
}
