package tier

import (
	"cmp"
	"slices"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// requiredEnablement is the training a partner holding tier held must be
// enrolled in: the required tracks of held and of every lower-ranked tier of the
// ladder that is not retired (enablement is cumulative), each once, with the
// lowest-ranked tier that requires it (ties by tier name), sorted by that tier's
// rank and then by track, at most v1alpha1.MaxRequiredTracks of them. Nil when
// the partner holds no tier; no tracks when no tier requires any.
func requiredEnablement(held *v1alpha1.PartnerTier, l ladder) *v1alpha1.PartnerEnablement {
	if held == nil {
		return nil
	}
	type entry struct {
		v1alpha1.RequiredTrack
		rank int32
	}
	byTrack := map[string]entry{}
	for _, t := range l.tiers {
		if t != held && (t.Spec.Rank >= held.Spec.Rank || t.Spec.Retired) {
			continue
		}
		for _, track := range t.Spec.RequiredEnablement {
			prev, seen := byTrack[track.Name]
			if seen && (prev.rank < t.Spec.Rank || (prev.rank == t.Spec.Rank && prev.Tier < t.Name)) {
				continue
			}
			byTrack[track.Name] = entry{v1alpha1.RequiredTrack{Track: track.Name, Tier: t.Name, Description: track.Description}, t.Spec.Rank}
		}
	}
	entries := make([]entry, 0, len(byTrack))
	for _, e := range byTrack {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.Tier, b.Tier), cmp.Compare(a.Track, b.Track))
	})
	out := &v1alpha1.PartnerEnablement{Tier: held.Name}
	for i, e := range entries {
		if i == v1alpha1.MaxRequiredTracks {
			out.Omitted = int32(len(entries) - i)
			break
		}
		out.Required = append(out.Required, e.RequiredTrack)
	}
	return out
}
