package plugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// gatherPartnerPage reads partner key, its program, the tiers, and the exception
// requests and listings of its namespace, and builds its page.
func gatherPartnerPage(ctx context.Context, c client.Client, key types.NamespacedName, now time.Time) (PartnerPage, error) {
	var p v1alpha1.Partner
	if err := c.Get(ctx, key, &p); err != nil {
		return PartnerPage{}, err
	}
	var program *v1alpha1.PartnerProgram
	var prog v1alpha1.PartnerProgram
	switch err := c.Get(ctx, types.NamespacedName{Name: p.Spec.Program}, &prog); {
	case err == nil:
		program = &prog
	case !apierrors.IsNotFound(err):
		return PartnerPage{}, err
	}
	var tiers v1alpha1.PartnerTierList
	if err := c.List(ctx, &tiers); err != nil {
		return PartnerPage{}, fmt.Errorf("listing partner tiers: %w", err)
	}
	var requests v1alpha1.ExceptionRequestList
	if err := c.List(ctx, &requests, client.InNamespace(key.Namespace)); err != nil {
		return PartnerPage{}, fmt.Errorf("listing exception requests: %w", err)
	}
	var listings v1alpha1.ListingList
	if err := c.List(ctx, &listings, client.InNamespace(key.Namespace)); err != nil {
		return PartnerPage{}, fmt.Errorf("listing listings: %w", err)
	}
	return partnerPage(&p, program, tiers.Items, requests.Items, listings.Items, now), nil
}

// partnerPage builds p's page at now from its program (nil when it does not
// exist) and the tiers, requests and listings read. Only p's own requests (its
// namespace, spec.partner its name, spec.partnerUID its UID when set) and
// listings (its namespace, spec.partner its name) are shown; tiers of other
// programs are ignored. What the current and next tiers need comes from explain,
// as `kubectl partnergov explain partner` shows it. Evidence source identities
// are left out: they are the cluster's, not the partner's.
func partnerPage(p *v1alpha1.Partner, program *v1alpha1.PartnerProgram, tiers []v1alpha1.PartnerTier,
	requests []v1alpha1.ExceptionRequest, listings []v1alpha1.Listing, now time.Time) PartnerPage {
	st := p.Status
	page := PartnerPage{
		GeneratedAt: now, Namespace: p.Namespace, Name: p.Name, Title: cmp.Or(p.Spec.DisplayName, p.Name),
		Type: string(p.Spec.Type), Program: p.Spec.Program, ProgramMissing: program == nil, Suspended: p.Spec.Suspended,
		Tier: st.Tier, TierRank: st.TierRank, QualifiedTier: st.QualifiedTier,
	}
	catalog := map[string]v1alpha1.MetricDefinition{}
	if program != nil {
		for _, m := range program.Spec.Metrics {
			catalog[m.Name] = m
		}
	}

	// Since when, and how: status.tierSince, and the newest decision to the tier.
	if st.TierSince != nil {
		t := st.TierSince.Time
		page.Since = &t
	}
	if st.Tier != "" {
		for i := len(st.History) - 1; i >= 0; i-- {
			d := st.History[i]
			if d.To != st.Tier {
				continue
			}
			if page.Since == nil {
				t := d.Time.Time
				page.Since = &t
			}
			page.SinceReason = d.Reason
			if d.Request != "" {
				page.SinceReason += " (request " + d.Request + ")"
			}
			break
		}
	}

	e := explain(p, program, tiers, now)
	if meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionTierAtRisk) {
		page.AtRisk = "yes"
		if e.Demotion != nil {
			page.AtRisk = fmt.Sprintf("yes: tier %s is lost on %s unless the evidence recovers",
				st.Tier, timestamp(ptrTime(e.Demotion.At), now))
		}
	}
	if c := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionPromotionPending); c != nil && c.Status == "True" {
		page.Promotion = cmp.Or(c.Message, c.Reason)
	}
	page.NextDeadline = e.NextDeadline
	page.Current = tierNeeds(e.Current, catalog, now)
	page.Next = tierNeeds(e.Next, catalog, now)

	for _, ev := range slices.SortedFunc(slices.Values(st.Evidence), func(a, b v1alpha1.EvidenceEntry) int {
		return cmp.Compare(a.Metric, b.Metric)
	}) {
		s := evidenceStanding(&ev, catalog, now)
		switch s.State {
		case stateFresh:
			page.Freshness.Fresh++
		case stateGoingStale:
			page.Freshness.GoingStale++
		case stateStale:
			page.Freshness.Stale++
		default:
			page.Freshness.NotCounted++
		}
		page.Evidence = append(page.Evidence, s)
	}

	if !p.Spec.Suspended {
		for _, ent := range st.Entitlements {
			source := "tier " + ent.Source.Name
			if ent.Source.Kind == v1alpha1.EntitlementSourceExceptionRequest {
				source = "exception request " + ent.Source.Name
			}
			page.Entitlements = append(page.Entitlements, EntitlementStanding{
				Name: string(ent.Name), Detail: entitlementDetail(ent), Source: source, Expires: timestamp(ent.Expires, now),
			})
		}
	}

	var open []v1alpha1.ExceptionRequest
	for _, r := range requests {
		if r.Namespace != p.Namespace || r.Spec.Partner != p.Name || (r.Spec.PartnerUID != "" && r.Spec.PartnerUID != string(p.UID)) {
			continue
		}
		if r.Status.Phase == "" || r.Status.Phase == v1alpha1.PhasePending {
			open = append(open, r)
		}
	}
	slices.SortFunc(open, func(a, b v1alpha1.ExceptionRequest) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	for _, r := range open {
		created := r.CreationTimestamp
		page.OpenRequests = append(page.OpenRequests, RequestStanding{
			Name: r.Name, Type: string(r.Spec.Type), Asks: requestAsks(r.Spec), Submitted: timestamp(&created, now),
			Stage: orNone(r.Status.CurrentStage), StageDeadline: timestamp(r.Status.StageDeadline, now),
		})
	}

	for _, l := range listings {
		if l.Namespace != p.Namespace || l.Spec.Partner != p.Name || !meta.IsStatusConditionTrue(l.Status.Conditions, v1alpha1.ConditionPublished) {
			continue
		}
		page.Listings = append(page.Listings, ListingStanding{
			Name: l.Name, Product: l.Spec.Product, Kind: string(l.Spec.Kind), Latest: orNone(l.Status.LatestVersion),
			Versions: orNone(strings.Join(l.Status.PublishedVersions, ", ")), Claims: orNone(l.Status.ShownClaimsSummary),
		})
	}
	slices.SortFunc(page.Listings, func(a, b ListingStanding) int { return cmp.Compare(a.Name, b.Name) })
	return page
}
