package deal

import (
	"slices"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ConflictParties are the holder's side of a conflict over its customer, who
// may decide no stage of the DealConflict request: the holding registration's
// registrant and its partner's relationship owner (holderOwner, "" when
// unknown), sorted and each once. The challenger's side is the request's own:
// it is filed on behalf of the challenger's registrant, and its partner's
// owner is excluded as every request's is. A Direct holder (holder nil) has no
// registrant or owner here.
func ConflictParties(holder *v1alpha1.DealRegistration, holderOwner string) []string {
	var out []string
	if holder != nil && holder.Spec.Registrant != nil && holder.Spec.Registrant.Username != "" {
		out = append(out, holder.Spec.Registrant.Username)
	}
	if holderOwner != "" {
		out = append(out, holderOwner)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
