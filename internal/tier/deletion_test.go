package tier_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/tier"
)

func deletionTier(name, program string) v1alpha1.PartnerTier {
	return v1alpha1.PartnerTier{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.PartnerTierSpec{Program: program}}
}

func deletionPartner(ns, name, program, held string) v1alpha1.Partner {
	return v1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.PartnerSpec{Program: program}, Status: v1alpha1.PartnerStatus{Tier: held}}
}

func TestProgramDeletionRefusal(t *testing.T) {
	tiers := func(programs ...string) []v1alpha1.PartnerTier {
		var out []v1alpha1.PartnerTier
		for i, p := range programs {
			out = append(out, deletionTier(string(rune('a'+i)), p))
		}
		return out
	}
	partners := func(programs ...string) []v1alpha1.Partner {
		var out []v1alpha1.Partner
		for i, p := range programs {
			out = append(out, deletionPartner("ns", string(rune('a'+i)), p, ""))
		}
		return out
	}
	for name, tc := range map[string]struct {
		tiers    []v1alpha1.PartnerTier
		partners []v1alpha1.Partner
		want     string
	}{
		"nothing references it": {
			tiers: tiers("other"), partners: partners("other", "other"),
		},
		"no tiers and no partners at all": {},
		"tiers and partners reference it, only they are counted": {
			tiers:    tiers("global", "other", "global", "global", "global"),
			partners: append(partners("global", "other"), partners("global", "global", "global", "global", "global", "global", "global", "global", "global", "global", "global")...),
			want:     `PartnerProgram "global" is referenced by 4 PartnerTiers and 12 Partners; move or delete them first`,
		},
		"only tiers reference it": {
			tiers: tiers("global", "global"), partners: partners("other"),
			want: `PartnerProgram "global" is referenced by 2 PartnerTiers; move or delete them first`,
		},
		"only partners reference it": {
			partners: partners("global", "global", "global"),
			want:     `PartnerProgram "global" is referenced by 3 Partners; move or delete them first`,
		},
		"one tier": {
			tiers: tiers("global"),
			want:  `PartnerProgram "global" is referenced by 1 PartnerTier; move or delete it first`,
		},
		"one tier and one partner": {
			tiers: tiers("global"), partners: partners("global"),
			want: `PartnerProgram "global" is referenced by 1 PartnerTier and 1 Partner; move or delete them first`,
		},
		"a partner holding a tier of the program but naming another program does not count": {
			partners: []v1alpha1.Partner{deletionPartner("ns", "moved", "other", "gold")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tier.ProgramDeletionRefusal("global", tc.tiers, tc.partners); got != tc.want {
				t.Fatalf("ProgramDeletionRefusal:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestTierDeletionRefusal(t *testing.T) {
	gold := deletionTier("gold", "global")
	for name, tc := range map[string]struct {
		partners []v1alpha1.Partner
		want     string
	}{
		"nobody holds it": {
			partners: []v1alpha1.Partner{deletionPartner("a", "p", "global", "silver"), deletionPartner("a", "q", "global", "")},
		},
		"no partners at all": {},
		"holders in several namespaces are all counted": {
			partners: []v1alpha1.Partner{
				deletionPartner("a", "p", "global", "gold"), deletionPartner("b", "p", "global", "gold"),
				deletionPartner("b", "q", "global", "silver"), deletionPartner("c", "r", "global", "gold"),
			},
			want: `PartnerTier "gold" is held by 3 Partners; set spec.retired: true to drain it (holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it`,
		},
		"one holder": {
			partners: []v1alpha1.Partner{deletionPartner("a", "p", "global", "gold")},
			want:     `PartnerTier "gold" is held by 1 Partner; set spec.retired: true to drain it (holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it`,
		},
		"a partner that only qualifies for it does not hold it": {
			partners: []v1alpha1.Partner{{Spec: v1alpha1.PartnerSpec{Program: "global"},
				Status: v1alpha1.PartnerStatus{Tier: "silver", QualifiedTier: "gold"}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tier.TierDeletionRefusal(gold, tc.partners); got != tc.want {
				t.Fatalf("TierDeletionRefusal:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
