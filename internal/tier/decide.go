package tier

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// defaultGracePeriod applies when a tier sets no demotionGracePeriod (the API default).
const defaultGracePeriod = 720 * time.Hour

// outcome is what the tier rules (5 to 7) decide for one evaluation.
type outcome struct {
	// held is the tier the partner holds afterwards; nil for none.
	held *v1alpha1.PartnerTier
	// qualified is the highest tier the counted evidence qualifies for; nil for none.
	qualified *v1alpha1.PartnerTier
	// pending is the highest qualified tier above held waiting for review; nil for none.
	pending *v1alpha1.PartnerTier
	// deadline is the demotion deadline while a demotion is pending.
	deadline *metav1.Time
	// floor is the tier a TierException keeps the partner at, and its grant.
	floor      *v1alpha1.PartnerTier
	floorGrant Grant
	// reason and request explain the last move of held (empty when held did not move).
	reason, request string
	// demotedAt is the deadline that passed, for a Demoted decision.
	demotedAt *metav1.Time
}

// moveTo records that the partner moves to tier t (nil for none) for reason.
func (o *outcome) moveTo(t *v1alpha1.PartnerTier, reason, request string) {
	o.held, o.reason, o.request = t, reason, request
}

// decide applies promotion, demotion and tier exceptions to the stored tier.
// current is the stored tier as it exists now; nil when the partner holds none or
// the tier it holds has been removed (stored names it but Tiers does not).
func (e *evaluation) decide() outcome {
	stored := e.partner.Status.Tier
	current := e.ladder.byName[stored]
	o := outcome{held: current, qualified: e.ladder.highestQualified()}
	o.floor, o.floorGrant = e.grants.floor(e.ladder)
	grantable, approval := e.grantable()

	switch {
	case stored != "" && current == nil:
		o.moveTo(grantable, v1alpha1.ReasonTierRemoved, approval.Request)
	case grantable != nil && rank(grantable) > rank(current):
		o.moveTo(grantable, v1alpha1.ReasonPromoted, approval.Request)
	case rank(o.qualified) < rank(current) && rank(o.floor) < rank(current):
		e.demote(&o, current)
	}
	if o.floor != nil && rank(o.held) < rank(o.floor) {
		o.moveTo(o.floor, v1alpha1.ReasonTierException, o.floorGrant.Request)
	}
	o.pending = e.pendingAbove(rank(o.held))
	return o
}

// demote applies rule 6 to a partner that no longer qualifies for current: the
// deadline starts at the first evaluation that notices, and once it has passed the
// partner drops to the tier it qualifies for. A zero grace period demotes at once.
func (e *evaluation) demote(o *outcome, current *v1alpha1.PartnerTier) {
	deadline := e.partner.Status.DemotionDeadline.DeepCopy()
	if deadline == nil {
		grace := defaultGracePeriod
		if current.Spec.DemotionGracePeriod != nil {
			grace = current.Spec.DemotionGracePeriod.Duration
		}
		d := metav1.NewTime(e.now.Add(grace))
		deadline = &d
	}
	if e.now.Before(deadline.Time) {
		o.deadline = deadline
		return
	}
	o.demotedAt = deadline
	o.moveTo(o.qualified, v1alpha1.ReasonDemoted, "")
}

// grantable is the highest qualified tier a promotion may move to now: one without a
// promotion review path, or one an unexpired TierPromotion grant approves (returned
// too, so the decision can name it).
func (e *evaluation) grantable() (*v1alpha1.PartnerTier, Grant) {
	for _, t := range e.ladder.tiers {
		if !e.ladder.qualifies[t.Name] {
			continue
		}
		if !needsReview(t) {
			return t, Grant{}
		}
		if g, approved := e.grants.promotionTo(t.Name); approved {
			return t, g
		}
	}
	return nil, Grant{}
}

// pendingAbove is the highest qualified tier ranked above minRank that waits for an
// approved TierPromotion request; nil when there is none.
func (e *evaluation) pendingAbove(minRank int32) *v1alpha1.PartnerTier {
	for _, t := range e.ladder.tiers {
		if rank(t) <= minRank {
			return nil
		}
		if _, approved := e.grants.promotionTo(t.Name); e.ladder.qualifies[t.Name] && needsReview(t) && !approved {
			return t
		}
	}
	return nil
}
