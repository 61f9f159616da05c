package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MetricClass says what kind of evidence a metric is. Only Outcome evidence can
// earn a tier above the entry rank; Enablement evidence (training, certifications,
// event turnout) may be required too, but never earns a tier on its own.
// +kubebuilder:validation:Enum=Outcome;Enablement;Risk
type MetricClass string

const (
	// MetricClassOutcome is evidence of customer, revenue or delivery outcomes.
	MetricClassOutcome MetricClass = "Outcome"
	// MetricClassEnablement is evidence of activity: training, certification, turnout.
	MetricClassEnablement MetricClass = "Enablement"
	// MetricClassRisk is evidence of risk, such as delivery escalations.
	MetricClassRisk MetricClass = "Risk"
)

// MetricAggregation says how a metric's current values are combined across
// partners in the program's scorecard (status.scorecard.outcomeTotals).
// +kubebuilder:validation:Enum=Sum;Average;Max;Latest
type MetricAggregation string

const (
	// MetricAggregationSum adds the partners' current values: revenue, deals, counts.
	MetricAggregationSum MetricAggregation = "Sum"
	// MetricAggregationAverage is the exact mean of the partners' current values:
	// scores, ratings, percentages. Averages are never summed.
	MetricAggregationAverage MetricAggregation = "Average"
	// MetricAggregationMax is the largest of the partners' current values.
	MetricAggregationMax MetricAggregation = "Max"
	// MetricAggregationLatest is the current value observed most recently by any partner.
	MetricAggregationLatest MetricAggregation = "Latest"
)

// MetricSource says where a metric's values come from.
// +kubebuilder:validation:Enum=Reported;Deals
type MetricSource string

const (
	// MetricSourceReported: integrations report it into Partner status.evidence.
	MetricSourceReported MetricSource = "Reported"
	// MetricSourceDeals: partnergov computes it from the partner's won
	// DealRegistrations; nobody reports it.
	MetricSourceDeals MetricSource = "Deals"
)

// DealMeasure is what a Deals metric measures over its window.
// +kubebuilder:validation:Enum=SourcedAmount;InfluencedAmount;WonDeals
type DealMeasure string

const (
	// DealMeasureSourcedAmount sums the won amounts the partner sourced.
	DealMeasureSourcedAmount DealMeasure = "SourcedAmount"
	// DealMeasureInfluencedAmount sums the won amounts the partner influenced.
	DealMeasureInfluencedAmount DealMeasure = "InfluencedAmount"
	// DealMeasureWonDeals counts the deals the partner sourced and won.
	DealMeasureWonDeals DealMeasure = "WonDeals"
)

// DealMetric is how a Deals metric is computed from won deals.
// +kubebuilder:validation:XValidation:rule="self.measure == 'WonDeals' || has(self.currency)",message="currency is required for SourcedAmount and InfluencedAmount: amounts in different currencies are never added",fieldPath=.currency
// +kubebuilder:validation:XValidation:rule="!has(self.window) || duration(self.window) > duration('0s')",message="window must be a positive duration such as 8760h",fieldPath=.window
type DealMetric struct {
	// measure is SourcedAmount, InfluencedAmount or WonDeals.
	// +required
	Measure DealMeasure `json:"measure"`
	// window is the trailing period of closes that count, for example "8760h"
	// (a year). A deal stops counting when its close leaves the window.
	// +optional
	// +kubebuilder:default="8760h"
	Window *metav1.Duration `json:"window,omitempty"`
	// currency of the amounts summed; won deals in other currencies do not count.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency,omitempty"`
}

