package tier

import (
	"cmp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// activeGrant is a grant in force with what the stored status remembers of it.
type activeGrant struct {
	Grant
	// appliedAt and spentAt come from the stored status (TierPromotion only): when
	// the promotion took effect, and when the partner dropped below its tier again.
	appliedAt, spentAt *metav1.Time
}

// grants are the unexpired grants of the types this package handles, sorted by
// request name with one grant per request.
type grants []activeGrant

// handledTypes are the request types whose grants affect tiers and entitlements.
var handledTypes = []v1alpha1.RequestType{
	v1alpha1.RequestTierException,
	v1alpha1.RequestIncentiveException,
	v1alpha1.RequestTierPromotion,
}

// activeGrants keeps the grants of handled types that have not expired at now
// (a grant expires when Expires <= now), with what the partner's stored status
// remembers of each: the applied and spent marks of a TierPromotion. With
// sealing on, stored marks count only when their seal verifies, and the sealed
// tier history adds what it shows (promotionMarks), so a status that lost a
// mark does not promote again without review.
func activeGrants(in []Grant, p *v1alpha1.Partner, seals *seal.Keys, l ladder, now time.Time) grants {
	var out grants
	stored := p.Status.Grants
	for _, g := range in {
		if !slices.Contains(handledTypes, g.Type) || (g.Expires != nil && !now.Before(*g.Expires)) {
			continue
		}
		a := activeGrant{Grant: g}
		if g.Type == v1alpha1.RequestTierPromotion {
			if i := slices.IndexFunc(stored, func(s v1alpha1.ActiveGrant) bool { return s.Request == g.Request }); i >= 0 &&
				seals.Verify(stored[i].Seal, seal.Grant(string(p.UID), stored[i])...) {
				a.appliedAt, a.spentAt = stored[i].AppliedAt.DeepCopy(), stored[i].SpentAt.DeepCopy()
			}
			if seals.On() {
				applied, spent := promotionMarks(g, p, seals, l)
				a.appliedAt, a.spentAt = earlier(a.appliedAt, applied), earlier(a.spentAt, spent)
			}
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b activeGrant) int { return cmp.Compare(a.Request, b.Request) })
	return slices.CompactFunc(out, func(a, b activeGrant) bool { return a.Request == b.Request })
}

// promotionMarks re-derives a TierPromotion grant's marks from the partner's
// sealed tier history: applied by the sealed decision that promoted the partner
// with it, spent by a later sealed decision that moved the partner below its
// tier. Nil for what the history does not show (it keeps the newest
// v1alpha1.MaxHistory decisions).
func promotionMarks(g Grant, p *v1alpha1.Partner, seals *seal.Keys, l ladder) (applied, spent *metav1.Time) {
	h := p.Status.History
	target := l.byName[g.Tier]
	for i := range h {
		if !seals.TierSealed(string(p.UID), h, i) {
			continue
		}
		switch {
		case applied == nil && h[i].Request == g.Request && h[i].Reason == v1alpha1.ReasonPromoted && h[i].To == g.Tier:
			applied = h[i].Time.DeepCopy()
		case applied != nil && (target == nil || rank(l.byName[h[i].To]) < rank(target)):
			return applied, h[i].Time.DeepCopy()
		}
	}
	return applied, nil
}

// earlier returns the earlier of two optional marks.
func earlier(a, b *metav1.Time) *metav1.Time {
	if a == nil || (b != nil && b.Before(a)) {
		return b
	}
	return a
}

// ofType returns the grants of one type, in request order.
func (gs grants) ofType(typ v1alpha1.RequestType) []Grant {
	var out []Grant
	for _, g := range gs {
		if g.Type == typ {
			out = append(out, g.Grant)
		}
	}
	return out
}

// promotionTo returns the approved TierPromotion grant for tier that is not yet
// spent, if there is one: an approval authorizes the promotion it was opened for
// once; after the partner dropped below the tier, a new review is needed.
func (gs grants) promotionTo(tier string) (Grant, bool) {
	for _, g := range gs {
		if g.Type == v1alpha1.RequestTierPromotion && g.Tier == tier && g.spentAt == nil {
			return g.Grant, true
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

// maxGrants is the API's bound on PartnerStatus.Grants.
const maxGrants = 64

// status lists the grants as PartnerStatus.Grants does. A TierPromotion grant is
// marked applied when o promoted the partner with it, and spent once the partner,
// having been promoted with it, holds a lower tier than it authorized.
//
// With sealing on every entry is sealed (seal.Grant), so its marks count again.
func (gs grants) status(o outcome, l ladder, now metav1.Time, seals *seal.Keys, uid string) []v1alpha1.ActiveGrant {
	if len(gs) == 0 {
		return nil
	}
	out := make([]v1alpha1.ActiveGrant, 0, len(gs))
	for _, g := range gs {
		a := v1alpha1.ActiveGrant{Request: g.Request, Type: g.Type, Expires: metaTime(g.Expires), Tier: g.Tier,
			AppliedAt: g.appliedAt.DeepCopy(), SpentAt: g.spentAt.DeepCopy()}
		if g.Type == v1alpha1.RequestTierPromotion {
			if a.AppliedAt == nil && o.request == g.Request && o.reason == v1alpha1.ReasonPromoted {
				a.AppliedAt = now.DeepCopy()
			}
			if t := l.byName[g.Tier]; a.AppliedAt != nil && a.SpentAt == nil && t != nil && rank(o.held) < rank(t) {
				a.SpentAt = now.DeepCopy()
			}
		}
		a.Seal = seals.Sign(seal.Grant(uid, a)...)
		out = append(out, a)
	}
	return boundGrants(out)
}

// boundGrants keeps status.grants within the API's bound, so the controller's
// write is never refused: the entries that carry state the engine reads back
// (TierPromotion's applied and spent marks, the TierException that holds a tier)
// come first, then IncentiveExceptions, each by request name. A grant left off the
// list still grants: entitlements are computed from the approved requests.
func boundGrants(out []v1alpha1.ActiveGrant) []v1alpha1.ActiveGrant {
	if len(out) <= maxGrants {
		return out
	}
	order := map[v1alpha1.RequestType]int{v1alpha1.RequestTierPromotion: 0, v1alpha1.RequestTierException: 1}
	priority := func(t v1alpha1.RequestType) int {
		if p, ok := order[t]; ok {
			return p
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b v1alpha1.ActiveGrant) int { return cmp.Compare(priority(a.Type), priority(b.Type)) })
	out = out[:maxGrants]
	slices.SortStableFunc(out, func(a, b v1alpha1.ActiveGrant) int { return cmp.Compare(a.Request, b.Request) })
	return out
}

// lapsedException returns the TierException request that held the partner at its
// stored tier and is no longer in force (expired, or its request gone), if any.
func (gs grants) lapsedException(stored []v1alpha1.ActiveGrant, tier string) (string, bool) {
	for _, s := range stored {
		if s.Type != v1alpha1.RequestTierException || s.Tier == "" || s.Tier != tier {
			continue
		}
		if !slices.ContainsFunc(gs, func(g activeGrant) bool { return g.Request == s.Request }) {
			return s.Request, true
		}
	}
	return "", false
}

// metaTime converts an optional instant to the API's representation.
func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	m := metav1.NewTime(*t)
	return &m
}
