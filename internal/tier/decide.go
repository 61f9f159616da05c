package tier

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/record"
	"github.com/partnergov/partnergov/internal/seal"
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
	// promotion is what the promotion to pending waits on.
	promotion promotionState
	// waitingForPlan is the highest tier above held that current evidence meets
	// but that requires a business plan the partner does not have; nil for none.
	waitingForPlan *v1alpha1.PartnerTier
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
	if e.programMissing {
		// Without a catalog no evidence can be judged: the last evaluated
		// qualification stands, and only deadlines already running still fire.
		o.qualified = e.ladder.byName[e.partner.Status.QualifiedTier]
	}
	o.floor, o.floorGrant = e.grants.floor(e.ladder)
	grantable, approval := e.grantable()
	lapsed, exceptionLapsed := e.grants.lapsedException(e.partner.Status.Grants, stored)
	exceptionLapsed = exceptionLapsed && e.enteredByException(stored)

	switch {
	case stored != "" && !e.tierExplained(stored):
		// Written past the webhooks: no decision gave it, so it gets no grace.
		o.moveTo(grantable, v1alpha1.ReasonUnexplainedTier, approval.Request)
	case StatusBehindRecords(e.seals, e.partner, e.recorded):
		// Rolled back past its records: the older status's tier (and any grace
		// it had) was taken away by a later decision, so it gets no grace either.
		// The decision this makes is newer than the recorded one: once stored,
		// the history is no longer behind.
		o.moveTo(grantable, v1alpha1.ReasonStatusBehindRecords, approval.Request)
	case stored != "" && current == nil:
		o.moveTo(grantable, v1alpha1.ReasonTierRemoved, approval.Request)
	case grantable != nil && rank(grantable) > rank(current):
		o.moveTo(grantable, v1alpha1.ReasonPromoted, approval.Request)
	case exceptionLapsed && rank(o.qualified) < rank(current) && rank(o.floor) < rank(current):
		// A lapsed exception gets no grace: the grace period is for evidence that
		// stops qualifying, and this tier never rested on evidence.
		o.moveTo(o.qualified, v1alpha1.ReasonExceptionExpired, lapsed)
	case rank(o.qualified) < rank(current) && rank(o.floor) < rank(current):
		e.demote(&o, current)
	}
	if o.floor != nil && rank(o.held) < rank(o.floor) {
		o.moveTo(o.floor, v1alpha1.ReasonTierException, o.floorGrant.Request)
	}
	o.pending = e.pendingAbove(rank(o.held))
	if !e.programMissing {
		o.waitingForPlan = e.ladder.waitingForPlan(rank(o.held))
	}
	if o.pending != nil && !e.programMissing {
		o.promotion = e.promotionFor(o.pending)
	}
	return o
}

// tierExplained reports whether a sealed decision explains the stored tier: the
// newest history entry moved the partner to it and its seal verifies. Always true
// with sealing off.
func (e *evaluation) tierExplained(stored string) bool {
	return TierExplained(e.seals, e.partner.UID, stored, e.partner.Status.History)
}

// TierExplained reports whether a sealed decision explains tier: the newest entry
// of history moved the partner (uid) to it and is sealed in its place
// (seal.Keys.TierSealed: its seal binds its sequence and its predecessor's seal,
// so an older sealed decision replayed as the newest explains nothing). Always true with
// sealing off, and for no tier.
func TierExplained(seals *seal.Keys, uid types.UID, tier string, history []v1alpha1.TierDecision) bool {
	if !seals.On() || tier == "" {
		return true
	}
	if len(history) == 0 {
		return false
	}
	n := len(history)
	return history[n-1].To == tier && seals.TierSealed(string(uid), history, n-1)
}

// StatusBehindRecords reports whether partner p's stored history was rolled
// back past its records: recorded names p's newest recorded tier decision (its
// record's name and time), and the history holds no sealed decision (in its
// place: seal.Keys.TierSealed) that is either that decision (its record name,
// record.TierChangeName) or newer than it. A newer one covers a history
// trimmed to MaxHistory, decisions not recorded yet, and the decision made on
// finding the history behind. False without recorded, and for a recorded
// decision of another partner of the same name (another UID).
func StatusBehindRecords(seals *seal.Keys, p *v1alpha1.Partner, recorded *v1alpha1.RecordedDecision) bool {
	if recorded == nil || (recorded.SubjectUID != "" && recorded.SubjectUID != string(p.UID)) {
		return false
	}
	h := p.Status.History
	for i := len(h) - 1; i >= 0; i-- {
		if !seals.TierSealed(string(p.UID), h, i) {
			continue
		}
		if h[i].Time.After(recorded.Time.Time) || record.TierChangeName(p, h[i]) == recorded.Name {
			return false
		}
	}
	return true
}