// MetricDefinition declares one kind of evidence the program accepts.
// +kubebuilder:validation:XValidation:rule="duration(self.freshnessWindow) > duration('0s')",message="freshnessWindow must be a positive duration such as 2160h",fieldPath=.freshnessWindow
// +kubebuilder:validation:XValidation:rule="has(self.deals) == (has(self.source) && self.source == 'Deals')",message="deals says how a metric is computed from won deals: set it exactly when source is Deals",fieldPath=.deals
// +kubebuilder:validation:XValidation:rule="!has(self.source) || self.source != 'Deals' || ((!has(self.trustedReporters.users) || size(self.trustedReporters.users) == 0) && (!has(self.trustedReporters.groups) || size(self.trustedReporters.groups) == 0) && (!has(self.trustedReporters.serviceAccounts) || size(self.trustedReporters.serviceAccounts) == 0))",message="a Deals metric is computed by partnergov from won deal registrations: it trusts no reporter (leave trustedReporters empty)",fieldPath=.trustedReporters
// +kubebuilder:validation:XValidation:rule="!has(self.probationAbove) || self.class == 'Risk'",message="probationAbove puts a partner on probation when its value of a Risk metric is above it: set it only on metrics of class Risk",fieldPath=.probationAbove
type MetricDefinition struct {
	// name identifies the metric in evidence and tier requirements, for example
	// "sourced-revenue". Lower case letters, digits and dashes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// class says whether the metric is evidence of an Outcome, of Enablement or of Risk.
	// +required
	Class MetricClass `json:"class"`

	// unit of the reported value, for example "USD", "count" or "score".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	Unit string `json:"unit"`

	// description says what the metric measures and where it comes from.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// aggregation says how the scorecard combines the partners' current values of
	// the metric: Sum, Average (the exact mean), Max, or Latest (the value with the
	// newest observedAt). When empty it follows the unit: Sum for a currency (three
	// upper-case letters such as "USD") and for "count"; Average for a score, rating
	// or percentage (a unit containing "score", "rating", "percent" or "%"); Sum for
	// any other unit.
	// +optional
	Aggregation MetricAggregation `json:"aggregation,omitempty"`

	// freshnessWindow is how long a reported value counts after it was observed,
	// for example "2160h" (90 days). Older evidence is stale and does not count.
	// +required
	FreshnessWindow metav1.Duration `json:"freshnessWindow"`

	// trustedReporters are the only identities whose reports of this metric are
	// accepted. Reports from anyone else are refused at admission. Empty for a
	// Deals metric, which nobody reports.
	// +required
	TrustedReporters Identities `json:"trustedReporters"`

	// source is Reported (the default: integrations report the metric) or Deals
	// (partnergov computes it from the partner's won DealRegistrations, deal by
	// deal, so a tier can require revenue no CRM total has to vouch for).
	// +optional
	Source MetricSource `json:"source,omitempty"`

	// deals says how a Deals metric is computed; required exactly when source is Deals.
	// +optional
	Deals *DealMetric `json:"deals,omitempty"`

	// probationAbove, on a Risk metric only, puts a partner whose current, trusted
	// value is above it on Probation at once (no grace period), whatever its tier
	// requirements say; it comes off when the value is no longer above it (or
	// stops being current). For example "3" escalations.
	// +optional
	ProbationAbove Decimal `json:"probationAbove,omitempty"`
}

// DomainAlias maps a customer domain to the one it is compared as, for a
// company with several domains.
type DomainAlias struct {
	// domain registered, for example "acme.co.uk".
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain"`
	// canonical domain it counts as, for example "acme.com".
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Canonical string `json:"canonical"`
}

// DealAutoApproval approves a registration at submission, without review, when
// every rule set here holds and no duplicate is suspected. Nothing is ever
// approved because a review's SLA passed.
type DealAutoApproval struct {
	// minTierRank is the lowest tier rank whose partners qualify.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinTierRank *int32 `json:"minTierRank,omitempty"`
	// maxAmount is the largest registered amount that qualifies.
	// +optional
	MaxAmount *Money `json:"maxAmount,omitempty"`
}

