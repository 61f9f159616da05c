package plugin

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/listing"
	"github.com/partnergov/partnergov/internal/tier"
)

// partnerSim evaluates one partner under both configurations.
type partnerSim struct {
	now      time.Time
	partner  *v1alpha1.Partner
	grants   []tier.Grant
	requests []v1alpha1.ExceptionRequest
	listings []*v1alpha1.Listing
}

// evaluate runs the tier engine as the partner controller does, at now, with
// status as the stored status.
func (s partnerSim) evaluate(c config, status v1alpha1.PartnerStatus, now time.Time) tier.Result {
	p := s.partner.DeepCopy()
	p.Status = status
	return tier.Evaluate(tier.Input{
		Now:     now,
		Program: c.programs[p.Spec.Program],
		Tiers:   c.tiersOf(p.Spec.Program),
		Partner: p,
		Grants:  s.grants,
	})
}

func tierRank(st v1alpha1.PartnerStatus) int32 {
	if st.TierRank == nil {
		return -1
	}
	return *st.TierRank
}

// compare adds the partner's change, if any, and its listings' changes to r.
func (s partnerSim) compare(r *SimulationReport, live, proposed config) {
	before := s.evaluate(live, s.partner.Status, s.now)
	after := s.evaluate(proposed, s.partner.Status, s.now)
	key := types.NamespacedName{Namespace: s.partner.Namespace, Name: s.partner.Name}
	c := PartnerChange{Partner: key, Program: s.partner.Spec.Program, From: before.Status.Tier, To: after.Status.Tier}
	// base and changed are the statuses the entitlements and listings are compared
	// with: now, or at the demotion deadline for a partner put at risk.
	base, changed := before.Status, after.Status
	var at *time.Time
	atRiskBefore, atRiskAfter := before.Status.DemotionDeadline != nil, after.Status.DemotionDeadline != nil

	switch rb, ra := tierRank(before.Status), tierRank(after.Status); {
	case ra > rb:
		c.Kind, c.Detail = ChangePromotion, fmt.Sprintf("promoted to %s now", describeTier(c.To))
	case ra < rb:
		c.Kind, c.Detail = ChangeDrop, fmt.Sprintf("drops to %s now", describeTier(c.To))
	case atRiskAfter && !atRiskBefore:
		deadline := after.Status.DemotionDeadline.Time
		// What the controller does at the deadline if no evidence changes: evaluate
		// again then, with the at-risk status stored, under both configurations.
		dropped := s.evaluate(proposed, after.Status, deadline)
		kept := s.evaluate(live, before.Status, deadline)
		base, changed, at = kept.Status, dropped.Status, &deadline
		c.Kind, c.Deadline, c.To = ChangeAtRisk, &deadline, dropped.Status.Tier
		c.Detail = fmt.Sprintf("TierAtRisk=True now (qualifies for %s); would drop to %s on %s unless evidence recovers",
			describeTier(after.Status.QualifiedTier), describeTier(dropped.Status.Tier), deadline.UTC().Format(time.RFC3339))
	case atRiskBefore && !atRiskAfter:
		c.Kind, c.Detail = ChangeRecovers, fmt.Sprintf("the demotion due %s would be cancelled: it qualifies for %s",
			before.Status.DemotionDeadline.UTC().Format(time.RFC3339), describeTier(after.Status.QualifiedTier))
	case c.From != c.To && !atRiskAfter:
		c.Kind, c.Detail = ChangeSameRank, fmt.Sprintf("moves to %s now, a tier of the same rank", describeTier(c.To))
	case after.PromotionRequest != "" && after.PromotionRequest != before.PromotionRequest:
		c.Kind, c.To = ChangePromotionPending, after.PromotionRequest
		c.Detail = fmt.Sprintf("qualifies for %s; a TierPromotion request would wait for review", after.PromotionRequest)
	}
	c.Lost, c.Gained = entitlementDiff(base.Entitlements, changed.Entitlements)
	if c.Kind == "" && (len(c.Lost) > 0 || len(c.Gained) > 0) {
		c.Kind, c.Detail = ChangeEntitlements, "the tier stays; its entitlements change"
	}
	if c.Kind != "" {
		r.Changes = append(r.Changes, c)
	}
	s.compareListings(r, base, changed, at)
}

// compareListings evaluates each of the partner's listings at now with the
// partner's status from each configuration, as the listing controller would once
// the partner's status is written.
func (s partnerSim) compareListings(r *SimulationReport, before, after v1alpha1.PartnerStatus, at *time.Time) {
	for _, l := range s.listings {
		grants := listing.GrantsFor(s.requests, l.Name, nil)
		eval := func(st v1alpha1.PartnerStatus) listing.Result {
			p := s.partner.DeepCopy()
			p.Status = st
			return listing.Evaluate(listing.Input{Now: s.now, Listing: l, Partner: p, Grants: grants})
		}
		b, a := eval(before), eval(after)
		wasPublished := conditions.True(b.Status.Conditions, v1alpha1.ConditionPublished)
		published := conditions.True(a.Status.Conditions, v1alpha1.ConditionPublished)
		if wasPublished == published {
			continue
		}
		msg := ""
		if i := slices.IndexFunc(a.Status.Conditions, func(c metav1.Condition) bool { return c.Type == v1alpha1.ConditionPublished }); i >= 0 {
			msg = a.Status.Conditions[i].Message
		}
		r.Listings = append(r.Listings, ListingChange{
			Listing: types.NamespacedName{Namespace: l.Namespace, Name: l.Name},
			Partner: s.partner.Name, Publish: published, At: at, Message: msg,
		})
	}
}

// entitlementDiff lists the entitlements (with their segments or cap) only in
// before (lost) and only in after (gained), whatever their source.
func entitlementDiff(before, after []v1alpha1.EffectiveEntitlement) (lost, gained []string) {
	text := func(es []v1alpha1.EffectiveEntitlement) []string {
		var out []string
		for _, e := range es {
			s := string(e.Name)
			if d := entitlementDetail(e); d != none {
				s += " (" + d + ")"
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	b, a := text(before), text(after)
	for _, s := range b {
		if !slices.Contains(a, s) {
			lost = append(lost, s)
		}
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			gained = append(gained, s)
		}
	}
	return lost, gained
}

// describeTier names a tier for people, "no tier" for none.
func describeTier(name string) string {
	if name == "" {
		return "no tier"
	}
	return name
}

// joinOrNone joins names with ", ", or "-" for none.
func joinOrNone(names []string) string {
	if len(names) == 0 {
		return none
	}
	return strings.Join(names, ", ")
}