// enteredByException reports whether the partner got its stored tier through a
// TierException (the decision that gave it says so). A tier earned by evidence
// keeps its grace period when an exception held over it lapses.
func (e *evaluation) enteredByException(stored string) bool {
	h := e.partner.Status.History
	return len(h) > 0 && h[len(h)-1].To == stored && h[len(h)-1].Reason == v1alpha1.ReasonTierException
}

// demote applies rule 6 to a partner that no longer qualifies for current: the
// grace period counts from the instant the evidence stopped qualifying (failedAt),
// never from when a controller noticed, and a stored deadline is never extended.
// Once the deadline has passed the partner drops to the tier it qualifies for. A
// zero grace period demotes at once.
func (e *evaluation) demote(o *outcome, current *v1alpha1.PartnerTier) {
	deadline := e.partner.Status.DemotionDeadline.DeepCopy()
	if !e.programMissing {
		grace := defaultGracePeriod
		if current.Spec.DemotionGracePeriod != nil {
			grace = current.Spec.DemotionGracePeriod.Duration
		}
		d := metav1.NewTime(e.failedAt(current).Add(grace))
		if deadline == nil || d.Before(deadline) {
			deadline = &d
		}
	}
	if deadline == nil {
		return // no catalog and no deadline running: nothing can start one
	}
	if e.now.Before(deadline.Time) {
		o.deadline = deadline
		return
	}
	o.demotedAt = deadline
	o.moveTo(o.qualified, v1alpha1.ReasonDemoted, "")
}

// failedAt is when the partner's evidence stopped meeting tier t: the earliest
// instant among the requirements failing now, each failing since its stale time
// (stale evidence), its observedAt (a failing value) or now (missing or ignored
// evidence, or a retired tier). It is never before the tier was granted.
func (e *evaluation) failedAt(t *v1alpha1.PartnerTier) time.Time {
	since := e.now
	if !t.Spec.Retired {
		for _, req := range t.Spec.Requirements {
			at := e.now
			if c, found := e.evidence.counted[req.Metric]; found {
				if Satisfies(req.Operator, c.Value, req.Threshold) {
					continue
				}
				at = c.ObservedAt.Time
			} else if s, stale := e.evidence.staleSince(req.Metric); stale {
				at = s
			}
			if at.Before(since) {
				since = at
			}
		}
	}
	for _, floor := range []*metav1.Time{e.tierSince(), e.policySince(t)} {
		if floor != nil && since.Before(floor.Time) {
			since = floor.Time
		}
	}
	return since
}

// tierSince is when the partner got its stored tier. With sealing on it is the
// time of the sealed decision that explains the tier (the newest in history:
// demote runs only for an explained tier), not status.tierSince, which is not
// sealed: written forward past the webhooks it would restart the grace.
func (e *evaluation) tierSince() *metav1.Time {
	if h := e.partner.Status.History; e.seals.On() && len(h) > 0 {
		return h[len(h)-1].Time.DeepCopy()
	}
	return e.partner.Status.TierSince
}

// policySince is when the rules t is judged by took effect: the later of when the
// controller first saw the tier's and the catalog's current generations. Rules
// whose change the controller has not recorded yet took effect now, so a
// threshold raised a moment ago gives a full grace period.
func (e *evaluation) policySince(t *v1alpha1.PartnerTier) *metav1.Time {
	now := metav1.NewTime(e.now)
	since := t.Status.RequirementsSince
	if t.Status.ObservedGeneration != t.Generation || since == nil {
		return &now
	}
	p := e.program
	if p.Status.ObservedGeneration != p.Generation || p.Status.CatalogSince == nil {
		return &now
	}
	if p.Status.CatalogSince.After(since.Time) {
		since = p.Status.CatalogSince
	}
	return since
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