// DealRegistrationRules are the program's rules of engagement.
// +kubebuilder:validation:XValidation:rule="!has(self.protection) || duration(self.protection) > duration('0s')",message="protection must be a positive duration such as 2160h",fieldPath=.protection
// +kubebuilder:validation:XValidation:rule="!has(self.extension) || duration(self.extension) > duration('0s')",message="extension must be a positive duration such as 720h",fieldPath=.extension
type DealRegistrationRules struct {
	// protection is how long an approved registration holds its customer and
	// product line, from approval, for example "2160h" (90 days).
	// +optional
	// +kubebuilder:default="2160h"
	Protection *metav1.Duration `json:"protection,omitempty"`

	// extension is how much protection an approved extension adds (once per
	// registration), for example "720h" (30 days).
	// +optional
	// +kubebuilder:default="720h"
	Extension *metav1.Duration `json:"extension,omitempty"`

	// reviewPath names the ReviewPath registrations are reviewed through; when
	// empty, the path whose appliesTo matches DealRegistration, or the program
	// owner by escalation.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ReviewPath string `json:"reviewPath,omitempty"`

	// autoApprove approves registrations at submission that meet its rules.
	// Absent: every registration is reviewed.
	// +optional
	AutoApprove *DealAutoApproval `json:"autoApprove,omitempty"`

	// minAmount is the smallest amount that may be registered; smaller ones are
	// Rejected as Ineligible.
	// +optional
	MinAmount *Money `json:"minAmount,omitempty"`

	// freeMailDomains never count as a customer's domain (registrations with
	// them are refused), in addition to the well-known ones partnergov knows
	// (gmail.com, outlook.com, ...).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=253
	FreeMailDomains []string `json:"freeMailDomains,omitempty"`

	// domainAliases map a company's other domains to the one it is compared as.
	// +optional
	// +listType=map
	// +listMapKey=domain
	// +kubebuilder:validation:MaxItems=256
	DomainAliases []DomainAlias `json:"domainAliases,omitempty"`

	// crmReporters are the identities trusted to write the direct team's
	// DealLocks and to report deal outcomes.
	// +optional
	CRMReporters Identities `json:"crmReporters,omitempty"`

	// influenceLookback is how long before a win an influencer's influence
	// (spec.influencers[].at) still earns influenced credit, for example "4320h"
	// (180 days).
	// +optional
	// +kubebuilder:default="4320h"
	InfluenceLookback *metav1.Duration `json:"influenceLookback,omitempty"`

	// conflictReviewPath names the ReviewPath a queued registration's
	// escalated conflict (an ExceptionRequest of type DealConflict) is decided
	// through; when empty, the path whose appliesTo matches DealConflict, or the
	// program owner by escalation.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ConflictReviewPath string `json:"conflictReviewPath,omitempty"`

	// reservedAccounts are customers only the direct team holds: a partner's
	// registration for one is Rejected with reason ReservedAccount. A
	// registration approved before its customer was reserved keeps its
	// protection. At most 512 entries; the CRM integration's Direct DealLocks
	// cover accounts beyond that.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=512
	ReservedAccounts []ReservedAccount `json:"reservedAccounts,omitempty"`

	// publicTenders decides registrations marked spec.publicTender: Ineligible
	// (the default) rejects them, Review sends them to the review path and
	// never approves them automatically.
	// +optional
	// +kubebuilder:default=Ineligible
	PublicTenders PublicTenderPolicy `json:"publicTenders,omitempty"`
}

// PublicTenderPolicy is how a program treats registrations for public tenders.
// +kubebuilder:validation:Enum=Ineligible;Review
type PublicTenderPolicy string

const (
	// PublicTendersIneligible rejects public-tender registrations as Ineligible.
	PublicTendersIneligible PublicTenderPolicy = "Ineligible"
	// PublicTendersReview reviews them, never approving them automatically.
	PublicTendersReview PublicTenderPolicy = "Review"
)

// ReservedAccount is a customer the direct team keeps for itself.
// +kubebuilder:validation:XValidation:rule="has(self.domain) != has(self.duns)",message="name the reserved customer by exactly one of domain or duns"
type ReservedAccount struct {
	// domain of the customer, compared as a registration's (registrable domain,
	// after the program's domainAliases).
	// +optional
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain,omitempty"`

	// duns is the customer's nine-digit D-U-N-S number, compared with
	// registrations that carry one.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{9}$`
	DUNS string `json:"duns,omitempty"`

	// productLines reserved; empty reserves every product line.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	ProductLines []string `json:"productLines,omitempty"`

	// note says why the account is reserved, for the partner's message.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Note string `json:"note,omitempty"`
}

