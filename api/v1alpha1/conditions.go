package v1alpha1

// Condition types. Every kind reports Ready as its summary so that
// `kubectl wait --for=condition=Ready` and GitOps health checks work.
const (
	// ConditionReady summarises an object: True when the controller has applied the
	// latest generation and nothing needs attention.
	ConditionReady = "Ready"

	// ConditionReconciling is kstatus' in-progress signal (Argo CD and Flux read it):
	// True while an ExceptionRequest is under review.
	ConditionReconciling = "Reconciling"

	// ConditionCatalogResolved on a PartnerTier says whether its requirements name
	// metrics of its program's catalog, with an Outcome metric above the entry rank.
	ConditionCatalogResolved = "CatalogResolved"

	// ConditionEvidenceCurrent on a Partner is False while some reported evidence is
	// older than its metric's freshness window; the message lists the stale metrics.
	ConditionEvidenceCurrent = "EvidenceCurrent"
	// ConditionEvidenceTrusted on a Partner is False while some stored evidence was
	// reported by an identity the catalog no longer trusts; that evidence is ignored.
	ConditionEvidenceTrusted = "EvidenceTrusted"
	// ConditionTierAtRisk on a Partner is True while it no longer qualifies for its
	// tier and the demotion deadline has not passed.
	ConditionTierAtRisk = "TierAtRisk"
	// ConditionPromotionPending on a Partner is True while it qualifies for a higher
	// tier whose promotion waits for an approved TierPromotion request.
	ConditionPromotionPending = "PromotionPending"
	// ConditionTierDecisionHeld on a Partner is True (reason RecordsPending)
	// while its next tier decision waits: writing it would trim out of
	// status.history (which keeps 20) a decision whose DecisionRecord is not
	// made yet, the records store being unavailable. The decision is written,
	// and the condition removed, once the records are made.
	ConditionTierDecisionHeld = "TierDecisionHeld"

	// ConditionPublished on a Listing is True while the listing is shown in the marketplace.
	ConditionPublished = "Published"
	// ConditionClaimsVerified on a Listing is False while a claim lacks its evidence.
	ConditionClaimsVerified = "ClaimsVerified"
	// ConditionLowAdoption on a Listing is True when it has traffic but no adoption.
	ConditionLowAdoption = "LowAdoption"

	// ConditionReviewPathResolved on an ExceptionRequest says whether exactly one
	// ReviewPath governs the request.
	ConditionReviewPathResolved = "ReviewPathResolved"
	// ConditionApproved on an ExceptionRequest is True once every stage passed.
	ConditionApproved = "Approved"
	// ConditionDenied on an ExceptionRequest is True once a reviewer or a timeout denied it.
	ConditionDenied = "Denied"
	// ConditionEscalated on an ExceptionRequest is True while it waits on an escalation.
	ConditionEscalated = "Escalated"
	// ConditionExpired on an ExceptionRequest is True once its grant has expired
	// (or, for a TierPromotion, been used up).
	ConditionExpired = "Expired"
	// ConditionWithdrawn on an ExceptionRequest is True once it was withdrawn
	// before a decision because its subject is gone.
	ConditionWithdrawn = "Withdrawn"
	// ConditionOutcomeSealed on an ExceptionRequest is False (reason
	// UnexplainedOutcome) when, with sealing on, its Approved phase is not
	// explained by sealed stage decisions that meet its review path: the phase
	// was written past the webhooks, and the approval gives nothing. On a
	// DealRegistration it is False (reason UnsealedOutcome) while its
	// status.outcome or an influence confirmation is not sealed: it earns
	// nothing.
	ConditionOutcomeSealed = "OutcomeSealed"
	// ConditionStatusBehindRecords on an ExceptionRequest is True (reason
	// StatusBehindRecords) while its status.decisions lack a stage decision its
	// DecisionRecords hold (the status was rolled back past its records, past
	// the webhooks), or hold another decision at a recorded index: the request
	// is held as it is, deciding nothing, until the decisions are restored.
	ConditionStatusBehindRecords = "StatusBehindRecords"
)

