package tier

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// grants are the unexpired grants of the types this package handles, sorted by
// request name with one grant per request.
type grants []Grant

// handledTypes are the request types whose grants affect tiers and entitlements.
var handledTypes = []v1alpha1.RequestType{
	v1alpha1.RequestTierException,
	v1alpha1.RequestIncentiveException,
	v1alpha1.RequestTierPromotion,
}

// activeGrants keeps the grants of handled types that have not expired at now
// (a grant expires when Expires <= now).
func activeGrants(in []Grant, now time.Time) grants {
	var out grants
	for _, g := range in {
		if !slices.Contains(handledTypes, g.Type) || (g.Expires != nil && !now.Before(*g.Expires)) {
			continue
		}
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b Grant) int { return cmp.Compare(a.Request, b.Request) })
	return slices.CompactFunc(out, func(a, b Grant) bool { return a.Request == b.Request })
}

// ofType returns the grants of one type, in request order.
func (gs grants) ofType(typ v1alpha1.RequestType) []Grant {
	var out []Grant
	for _, g := range gs {
		if g.Type == typ {
			out = append(out, g)
		}
	}
	return out
}

// promotionTo returns the approved TierPromotion grant for tier, if there is one.
func (gs grants) promotionTo(tier string) (Grant, bool) {
	for _, g := range gs.ofType(v1alpha1.RequestTierPromotion) {
		if g.Tier == tier {
			return g, true
		}
	}
	return Grant{}, false
}

// floor returns the highest-rank tier a TierException grants (ties go to the first
// request by name) and that grant; nil when no exception names an existing tier.
func (gs grants) floor(l ladder) (*v1alpha1.PartnerTier, Grant) {
	var best *v1alpha1.PartnerTier
	var bestGrant Grant
	for _, g := range gs.ofType(v1alpha1.RequestTierException) {
		if t := l.byName[g.Tier]; t != nil && rank(t) > rank(best) {
			best, bestGrant = t, g
		}
	}
	return best, bestGrant
}

// status lists the grants as PartnerStatus.Grants does.
func (gs grants) status() []v1alpha1.ActiveGrant {
	if len(gs) == 0 {
		return nil
	}
	out := make([]v1alpha1.ActiveGrant, 0, len(gs))
	for _, g := range gs {
		out = append(out, v1alpha1.ActiveGrant{Request: g.Request, Type: g.Type, Expires: metaTime(g.Expires)})
	}
	return out
}

// metaTime converts an optional instant to the API's representation.
func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	m := metav1.NewTime(*t)
	return &m
}