// PartnerProgramSpec is the program's metric catalog and its owner.
// +kubebuilder:validation:XValidation:rule="!has(self.onboarding) || self.onboarding.steps.all(s, !has(s.evidence) || self.metrics.exists(m, m.name == s.evidence.metric))",message="every onboarding step's evidence must name a metric of the catalog (spec.metrics)",fieldPath=.onboarding
type PartnerProgramSpec struct {
	// owner is the accountable internal owner of the program (a user name or an
	// e-mail address). Requests that no review path governs escalate to the owner.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Owner string `json:"owner"`

	// description of the program, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Description string `json:"description,omitempty"`

	// metrics is the catalog of evidence the program accepts, one entry per metric.
	// Governance decides here what counts as evidence before anyone reports any.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	Metrics []MetricDefinition `json:"metrics"`

	// marketplaceReporters are identities trusted to report adoption (views,
	// installs) into any Listing's status.usage, besides each partner's own
	// integration, which may report usage of its own listings.
	// +optional
	MarketplaceReporters Identities `json:"marketplaceReporters,omitempty"`

	// listingDeprecationNotice is the least time between deprecating a listing
	// version and its sunset, for example "2160h" (90 days).
	// +optional
	// +kubebuilder:default="2160h"
	ListingDeprecationNotice *metav1.Duration `json:"listingDeprecationNotice,omitempty"`

	// recordRetention is how long DecisionRecords of this program's partners, and
	// its approved and denied ExceptionRequests, are kept: deleting them earlier is
	// refused, and the controller prunes records once it has passed, for example
	// "61320h" (7 years). The retention in force when a decision is made applies to
	// it: lowering recordRetention shortens later decisions' retention only. At
	// least one year (8760h) unless the manager runs with another
	// --min-record-retention (refused at admission).
	// +optional
	// +kubebuilder:default="61320h"
	RecordRetention *metav1.Duration `json:"recordRetention,omitempty"`

	// automation are the identities (GitOps ServiceAccounts, pipelines) that file
	// ExceptionRequests on behalf of people: their requests must name
	// spec.onBehalfOf, and that person counts as the requester for every
	// separation-of-duties rule.
	// +optional
	Automation Identities `json:"automation,omitempty"`

	// maxExceptionDuration is the longest any grant may last: an ExceptionRequest's
	// expires may be at most this far after its creation, for every request type
	// that expires, ReadinessClaim and TierPromotion included, for example "8760h"
	// (365 days). Requests beyond it are refused at admission.
	// +optional
	// +kubebuilder:default="8760h"
	MaxExceptionDuration *metav1.Duration `json:"maxExceptionDuration,omitempty"`

	// dealRegistration are the rules of engagement for DealRegistrations of the
	// program's partners. Absent: the defaults (90 days of protection, every
	// registration reviewed).
	// +optional
	DealRegistration *DealRegistrationRules `json:"dealRegistration,omitempty"`

	// businessPlans are how JointBusinessPlans of the program's partners are
	// approved and reviewed. Absent: the path whose appliesTo matches
	// BusinessPlan, and a 14-day review SLA.
	// +optional
	BusinessPlans *BusinessPlanRules `json:"businessPlans,omitempty"`

	// onboarding is the plan a new partner must meet, step by step, within set
	// times of joining; an overdue step puts the partner on Probation. Absent:
	// partners are Active from the start.
	// +optional
	Onboarding *Onboarding `json:"onboarding,omitempty"`

	// probation says what a partner on Probation is withheld. Absent: probation
	// withholds nothing (the partner is still flagged by condition and alert).
	// +optional
	Probation *Probation `json:"probation,omitempty"`

	// funds are the program's limits on Funds requests across its partners.
	// Absent: only each partner's tier cap (fundsCapPerQuarter) limits them.
	// +optional
	Funds *ProgramFunds `json:"funds,omitempty"`
}

