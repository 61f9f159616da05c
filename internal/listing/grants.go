package listing

import (
	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/effects"
	"github.com/partnergov/partnergov/internal/seal"
)

// GrantsFor returns the approved ListingException requests naming the listing
// called name, from its partner's requests. The controller and the
// `kubectl partnergov simulate` command share it.
// Only approvals that count (effects.Approved) grant.
func GrantsFor(requests []v1alpha1.ExceptionRequest, name string, seals *seal.Keys) []Grant {
	var out []Grant
	for _, q := range requests {
		if q.Spec.Type != v1alpha1.RequestListingException || !effects.Approved(&q, seals) ||
			q.Spec.Grant == nil || q.Spec.Grant.Listing != name {
			continue
		}
		g := Grant{Request: q.Name}
		if q.Spec.Expires != nil {
			t := q.Spec.Expires.Time
			g.Expires = &t
		}
		out = append(out, g)
	}
	return out
}