// Condition reasons, in CamelCase as Kubernetes conventions ask.
const (
	ReasonRecordsPending       = "RecordsPending"
	ReasonReconciled           = "Reconciled"
	ReasonCatalogResolved      = "CatalogResolved"
	ReasonProgramNotFound      = "ProgramNotFound"
	ReasonUnknownMetric        = "UnknownMetric"
	ReasonNoOutcomeRequirement = "NoOutcomeRequirement"

	ReasonEvidenceFresh     = "EvidenceFresh"
	ReasonEvidenceStale     = "EvidenceStale"
	ReasonEvidenceTrusted   = "EvidenceTrusted"
	ReasonUntrustedEvidence = "UntrustedEvidence"
	ReasonQualified         = "Qualified"
	ReasonNotQualified      = "NotQualified"
	ReasonGracePeriod       = "GracePeriod"
	ReasonPromoted          = "Promoted"
	ReasonDemoted           = "Demoted"
	ReasonAwaitingReview    = "AwaitingReview"
	ReasonTierException     = "TierException"
	ReasonPartnerSuspended  = "PartnerSuspended"
	ReasonTierRemoved       = "TierRemoved"

	ReasonEntitled            = "Entitled"
	ReasonEntitlementRevoked  = "EntitlementRevoked"
	ReasonPartnerNotFound     = "PartnerNotFound"
	ReasonClaimsVerified      = "ClaimsVerified"
	ReasonClaimEvidenceAbsent = "ClaimEvidenceMissing"
	ReasonTrafficNoAdoption   = "TrafficWithoutAdoption"
	ReasonAdopted             = "Adopted"

	ReasonPathResolved      = "PathResolved"
	ReasonNoMatchingPath    = "NoMatchingPath"
	ReasonAmbiguousPath     = "AmbiguousPath"
	ReasonPathNotFound      = "PathNotFound"
	ReasonPathNotApplicable = "PathNotApplicable"
	ReasonUnderReview       = "UnderReview"
	ReasonQuorumReached     = "QuorumReached"
	ReasonDeniedByReviewer  = "DeniedByReviewer"
	ReasonSLABreached       = "SLABreached"
	ReasonTimeoutDenied     = "TimeoutDenied"
	ReasonOverCap           = "OverCap"
	ReasonGrantExpired      = "GrantExpired"

	// ReasonNotEntitled denies a Funds request for a partner that holds no Funds
	// entitlement or is suspended, whatever allowOverCap says.
	ReasonNotEntitled = "NotEntitled"
	// ReasonCurrencyMismatch denies a Funds request whose currency is not the one of
	// the partner's cap.
	ReasonCurrencyMismatch = "CurrencyMismatch"
	// ReasonBudgetExhausted denies a Funds request whose approval would take the
	// program's committed funds of its quarter and currency above the program's
	// budget (PartnerProgram spec.funds.budgets), whatever allowOverCap says.
	ReasonBudgetExhausted = "BudgetExhausted"
	// ReasonPromotionUsed ends an approved TierPromotion once the partner dropped
	// below the tier it authorized: promoting it again needs a new review.
	ReasonPromotionUsed = "PromotionUsed"
	// ReasonPromotionDenied on PromotionPending: the last promotion request was
	// denied; a new one opens after the tier's promotionRetryAfter or when the
	// qualifying evidence changes.
	ReasonPromotionDenied = "PromotionDenied"
	// ReasonNoLongerQualifies withdraws a pending TierPromotion whose partner no
	// longer qualifies for the tier.
	ReasonNoLongerQualifies = "NoLongerQualifies"
	// ReasonExceptionExpired is the decision reason when the TierException holding
	// a partner at its tier lapsed: it drops at once to what its evidence gives.
	ReasonExceptionExpired = "ExceptionExpired"
	// ReasonEscalationExpired denies a request whose escalation owner did not
	// decide within the path's escalationSLA.
	ReasonEscalationExpired = "EscalationExpired"
	// ReasonUnexplainedTier: a stored tier that no sealed decision gave (written
	// past the webhooks) was recomputed from evidence without grace.
	ReasonUnexplainedTier = "UnexplainedTier"
	// ReasonStatusBehindRecords: a partner's status.history was rolled back
	// past its records (it holds neither the newest tier decision its
	// RecordChain names nor a sealed one after it): the tier the older status
	// claims was recomputed from evidence without grace. On an ExceptionRequest
	// (condition StatusBehindRecords, and a Warning Event): its
	// status.decisions lack a stage decision its records hold; it is held as it
	// is until the decisions are restored.
	ReasonStatusBehindRecords = "StatusBehindRecords"
	// ReasonUnexplainedOutcome: an Approved phase that no sealed stage decisions
	// explain (written past the webhooks) gives nothing (OutcomeSealed=False).
	ReasonUnexplainedOutcome = "UnexplainedOutcome"
	// ReasonUnsealedOutcome: a DealRegistration's status.outcome or an
	// influence confirmation whose seal does not verify (written past the
	// webhooks) earns nothing (OutcomeSealed=False).
	ReasonUnsealedOutcome = "UnsealedOutcome"
	// ReasonUnsealedLifecycle (a Warning Event on a Partner): its stored
	// status.lifecycle has no valid seal, was written past the webhooks and
	// counted for nothing.
	ReasonUnsealedLifecycle = "UnsealedLifecycle"
	// ReasonNoTiers: a program without tiers, whose partners can hold none.
	ReasonNoTiers = "NoTiers"
	// ReasonTiersNotResolved: some of a program's tiers do not fit its catalog.
	ReasonTiersNotResolved = "TiersNotResolved"
	// ReasonTierRetired: the tier is retired; holders keep it for its grace period,
	// nobody new qualifies.
	ReasonTierRetired = "TierRetired"
)