// MaxFundsBudgets bounds PartnerProgram spec.funds.budgets.
const MaxFundsBudgets = 32

// ProgramFunds are the program's limits on Funds requests.
type ProgramFunds struct {
	// budgets say, per calendar quarter and currency, the most the program may
	// commit across all its partners. A Funds request whose approval would take
	// the committed total of its quarter and currency above the budget is
	// denied with reason BudgetExhausted, whatever its review path's
	// allowOverCap says: allowOverCap lets a partner past its own cap, never the
	// program past its budget. An approval counts in the quarter it is made in,
	// as a partner's status.funds places it. A quarter and currency without an
	// entry have no budget (only the partners' caps limit them). Lowering a
	// budget below what is committed withdraws no approval; it refuses the
	// next ones. At most 32 entries, one per quarter and currency.
	// +optional
	// +listType=map
	// +listMapKey=quarter
	// +listMapKey=currency
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self.all(b, self.exists_one(c, c.quarter == b.quarter && c.currency == b.currency))",message="budgets holds one entry per quarter and currency: merge the entries of the same quarter and currency into one amount"
	Budgets []FundsBudget `json:"budgets,omitempty"`
}

// FundsBudget is the most a program may commit in one quarter and currency.
// +kubebuilder:validation:XValidation:rule="self.quarter.matches('^[0-9]{4}-Q[1-4]$')",message="quarter is a calendar quarter written as the year, -Q and the quarter's number 1 to 4, such as 2026-Q3",fieldPath=.quarter
// +kubebuilder:validation:XValidation:rule="self.currency.matches('^[A-Z]{3}$')",message="currency is an ISO 4217 code of three upper-case letters, such as USD",fieldPath=.currency
// +kubebuilder:validation:XValidation:rule="self.amount.matches('^[0-9]{1,18}([.][0-9]{1,9})?$')",message="amount is a non-negative decimal such as 250000 or 1250.50 (at most 18 digits before the point and 9 after)",fieldPath=.amount
type FundsBudget struct {
	// quarter is the calendar quarter (UTC) the budget is for, such as "2026-Q3".
	// +required
	// +kubebuilder:validation:MinLength=7
	// +kubebuilder:validation:MaxLength=7
	Quarter string `json:"quarter"`

	// currency is the ISO 4217 code of the budget, such as USD. Funds requests
	// in other currencies do not count against it (amounts in different
	// currencies are never added).
	// +required
	// +kubebuilder:validation:MaxLength=3
	Currency string `json:"currency"`

	// amount is the most the program may commit in the quarter and currency, a
	// non-negative decimal such as "250000" ("0" refuses every approval).
	// +required
	Amount Decimal `json:"amount"`
}

// Count is a number of objects with a given label.
type Count struct {
	// name of what is counted, such as a tier name or a partner type.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// count of objects.
	// +required
	Count int32 `json:"count"`
}

// MetricTotal is the aggregate of a metric's current values over all partners,
// combined as the metric's aggregation says.
type MetricTotal struct {
	// metric is the catalog name of the metric.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`
	// unit of the metric.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Unit string `json:"unit,omitempty"`
	// total is the aggregate of the partners' current values under aggregation: their
	// sum, their exact mean (rounded to 9 fractional digits), their maximum or the
	// most recently observed one. "0" when no partner reports a current value.
	// +required
	Total Decimal `json:"total"`
	// aggregation is how total was computed: Sum, Average, Max or Latest (the
	// metric's aggregation in the catalog, or the default for its unit).
	// +optional
	Aggregation MetricAggregation `json:"aggregation,omitempty"`
	// partners is how many partners reported a current value.
	// +required
	Partners int32 `json:"partners"`
}

