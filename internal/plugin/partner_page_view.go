package plugin

import (
	"time"
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
