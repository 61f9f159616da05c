package tier

import (
	"slices"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// entitlements is the effective set of rule 8: the held tier's entitlements in the
// fixed order Resell, Implement, List, ClaimCertification, CoSell, Funds, then the
// entitlements of each IncentiveException grant in request order, one entry per
// entitlement (addEntitlement). A suspended
// partner holds none. held may be nil; incentives must be sorted by request.
func entitlements(held *v1alpha1.PartnerTier, incentives []Grant, suspended bool) []v1alpha1.EffectiveEntitlement {
	if suspended {
		return nil
	}
	var out []v1alpha1.EffectiveEntitlement
	if held != nil {
		out = append(out, TierEntitlements(*held)...)
	}
	for _, g := range incentives {
		source := v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceExceptionRequest, Name: g.Request}
		for _, name := range g.Entitlements {
			out = addEntitlement(out, v1alpha1.EffectiveEntitlement{Name: name, Source: source, Expires: metaTime(g.Expires)})
		}
	}
	return out
}

// addEntitlement adds e unless the partner already holds that entitlement: one
// entry per entitlement keeps the list bounded by the six entitlements whatever
// the number of grants. The tier's entry stays (it does not lapse); between two
// grants the one in force longer stays.
func addEntitlement(out []v1alpha1.EffectiveEntitlement, e v1alpha1.EffectiveEntitlement) []v1alpha1.EffectiveEntitlement {
	i := slices.IndexFunc(out, func(x v1alpha1.EffectiveEntitlement) bool { return x.Name == e.Name })
	switch {
	case i < 0:
		return append(out, e)
	case out[i].Expires != nil && (e.Expires == nil || e.Expires.After(out[i].Expires.Time)):
		out[i] = e
	}
	return out
}

// TierEntitlements lists what a tier grants, in the fixed order Resell, Implement,
// List, ClaimCertification, CoSell (with its segments), Funds (with the quarterly
// cap), each sourced from the tier.
func TierEntitlements(t v1alpha1.PartnerTier) []v1alpha1.EffectiveEntitlement {
	e := t.Spec.Entitlements
	source := v1alpha1.EntitlementSource{Kind: v1alpha1.EntitlementSourceTier, Name: t.Name}
	var out []v1alpha1.EffectiveEntitlement
	add := func(granted bool, ent v1alpha1.EffectiveEntitlement) {
		if granted {
			ent.Source = source
			out = append(out, ent)
		}
	}
	add(e.Resell, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementResell})
	add(e.Implement, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementImplement})
	add(e.List, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementList})
	add(e.ClaimCertification, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementClaimCertification})
	if e.CoSell != nil {
		add(true, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementCoSell, Segments: slices.Clone(e.CoSell.Segments)})
	}
	if e.FundsCapPerQuarter != nil {
		add(true, v1alpha1.EffectiveEntitlement{Name: v1alpha1.EntitlementFunds, Cap: e.FundsCapPerQuarter.DeepCopy()})
	}
	return out
}