// Scorecard is the program's evidence-based summary, kept current by the controller.
type Scorecard struct {
	// updatedAt is when the scorecard was last computed.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// partnersByTier counts partners by their current tier ("" counts untiered ones as "None").
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	PartnersByTier []Count `json:"partnersByTier,omitempty"`
	// partnersByType counts partners by type.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	PartnersByType []Count `json:"partnersByType,omitempty"`
	// outcomeBackedPercent is the share of tiered partners whose tier rests on current
	// Outcome evidence, in percent.
	// +optional
	OutcomeBackedPercent *int32 `json:"outcomeBackedPercent,omitempty"`
	// outcomeTotals aggregates the current values of every Outcome metric across
	// partners, each as its catalog entry's aggregation says (never summing averages).
	// +optional
	// +listType=map
	// +listMapKey=metric
	// +kubebuilder:validation:MaxItems=64
	OutcomeTotals []MetricTotal `json:"outcomeTotals,omitempty"`
	// openRequestsByType counts exception requests still under review, by type.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	OpenRequestsByType []Count `json:"openRequestsByType,omitempty"`
	// slaBreaches counts requests whose stage SLA passed without a decision.
	// +optional
	SLABreaches int32 `json:"slaBreaches,omitempty"`
	// decisionsLast30Days counts review decisions recorded in the last 30 days.
	// +optional
	DecisionsLast30Days int32 `json:"decisionsLast30Days,omitempty"`
	// listingsPublished counts published listings.
	// +optional
	ListingsPublished int32 `json:"listingsPublished,omitempty"`
	// listingsUnpublished counts listings that are not published.
	// +optional
	ListingsUnpublished int32 `json:"listingsUnpublished,omitempty"`
	// listingsLowAdoption counts listings flagged for traffic without adoption.
	// +optional
	ListingsLowAdoption int32 `json:"listingsLowAdoption,omitempty"`
	// deals are the program's deal registration KPIs; absent while the
	// program's partners have no DealRegistration and no approved Funds request.
	// +optional
	Deals *DealFigures `json:"deals,omitempty"`

	// fundsBudgets are the program's funds budgets (spec.funds.budgets), each
	// with what is committed against it, sorted by quarter and currency.
	// +optional
	// +listType=map
	// +listMapKey=quarter
	// +listMapKey=currency
	// +kubebuilder:validation:MaxItems=32
	FundsBudgets []FundsBudgetFigure `json:"fundsBudgets,omitempty"`
}

// FundsBudgetFigure is one budget of spec.funds.budgets with what is committed
// against it.
type FundsBudgetFigure struct {
	// quarter of the budget, such as "2026-Q3".
	// +required
	// +kubebuilder:validation:MaxLength=7
	Quarter string `json:"quarter"`
	// currency of the budget.
	// +required
	// +kubebuilder:validation:MaxLength=3
	Currency string `json:"currency"`
	// budget is the budget's amount.
	// +required
	Budget Decimal `json:"budget"`
	// committed is the sum of spec.amount of the program's partners' Funds
	// requests approved in the quarter in this currency (approvals that count:
	// with sealing on, the sealed decisions explain them), as the partners'
	// status.funds counts them.
	// +required
	Committed Decimal `json:"committed"`
	// remaining is budget minus committed, "0" when nothing is left.
	// +required
	Remaining Decimal `json:"remaining"`
}

// Bounds of the deal figures in the scorecard, which must stay small: by-partner
// figures are left to `kubectl partnergov scorecard --top` and the HTML report.
const (
	// MaxDealCurrencies is how many currencies deals.currencies lists.
	MaxDealCurrencies = 8
	// MaxDealGroups is how many tiers, and how many segments, each currency lists.
	MaxDealGroups = 16
)

// DealApprovalWindow is how far back deals.approval looks: registrations
// approved in the last 90 days.
const DealApprovalWindow = 90 * 24 * time.Hour

