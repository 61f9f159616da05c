package plugin

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/decimal"
)

// PartnerPage is what a partner's standing page shows: only the partner's own
// objects and its program's rules, so it can be handed to the partner. Build it
// with partnerPage; RenderPartnerPage draws it.
type PartnerPage struct {
	GeneratedAt time.Time
	Namespace   string
	Name        string
	// Title is the partner's display name, or its name.
	Title   string
	Type    string
	Program string
	// ProgramMissing is true when the partner's PartnerProgram does not exist.
	ProgramMissing bool
	Suspended      bool

	// Tier is the tier held ("" for none), with its rank and since when.
	Tier     string
	TierRank *int32
	Since    *time.Time
	// SinceReason is the reason of the tier decision that gave the partner its
	// tier (status.history), such as Promoted or TierException, and the request
	// behind it; "" when the history does not say.
	SinceReason string
	// QualifiedTier is the highest tier the current evidence earns.
	QualifiedTier string
	// AtRisk says when the tier is lost unless evidence recovers; "" when not at risk.
	AtRisk string
	// Promotion is the PromotionPending condition's message, when True.
	Promotion string
	// NextDeadline is the earliest instant the tier or an entitlement may change.
	NextDeadline *Deadline

	// Current checks the held tier's requirements; Next the next tier's, which
	// say what is missing. Either may be nil (no tier held, no tier above).
	Current, Next *TierNeeds

	// Evidence is each evidence entry's standing, by metric; Freshness counts them.
	Evidence  []EvidenceStanding
	Freshness PartnerFreshness

	Entitlements []EntitlementStanding
	// OpenRequests are the partner's exception requests under review, oldest first.
	OpenRequests []RequestStanding
	// Listings are the partner's published listings, by name.
	Listings []ListingStanding
}

// TierNeeds is one tier's requirements checked against the partner's evidence.
type TierNeeds struct {
	Name string
	Rank int32
	// Problem is why the tier cannot be earned at all, or "".
	Problem string
	// ReviewPath names the review a promotion to the tier also needs, or "".
	ReviewPath   string
	Requirements []RequirementNeed
	// Unmet counts the requirements not met.
	Unmet int
}

// RequirementNeed is one requirement and how far the partner is from it.
type RequirementNeed struct {
	Metric string
	// Requirement is the comparison, such as ">= 1000".
	Requirement string
	// Value is the partner's value with its unit, or "-".
	Value string
	// Evidence says whether the value counts: fresh until, stale since, ...
	Evidence string
	Met      bool
	// Progress is how much of the requirement is reached, 0 to 100: 100 when
	// met, 0 when no value counts; for a lower bound value/threshold, for an
	// upper bound threshold/value.
	Progress int
	// Missing says what is missing for people; "" when met.
	Missing string
}

// Evidence states of an entry, as the tier engine counts it.
const (
	stateFresh      = "fresh"
	stateGoingStale = "stale within 7d"
	stateStale      = "stale"
	stateNotCounted = "not counted"
)

// EvidenceStanding is one evidence entry and whether it counts.
type EvidenceStanding struct {
	Metric string
	// Value with the catalog's unit.
	Value    string
	Observed string
	// State is fresh, stale within 7d, stale or not counted.
	State string
	// Detail says until when it counts, since when it is stale, or why it is not counted.
	Detail string
}

// PartnerFreshness counts a partner's evidence entries by state.
type PartnerFreshness struct {
	Fresh, GoingStale, Stale, NotCounted int
}

// EntitlementStanding is one entitlement in force and where it comes from.
type EntitlementStanding struct {
	Name string
	// Detail is the segments or cap, or "-".
	Detail string
	// Source is "tier NAME" or "exception request NAME".
	Source  string
	Expires string
}

// RequestStanding is one of the partner's exception requests under review.
type RequestStanding struct {
	Name string
	Type string
	// Asks is what the request asks for: an amount, a tier, entitlements, a claim.
	Asks      string
	Submitted string
	// Stage is the stage it waits on ("-" before a review path is resolved).
	Stage         string
	StageDeadline string
}

// ListingStanding is one of the partner's published listings.
type ListingStanding struct {
	Name, Product, Kind string
	Latest              string
	Versions            string
	Claims              string
}

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

// tierNeeds words a tier explanation for the page; nil stays nil.
func tierNeeds(te *TierExplanation, catalog map[string]v1alpha1.MetricDefinition, now time.Time) *TierNeeds {
	if te == nil {
		return nil
	}
	n := &TierNeeds{Name: te.Tier.Name, Rank: te.Tier.Spec.Rank, Problem: te.Problem, ReviewPath: te.Tier.Spec.PromotionReviewPath}
	for _, r := range te.Requirements {
		def, inCatalog := catalog[r.Metric]
		rn := RequirementNeed{Metric: r.Metric, Requirement: requirementText(r.Operator, r.Threshold), Value: none, Met: r.Met}
		if r.Evidence != nil {
			rn.Value = withUnit(r.Evidence.Value, def.Unit)
		}
		if inCatalog && def.Source == v1alpha1.MetricSourceDeals {
			rn.Evidence = r.State // computed from the partner's own won deals
		} else {
			rn.Evidence = evidenceStanding(r.Evidence, catalog, now).Detail
			if r.Evidence == nil {
				rn.Evidence = "no evidence reported"
			}
		}
		switch {
		case r.Met:
			rn.Progress = 100
		case r.Evidence == nil:
			rn.Missing = "a value of " + r.Metric + " (none reported)"
		case !r.Counts:
			rn.Missing = "a current value of " + r.Metric
		default:
			rn.Progress, rn.Missing = shortfall(r.Operator, r.Evidence.Value, r.Threshold)
		}
		if !rn.Met {
			n.Unmet++
		}
		n.Requirements = append(n.Requirements, rn)
	}
	return n
}

