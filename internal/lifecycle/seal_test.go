package lifecycle

import (
	"slices"
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// TestAForgedLifecyclePhaseGrantsNothing: the controller seals the lifecycle
// it decides (phase, since, onboardedAt, the steps, what it withholds, the
// transitions). A stored lifecycle written past the webhooks (a partner with
// an overdue step set Active, onboarded and its steps met, with no seal or
// one under another key) counts for nothing: the partner is decided as one
// with no stored lifecycle, so it stays on probation with Resell and Funds
// withheld, no forged transition is kept, and the result says the stored one
// was unsealed. A lifecycle the controller sealed stands; with sealing off the
// stored one is read as before; while adopting, one without a seal counts.
func TestAForgedLifecyclePhaseGrantsNothing(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	other, _ := seal.New([]byte(strings.Repeat("o", 32)))
	now := joined.Add(45 * day) // the certification was due at day 30 and is not met
	forged := func(k *seal.Keys) *v1alpha1.Partner {
		p := partner()
		lc := stored(v1alpha1.LifecycleActive, joined.Add(40*day),
			step("sales-certification", v1alpha1.OnboardingStepMet, 30*day, at(joined.Add(10*day))),
			step("security-review", v1alpha1.OnboardingStepMet, 60*day, at(joined.Add(10*day))))
		lc.OnboardedAt = at(joined.Add(10 * day))
		lc.Transitions = []v1alpha1.LifecycleTransition{{Time: *at(joined.Add(40 * day)), From: v1alpha1.LifecycleProbation, To: v1alpha1.LifecycleActive, Reason: v1alpha1.ReasonProbationLifted}}
		lc.Seal = k.Sign(seal.Lifecycle(string(p.UID), *lc)...)
		p.Status.Lifecycle = lc
		return p
	}
	for name, tc := range map[string]struct {
		partner   *v1alpha1.Partner
		seals     *seal.Keys
		adopting  bool
		wantPhase v1alpha1.LifecyclePhase
		unsealed  bool
	}{
		"a forged lifecycle without a seal grants nothing":    {partner: forged(nil), seals: keys, wantPhase: v1alpha1.LifecycleProbation, unsealed: true},
		"a lifecycle sealed under another key grants nothing": {partner: forged(other), seals: keys, wantPhase: v1alpha1.LifecycleProbation, unsealed: true},
		"the lifecycle the controller sealed stands":          {partner: forged(keys), seals: keys, wantPhase: v1alpha1.LifecycleActive},
		"while adopting a lifecycle without a seal counts":    {partner: forged(nil), seals: keys, adopting: true, wantPhase: v1alpha1.LifecycleActive},
		"with sealing off the stored lifecycle counts":        {partner: forged(nil), seals: nil, wantPhase: v1alpha1.LifecycleActive},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.seals != nil {
				tc.seals.SetAdopting(tc.adopting)
				defer tc.seals.SetAdopting(false)
			}
			status := &v1alpha1.PartnerStatus{Entitlements: held()}
			res := Apply(Input{Now: now, Partner: tc.partner, Program: program(), Seals: tc.seals}, status)
			lc := status.Lifecycle
			if lc.Phase != tc.wantPhase || res.Unsealed != tc.unsealed {
				t.Fatalf("phase %s (unsealed %v), want %s (unsealed %v): %s", lc.Phase, res.Unsealed, tc.wantPhase, tc.unsealed, lc.Message)
			}
			if !tc.seals.Verify(lc.Seal, seal.Lifecycle(string(tc.partner.UID), *lc)...) {
				t.Errorf("the decided lifecycle is not sealed")
			}
			if !tc.unsealed {
				return
			}
			if lc.OnboardedAt != nil {
				t.Errorf("onboardedAt %v kept from a forged lifecycle", lc.OnboardedAt)
			}
			var names []v1alpha1.EntitlementName
			for _, e := range status.Entitlements {
				names = append(names, e.Name)
			}
			if slices.Contains(names, v1alpha1.EntitlementResell) || slices.Contains(names, v1alpha1.EntitlementFunds) {
				t.Errorf("entitlements %v: a forged lifecycle lifted probation", names)
			}
			for _, tr := range lc.Transitions {
				if tr.Reason == v1alpha1.ReasonProbationLifted {
					t.Errorf("the forged transition %+v is kept", tr)
				}
			}
		})
	}
	var off *seal.Keys
	if !off.LifecycleSealed(forged(nil)) || keys.LifecycleSealed(forged(nil)) || !keys.LifecycleSealed(partner()) {
		t.Errorf("LifecycleSealed: sealing off accepts, a forged lifecycle is refused, none at all is fine")
	}
}