// DealFigures are a program's deal registration KPIs, computed from the
// DealRegistrations of the program's partners (the registration's spec.partner,
// in its namespace, is a partner of the program) that exist now: a deleted
// registration no longer counts. Money is summed exactly, per currency, and
// amounts in different currencies are never added.
type DealFigures struct {
	// registrations counts the program's registrations.
	// +optional
	Registrations int32 `json:"registrations,omitempty"`

	// byPhase counts the registrations by status.phase; one the controller has
	// not evaluated yet counts as Submitted. Only non-zero counts are listed.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	ByPhase []Count `json:"byPhase,omitempty"`

	// currencies are the revenue and funds figures of each currency that a won
	// deal was credited in or a Funds request was approved in, sorted by
	// currency. At most 8 are listed: beyond that, the currencies with the most
	// won deals (then the most approved Funds requests, then by code) are kept
	// and omittedCurrencies counts the others. A currency whose sums reach 10^18,
	// beyond what a Decimal holds, is left out and counted there too.
	// +optional
	// +listType=map
	// +listMapKey=currency
	// +kubebuilder:validation:MaxItems=8
	Currencies []DealCurrency `json:"currencies,omitempty"`

	// omittedCurrencies counts the currencies left out of currencies at its bound.
	// +optional
	OmittedCurrencies int32 `json:"omittedCurrencies,omitempty"`

	// conflictRatePercent is, among decided registrations, the share, in percent
	// rounded down, that met a conflict. A registration is decided once the rules
	// gave it a standing on its customer: status.approvedAt is set, or its phase
	// or an event of status.history is Approved, Queued or Rejected (any reason).
	// It met a conflict when its phase or an event of status.history is Queued
	// (another registration or the direct team held the customer), or Rejected
	// with reason DirectEngaged or Duplicate. History keeps the last 16
	// transitions, so a conflict older than those no longer shows. Absent while
	// no registration is decided.
	// +optional
	ConflictRatePercent *int32 `json:"conflictRatePercent,omitempty"`

	// expiryRatePercent is, among registrations that were approved
	// (status.approvedAt is set) and have ended Won, Lost or Expired, the share,
	// in percent rounded down, that Expired: protection ended (or was lost)
	// without a reported outcome. Absent while none has ended so.
	// +optional
	ExpiryRatePercent *int32 `json:"expiryRatePercent,omitempty"`

	// approval is how long registrations waited to be approved, over those
	// approved in the last 90 days. Absent when there are none.
	// +optional
	Approval *DealApprovalTime `json:"approval,omitempty"`

	// timeToFirstRevenue is how long partners took from joining to their first
	// won deal. Absent while no partner of the program has sourced a won deal.
	// +optional
	TimeToFirstRevenue *FirstRevenue `json:"timeToFirstRevenue,omitempty"`
}

// DealCurrency are a program's deal figures in one currency.
type DealCurrency struct {
	// currency is the ISO 4217 code, such as USD.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency"`

	// wonDeals counts the won registrations credited in this currency
	// (status.attribution is set). A won deal closed outside its protection
	// earns no credit and is not counted; a lost one earns nothing.
	// +optional
	WonDeals int32 `json:"wonDeals,omitempty"`

	// sourced is the revenue the program's partners sourced: the sum of
	// status.attribution.sourced.amount of the won registrations.
	// +required
	Sourced Decimal `json:"sourced"`

	// influenced is the revenue of won registrations that at least one partner
	// influenced (status.attribution.influenced is not empty), each deal counted
	// once however many partners influenced it. The same deal is also in
	// sourced: the two are reported side by side and never added together.
	// +required
	Influenced Decimal `json:"influenced"`

	// committedFunds is the sum of spec.amount of the approved (status.phase
	// Approved) Funds ExceptionRequests of the program's partners in this currency.
	// +required
	CommittedFunds Decimal `json:"committedFunds"`

	// returnOnInvestment (ROPI) is sourced divided by committedFunds, both in
	// this currency, rounded to 9 fractional digits: won sourced revenue per unit
	// of committed funds. Absent when committedFunds is zero (or the ratio is
	// beyond the range of a Decimal).
	// +optional
	ReturnOnInvestment Decimal `json:"returnOnInvestment,omitempty"`

	// byTier splits sourced and influenced by the current tier (status.tier) of
	// the sourcing partner, the registration's spec.partner ("None" for a
	// partner without a tier); the entries add up to sourced and influenced. At
	// most 16 are listed: beyond that, those with the largest sourced revenue
	// (then influenced, then by name) are kept and omittedTiers counts the others.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	ByTier []DealRevenue `json:"byTier,omitempty"`

	// omittedTiers counts the tiers left out of byTier at its bound.
	// +optional
	OmittedTiers int32 `json:"omittedTiers,omitempty"`

	// bySegment splits sourced and influenced by the customer's segment
	// (spec.customer.segment; "None" when empty), bounded as byTier.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	BySegment []DealRevenue `json:"bySegment,omitempty"`

	// omittedSegments counts the segments left out of bySegment at its bound.
	// +optional
	OmittedSegments int32 `json:"omittedSegments,omitempty"`
}