// shortfall says how far value is from meeting "op threshold", which it does
// not meet, and how much of it is reached (0 to 99).
func shortfall(op v1alpha1.ComparisonOperator, value, threshold v1alpha1.Decimal) (int, string) {
	v, errV := decimal.Parse(value)
	t, errT := decimal.Parse(threshold)
	if errV != nil || errT != nil {
		return 0, "must be " + requirementText(op, threshold)
	}
	progress := 0
	// reached is a/b in percent, in [0, 99] since the requirement is not met.
	reached := func(a, b *big.Rat) int {
		if a.Sign() <= 0 || b.Sign() <= 0 {
			return 0
		}
		f, _ := new(big.Rat).Quo(a, b).Float64()
		return min(max(int(f*100), 0), 99)
	}
	var missing string
	switch op {
	case v1alpha1.OperatorGreaterThanOrEqual:
		progress = reached(v, t)
		missing = string(decimal.Format(new(big.Rat).Sub(t, v))) + " more"
	case v1alpha1.OperatorGreaterThan:
		progress = reached(v, t)
		missing = fmt.Sprintf("more than %s more", decimal.Format(new(big.Rat).Sub(t, v)))
	case v1alpha1.OperatorLessThanOrEqual:
		progress = reached(t, v)
		missing = fmt.Sprintf("%s less", decimal.Format(new(big.Rat).Sub(v, t)))
	case v1alpha1.OperatorLessThan:
		progress = reached(t, v)
		missing = fmt.Sprintf("more than %s less", decimal.Format(new(big.Rat).Sub(v, t)))
	default:
		missing = "exactly " + string(threshold)
	}
	return progress, missing
}

// evidenceStanding says whether entry e counts as the tier engine counts it
// (explain's evidenceState), without the identity that reported it.
func evidenceStanding(e *v1alpha1.EvidenceEntry, catalog map[string]v1alpha1.MetricDefinition, now time.Time) EvidenceStanding {
	if e == nil {
		return EvidenceStanding{Value: none, Observed: none, State: stateNotCounted, Detail: "no evidence reported"}
	}
	verdict, def, staleAt := judgeEvidence(e, catalog, now)
	observed := e.ObservedAt
	s := EvidenceStanding{Metric: e.Metric, Value: withUnit(e.Value, def.Unit), Observed: timestamp(&observed, now), State: stateNotCounted}
	switch {
	case verdict == evidenceNotInCatalog:
		s.Detail = "not counted: the metric is not in the program's catalog"
	case verdict == evidenceUntrusted:
		s.Detail = "not counted: untrusted (the reporter is no longer trusted by the catalog)"
	case verdict == evidenceNotANumber:
		s.Detail = "not counted: the value is not a number"
	case verdict == evidenceStale:
		s.State, s.Detail = stateStale, fmt.Sprintf("stale since %s; freshness window %s",
			timestamp(ptrTime(staleAt), now), windowText(def.FreshnessWindow.Duration))
	case staleAt.Sub(now) <= goingStaleWithin:
		s.State, s.Detail = stateGoingStale, "fresh until "+timestamp(ptrTime(staleAt), now)
	default:
		s.State, s.Detail = stateFresh, "fresh until "+timestamp(ptrTime(staleAt), now)
	}
	return s
}

// requestAsks says what a request asks for.
func requestAsks(spec v1alpha1.ExceptionRequestSpec) string {
	var parts []string
	if a := spec.Amount; a != nil {
		parts = append(parts, string(a.Amount)+" "+a.Currency)
	}
	if g := spec.Grant; g != nil {
		if g.Tier != "" {
			parts = append(parts, "tier "+g.Tier)
		}
		if len(g.Entitlements) > 0 {
			names := make([]string, len(g.Entitlements))
			for i, n := range g.Entitlements {
				names[i] = string(n)
			}
			parts = append(parts, "entitlements "+strings.Join(names, ", "))
		}
		if g.Listing != "" {
			parts = append(parts, "listing "+g.Listing)
		}
		if c := g.Claim; c != nil {
			parts = append(parts, fmt.Sprintf("%s claim for %s", c.Kind, c.Product))
		}
		if g.Deal != "" {
			parts = append(parts, "deal "+g.Deal)
		}
	}
	if spec.Expires != nil {
		parts = append(parts, "until "+spec.Expires.UTC().Format(time.RFC3339))
	}
	return orNone(strings.Join(parts, "; "))
}

// withUnit prints a value with its unit, unless the unit is empty.
func withUnit(v v1alpha1.Decimal, unit string) string {
	if unit == "" {
		return string(v)
	}
	return string(v) + " " + unit
}

// windowText prints a freshness window in days when it is whole days.
func windowText(d time.Duration) string {
	if day := 24 * time.Hour; d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

// ptrTime wraps t for timestamp.
func ptrTime(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}
