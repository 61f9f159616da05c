package tier

import (
	"fmt"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// The deletion rules of PartnerPrograms and PartnerTiers, shared by the admission
// webhooks and `kubectl partnergov simulate --prune`. Each returns why deleting
// the object would be refused, or "" when the deletion is allowed.

// ProgramDeletionRefusal says why deleting the PartnerProgram named program would
// be refused, or "" when it is allowed: it is refused while any PartnerTier or
// Partner names it in spec.program. tiers and partners are the objects to check
// (the live ones, or those a proposed configuration leaves); only those that
// reference the program are counted.
func ProgramDeletionRefusal(program string, tiers []v1alpha1.PartnerTier, partners []v1alpha1.Partner) string {
	var nTiers, nPartners int
	for i := range tiers {
		if tiers[i].Spec.Program == program {
			nTiers++
		}
	}
	for i := range partners {
		if partners[i].Spec.Program == program {
			nPartners++
		}
	}
	var by string
	switch {
	case nTiers > 0 && nPartners > 0:
		by = deletionCount(nTiers, "PartnerTier") + " and " + deletionCount(nPartners, "Partner")
	case nTiers > 0:
		by = deletionCount(nTiers, "PartnerTier")
	case nPartners > 0:
		by = deletionCount(nPartners, "Partner")
	default:
		return ""
	}
	them := "them"
	if nTiers+nPartners == 1 {
		them = "it"
	}
	return fmt.Sprintf("PartnerProgram %q is referenced by %s; move or delete %s first", program, by, them)
}

// TierDeletionRefusal says why deleting the PartnerTier t would be refused, or ""
// when it is allowed: it is refused while any of partners holds it
// (status.tier is its name). Such a tier is retired first and deleted once drained.
func TierDeletionRefusal(t v1alpha1.PartnerTier, partners []v1alpha1.Partner) string {
	holders := 0
	for i := range partners {
		if partners[i].Status.Tier == t.Name {
			holders++
		}
	}
	if holders == 0 {
		return ""
	}
	return fmt.Sprintf("PartnerTier %q is held by %s; set spec.retired: true to drain it "+
		"(holders keep it for its demotion grace period, nobody new qualifies), then delete it once none holds it",
		t.Name, deletionCount(holders, "Partner"))
}

// deletionCount writes n with the kind, plural unless n is 1.
func deletionCount(n int, kind string) string {
	if n == 1 {
		return "1 " + kind
	}
	return fmt.Sprintf("%d %ss", n, kind)
}