// DealRevenue is the won revenue of one tier or segment, in its currency.
type DealRevenue struct {
	// name of the tier or segment.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// wonDeals counts the won registrations credited.
	// +optional
	WonDeals int32 `json:"wonDeals,omitempty"`
	// sourced revenue, as in DealCurrency.sourced.
	// +required
	Sourced Decimal `json:"sourced"`
	// influenced revenue, as in DealCurrency.influenced; never added to sourced.
	// +required
	Influenced Decimal `json:"influenced"`
}

// DealApprovalTime is how long registrations waited from submission to approval.
type DealApprovalTime struct {
	// registrations counts the registrations measured: those whose
	// status.approvedAt lies in the last 90 days and that have spec.submittedAt.
	// +required
	Registrations int32 `json:"registrations"`
	// p50Seconds is the median of status.approvedAt minus spec.submittedAt, in
	// whole seconds, by the nearest-rank method. Time spent queued behind
	// another holder counts; an automatic approval takes about none.
	// +required
	P50Seconds int64 `json:"p50Seconds"`
	// p95Seconds is the 95th percentile of the same, by the nearest-rank method.
	// +required
	P95Seconds int64 `json:"p95Seconds"`
}

// FirstRevenue is how long partners took from joining the program to their first won deal.
type FirstRevenue struct {
	// partners counts the program's partners that sourced at least one won
	// deal (status.attribution.sourced names them).
	// +required
	Partners int32 `json:"partners"`
	// medianDays is the median over those partners of the close
	// (status.outcome.closedAt) of their earliest won deal minus their
	// spec.joinedAt (their creationTimestamp when joinedAt is unset), in days
	// rounded to one fractional digit; a deal closed before the partner joined
	// counts as zero. With an even number of partners it is the mean of the two
	// middle values.
	// +required
	MedianDays Decimal `json:"medianDays"`
}

// PartnerProgramStatus is the observed state of a PartnerProgram.
type PartnerProgramStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// catalogSince is when the controller first saw the catalog's current
	// generation. A demotion grace period never counts from before it (a shorter
	// freshness window makes evidence stale from the change, not from before).
	// +optional
	CatalogSince *metav1.Time `json:"catalogSince,omitempty"`

	// conditions describe the program's state; Ready summarises it.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// scorecard summarises the program from evidence rather than activity.
	// +optional
	Scorecard *Scorecard `json:"scorecard,omitempty"`
}

// PartnerProgram is the program's metric catalog: which evidence counts, what class
// it is, how long it stays current and who is trusted to report it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=pprog;program,categories=partnergov
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PartnerProgram struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired catalog, usually kept in git.
	// +required
	Spec PartnerProgramSpec `json:"spec"`

	// status is written by the controller.
	// +optional
	Status PartnerProgramStatus `json:"status,omitempty"`
}

// PartnerProgramList is a list of PartnerPrograms.
// +kubebuilder:object:root=true
type PartnerProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PartnerProgram `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PartnerProgram{}, &PartnerProgramList{})
}
