package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DealType is how a partner takes part in a deal.
// +kubebuilder:validation:Enum=Resale;Referral;CoSell
type DealType string

const (
	// DealResale: the partner resells; it needs the Resell entitlement.
	DealResale DealType = "Resale"
	// DealReferral: the partner refers the customer to the direct team; no entitlement is needed.
	DealReferral DealType = "Referral"
	// DealCoSell: the partner sells together with the field; it needs CoSell for the customer's segment.
	DealCoSell DealType = "CoSell"
)

// InfluenceRole is how an influencing partner advanced a deal.
// +kubebuilder:validation:Enum=Introduction;TechnicalWin;Implementation;Marketplace
type InfluenceRole string

const (
	InfluenceIntroduction   InfluenceRole = "Introduction"
	InfluenceTechnicalWin   InfluenceRole = "TechnicalWin"
	InfluenceImplementation InfluenceRole = "Implementation"
	InfluenceMarketplace    InfluenceRole = "Marketplace"
)

// Customer is the end customer a deal is for.
type Customer struct {
	// name of the customer as the partner knows it, for example "Acme Corp".
	// Registrations for the same name under another domain are flagged as
	// suspected duplicates and go to review.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// domain is the customer's web or e-mail domain, for example "acme.com". It
	// is reduced to the registrable domain (https://www.eu.acme.com/x becomes
	// acme.com), mapped through the program's domainAliases, and is the conflict
	// key with the product line. Free-mail domains are refused.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain"`

	// duns is the customer's nine-digit D-U-N-S number. When present it is a
	// second identifier of the customer: the registration holds a conflict key
	// for it as well as the domain's, and conflicts with any holder of either.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{9}$`
	DUNS string `json:"duns,omitempty"`

	// country is the ISO 3166-1 alpha-2 code of the customer's country.
	// +optional
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	Country string `json:"country,omitempty"`

	// segment is the customer's segment, for example "enterprise"; CoSell
	// registrations need the CoSell entitlement for it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Segment string `json:"segment,omitempty"`
}

// Influencer is another partner that advanced a deal it did not register: a
// claim, credited only once the program's CRM integration confirms it
// (status.influenceConfirmations).
type Influencer struct {
	// partner is the influencing Partner's name; it must be a partner of the
	// registration's program.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// namespace of the influencing Partner; the registration's namespace when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// role the partner played.
	// +required
	Role InfluenceRole `json:"role"`

	// at is when the partner influenced the deal: not before the registration's
	// submission (spec.submittedAt) nor in the future (a minute's difference of
	// clocks is allowed). Only influence within the program's influenceLookback
	// before the close is credited.
	// +required
	At metav1.Time `json:"at"`
}

// ExternalID is the deal's identifier in another system, such as the CRM.
type ExternalID struct {
	// system is the other system, for example "salesforce".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	System string `json:"system"`
	// id in that system.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ID string `json:"id"`
}

// DealRegistrationSpec is what a partner registers. The partner, the type, the
// customer and the product line cannot change once created: register again instead.
// +kubebuilder:validation:XValidation:rule="self.partner == oldSelf.partner && self.type == oldSelf.type",message="partner and type are immutable: withdraw this registration and register again",fieldPath=.partner
// +kubebuilder:validation:XValidation:rule="self.customer == oldSelf.customer",message="customer is immutable once registered: the conflict key was taken for it; withdraw and register again",fieldPath=.customer
// +kubebuilder:validation:XValidation:rule="self.productLine == oldSelf.productLine",message="productLine is immutable once registered: the conflict key was taken for it; withdraw and register again",fieldPath=.productLine
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.submittedAt) || (has(self.submittedAt) && self.submittedAt == oldSelf.submittedAt)",message="submittedAt is set by the server at registration and cannot change",fieldPath=.submittedAt
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.registrant) || (has(self.registrant) && self.registrant == oldSelf.registrant)",message="registrant is set by the server at registration and cannot change",fieldPath=.registrant
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.partnerUID) || (has(self.partnerUID) && self.partnerUID == oldSelf.partnerUID)",message="partnerUID is set by the server at registration and cannot change",fieldPath=.partnerUID
// +kubebuilder:validation:XValidation:rule="(has(self.publicTender) && self.publicTender) == (has(oldSelf.publicTender) && oldSelf.publicTender)",message="publicTender is immutable once registered: it decides eligibility; withdraw and register again",fieldPath=.publicTender
// +kubebuilder:validation:XValidation:rule="!(has(oldSelf.escalateConflict) && oldSelf.escalateConflict) || (has(self.escalateConflict) && self.escalateConflict)",message="escalateConflict cannot be taken back once set: the conflict request is decided or withdrawn with the registration",fieldPath=.escalateConflict
type DealRegistrationSpec struct {
	// partner is the registering Partner, in the same namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// type is Resale (needs Resell), Referral (needs nothing) or CoSell (needs
	// CoSell for the customer's segment).
	// +required
	Type DealType `json:"type"`

	// customer the deal is for.
	// +required
	Customer Customer `json:"customer"`

	// productLine the deal is for, for example "sync". One holder per customer
	// and product line.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	ProductLine string `json:"productLine"`

	// amount the partner expects the deal to be worth.
	// +required
	Amount Money `json:"amount"`

	// expectedCloseDate is when the partner expects the deal to close.
	// +optional
	ExpectedCloseDate *metav1.Time `json:"expectedCloseDate,omitempty"`

	// influencers are other partners of the program that advanced the deal, as
	// the registering partner claims it. A won deal credits a claim as
	// influenced revenue (never as sourced) only when the program's CRM
	// integration confirmed it (status.influenceConfirmations). They cannot
	// change once the outcome is reported.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Influencers []Influencer `json:"influencers,omitempty"`

	// externalIDs are the deal's identifiers in other systems.
	// +optional
	// +listType=map
	// +listMapKey=system
	// +kubebuilder:validation:MaxItems=4
	ExternalIDs []ExternalID `json:"externalIDs,omitempty"`

	// registrant is who registered the deal. The server sets it from the
	// authenticated identity; a value written by the user is replaced.
	// +optional
	Registrant *UserInfo `json:"registrant,omitempty"`

	// submittedAt is when the server admitted the registration, to the
	// microsecond: the earliest submission wins a conflict. Set by the server.
	// +optional
	SubmittedAt *metav1.MicroTime `json:"submittedAt,omitempty"`

	// partnerUID is the UID of the Partner at registration (set by the server).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PartnerUID string `json:"partnerUID,omitempty"`

	// withdrawn, set by the partner, ends the registration and releases the
	// customer to the next registration in line.
	// +optional
	Withdrawn bool `json:"withdrawn,omitempty"`
	// extensionRequested, set by the partner while the registration is
	// Approved, asks once for the program's protection extension
	// (spec.dealRegistration.extension), decided through the registration's
	// review path. While it is under review protection holds; once approved,
	// protection runs for the extension from the later of the approval and
	// status.protectedUntil.
	// +optional
	ExtensionRequested bool `json:"extensionRequested,omitempty"`

	// escalateConflict, set by the partner while the registration is Queued
	// behind another partner's registration, asks once for the conflict to be
	// decided through the program's conflict review path
	// (spec.dealRegistration.conflictReviewPath) as an ExceptionRequest of type
	// DealConflict. If it is approved, this registration takes the customer
	// from the registration it was escalated against, which Expires with
	// reason ConflictLost; if it is denied, this one stays in line. A direct
	// team's claim is not escalated here: it is released in the CRM.
	// +optional
	EscalateConflict bool `json:"escalateConflict,omitempty"`

	// publicTender says the customer buys through a public tender or open bid.
	// The program's publicTenders rule decides whether such registrations are
	// Ineligible (the default: a tender is open to every bidder, so no partner
	// can be protected on it) or reviewed, never approved automatically.
	// Immutable once registered.
	// +optional
	PublicTender bool `json:"publicTender,omitempty"`
}

// DealPhase summarises where a registration is.
// +kubebuilder:validation:Enum=Submitted;UnderReview;Approved;Queued;Rejected;Won;Lost;Expired;Withdrawn
type DealPhase string

const (
	// DealSubmitted: admitted, not yet evaluated.
	DealSubmitted DealPhase = "Submitted"
	// DealUnderReview: holds the customer and waits for its review path.
	DealUnderReview DealPhase = "UnderReview"
	// DealApproved: holds the customer, protected until status.protectedUntil.
	DealApproved DealPhase = "Approved"
	// DealQueued: another registration (or the direct team) holds the customer;
	// this one gets it, in submission order, when the holder's protection ends.
	DealQueued DealPhase = "Queued"
	// DealRejected: refused, with the reason in status.reason.
	DealRejected DealPhase = "Rejected"
	// DealWon, DealLost: the outcome the trusted CRM reported.
	DealWon  DealPhase = "Won"
	DealLost DealPhase = "Lost"
	// DealExpired: protection ended without an outcome.
	DealExpired DealPhase = "Expired"
	// DealWithdrawn: the partner withdrew it.
	DealWithdrawn DealPhase = "Withdrawn"
)

// Reasons a registration is Rejected or Queued.
const (
	ReasonDealDuplicate     = "Duplicate"
	ReasonDealDirectEngaged = "DirectEngaged"
	ReasonDealNotEntitled   = "NotEntitled"
	ReasonDealIneligible    = "Ineligible"
	ReasonDealReviewDenied  = "ReviewDenied"
	// ReasonDealReviewUnexplained: the registration's review request is not
	// being decided: Approved with no sealed decision explaining it, or held
	// because its status is behind its records. It holds no customer.
	ReasonDealReviewUnexplained = "ReviewUnexplained"
	ReasonDealHeld              = "HeldByAnother"
	ReasonDealAutoApproved      = "AutoApproved"
	ReasonDealReviewed          = "ReviewApproved"
	ReasonDealProtectionEnd     = "ProtectionEnded"
	ReasonDealLostHolder        = "ProtectionLost"
	// ReasonDealReserved: the customer is one of the program's reservedAccounts,
	// which only the direct team holds (phase Rejected, like DirectEngaged).
	ReasonDealReserved = "ReservedAccount"
	// ReasonDealConflictWon: an approved DealConflict request gave the customer
	// to this registration ahead of its holder.
	ReasonDealConflictWon = "ConflictApproved"
	// ReasonDealConflictLost: an approved DealConflict request gave this
	// registration's customer to another registration.
	ReasonDealConflictLost = "ConflictLost"
	// ReasonDealUnsealedStanding ends an Approved or Won registration whose
	// stored standing (phase, approval, protection, results, attribution) has
	// no valid seal: it was written past the webhooks and gives nothing.
	ReasonDealUnsealedStanding = "UnsealedStanding"
	// ReasonDealUnsealedLock (a Warning Event on a registration) says a
	// DealLock of one of its keys has no valid seal: written past the
	// webhooks, it holds nothing and was read as free.
	ReasonDealUnsealedLock = "UnsealedLock"
)

// DealHolder names who holds a conflict key.
type DealHolder struct {
	// kind is Partner (a DealRegistration) or Direct (the direct sales team,
	// through the CRM integration).
	// +required
	// +kubebuilder:validation:Enum=Partner;Direct
	Kind string `json:"kind"`
	// namespace and name of the holding DealRegistration (Partner holders).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// uid of the holding DealRegistration.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`
	// partner is the holding registration's partner.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner,omitempty"`
	// opportunity is the direct team's CRM opportunity (Direct holders).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Opportunity string `json:"opportunity,omitempty"`
}

// DuplicateMatch is another registration this one resembles.
type DuplicateMatch struct {
	// namespace and name of the other DealRegistration.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// partner of the other registration.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner,omitempty"`
	// matchedOn says what matched: ConflictKey (same customer and product line),
	// or CustomerName (the same name under another domain, a suspected duplicate).
	// +required
	// +kubebuilder:validation:Enum=ConflictKey;CustomerName
	MatchedOn string `json:"matchedOn"`
}

// DealExtension is a registration's protection extension.
type DealExtension struct {
	// request is the ExceptionRequest (type DealRegistration) it is decided through.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// result is Approved or Denied once decided; empty while under review.
	// +optional
	// +kubebuilder:validation:Enum=Approved;Denied
	Result string `json:"result,omitempty"`
}

// DealConflict is a queued registration's one escalation against its holder.
type DealConflict struct {
	// request is the ExceptionRequest (type DealConflict) it is decided through.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// against is the holder the conflict was escalated against; an approval
	// takes the customer from this holder only.
	// +required
	Against DealHolder `json:"against"`
	// result is Approved, Denied, or Superseded (the holder changed before the
	// request was decided, or the registration took the customer in turn);
	// empty while under review.
	// +optional
	// +kubebuilder:validation:Enum=Approved;Denied;Superseded
	Result string `json:"result,omitempty"`
}

// DealEvent is one transition in a registration's life.
type DealEvent struct {
	// sequence numbers the registration's transitions from 1; each is recorded
	// in a DecisionRecord once (status.recordedSequence).
	// +optional
	Sequence int64 `json:"sequence,omitempty"`
	// time of the transition.
	// +required
	Time metav1.Time `json:"time"`
	// phase entered.
	// +required
	Phase DealPhase `json:"phase"`
	// reason is a CamelCase reason.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`
	// message for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// MaxDealHistory is how many transitions a registration keeps in status.history.
const MaxDealHistory = 16

// DealRegistrationStatus is the registration's standing, computed by the controller.
type DealRegistrationStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Submitted, UnderReview, Approved, Queued, Rejected, Won, Lost,
	// Expired or Withdrawn.
	// +optional
	Phase DealPhase `json:"phase,omitempty"`

	// reason for the phase, such as NotEntitled, Duplicate or DirectEngaged.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// message for people: what decided the phase and what the partner can do.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// canonicalDomain is the customer's domain as compared: registrable domain,
	// lower case, after the program's aliases.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	CanonicalDomain string `json:"canonicalDomain,omitempty"`

	// conflictKey is the registration's conflict key by canonical domain,
	// "<program>/domain:<canonicalDomain>/<productLine>", the first of
	// conflictKeys.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ConflictKey string `json:"conflictKey,omitempty"`

	// conflictKeys are every key the registration holds together, one per
	// identifier of its customer, sorted: "<program>/domain:<canonicalDomain>/<productLine>"
	// and, when spec.customer.duns is given, "<program>/duns:<duns>/<productLine>".
	// They are fixed once the registration holds them (UnderReview, Approved).
	// At most one live registration (or the direct team) holds each; a
	// registration holds all of them or none, and conflicts with any holder of
	// any of them. Each has its DealLock, named by deal.LockName.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=2
	// +kubebuilder:validation:items:MaxLength=512
	ConflictKeys []string `json:"conflictKeys,omitempty"`

	// lock names the DealLock of conflictKey.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Lock string `json:"lock,omitempty"`

	// holder is who holds the conflict key when this registration does not.
	// +optional
	Holder *DealHolder `json:"holder,omitempty"`

	// duplicates are other registrations this one resembles.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Duplicates []DuplicateMatch `json:"duplicates,omitempty"`

	// request is the ExceptionRequest (type DealRegistration) this registration
	// is reviewed through, when it is not approved automatically.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request,omitempty"`

	// extension is the registration's one protection extension, once asked for.
	// +optional
	Extension *DealExtension `json:"extension,omitempty"`

	// conflict is the registration's one conflict escalation, once asked for
	// (spec.escalateConflict).
	// +optional
	Conflict *DealConflict `json:"conflict,omitempty"`

	// approvedAt is when the registration was approved.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`

	// protectedUntil is when protection ends (exclusive, UTC): from then on the
	// registration is Expired and the customer goes to the next in line.
	// +optional
	ProtectedUntil *metav1.Time `json:"protectedUntil,omitempty"`

	// conditions: Ready, Held, DuplicateSuspected.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// history of phase changes, newest last; the oldest are dropped beyond 16
	// (each has its DecisionRecord).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	History []DealEvent `json:"history,omitempty"`

	// recordedSequence is the sequence of the newest transition that has a DecisionRecord.
	// +optional
	RecordedSequence int64 `json:"recordedSequence,omitempty"`

	// outcome is the deal's result as the program's CRM integration
	// (spec.dealRegistration.crmReporters) reports it; nobody else may write it,
	// and the controller never does.
	// +optional
	Outcome *DealOutcome `json:"outcome,omitempty"`

	// influenceConfirmations are the influence claims of spec.influencers that
	// the program's CRM integration (spec.dealRegistration.crmReporters)
	// confirms, each repeating the claim (partner, namespace, role, at) it
	// confirms: only a confirmed claim earns influenced credit. Written by the
	// CRM only, each stamped with its identity, fixed once the outcome is
	// reported (they may come in the same write).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	InfluenceConfirmations []InfluenceConfirmation `json:"influenceConfirmations,omitempty"`

	// attribution is the credit a won deal gives, computed once when the
	// outcome is reported.
	// +optional
	Attribution *Attribution `json:"attribution,omitempty"`

	// seal is the controller's keyed MAC over the decided standing (when
	// sealing is on): phase, approvedAt, protectedUntil, the extension's and
	// the conflict's results, the attribution, canonicalDomain and the
	// conflict keys (fixed once the registration holds them: a later edit of
	// the program's domainAliases or freeMailDomains moves no customer an
	// UnderReview or Approved registration holds). A standing whose seal does
	// not verify was written past the webhooks and gives nothing: an Approved
	// or Won registration is ended (UnsealedStanding), any other is decided
	// again from its sealed requests.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// DealResult is a deal's result.
// +kubebuilder:validation:Enum=Won;Lost
type DealResult string

const (
	DealResultWon  DealResult = "Won"
	DealResultLost DealResult = "Lost"
)

// DealOutcome is a closed deal's result, from the CRM.
// +kubebuilder:validation:XValidation:rule="self.result != 'Won' || has(self.amount)",message="a Won outcome needs the amount the customer signed for",fieldPath=.amount
type DealOutcome struct {
	// result is Won or Lost.
	// +required
	Result DealResult `json:"result"`
	// closedAt is when the deal closed.
	// +required
	ClosedAt metav1.Time `json:"closedAt"`
	// amount the customer signed for; required for Won.
	// +optional
	Amount *Money `json:"amount,omitempty"`
	// reportedBy is the identity that reported the outcome (set by the server).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ReportedBy string `json:"reportedBy,omitempty"`
	// seal is the server's keyed MAC over the outcome and its reporter (set by
	// the server when sealing is on). An outcome whose seal does not verify was
	// written past the admission webhook and earns nothing.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// InfluenceConfirmation is the program's CRM integration confirming one
// influence claim of spec.influencers, as claimed.
type InfluenceConfirmation struct {
	Influencer `json:",inline"`

	// confirmedBy is the identity that confirmed the claim (set by the server).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ConfirmedBy string `json:"confirmedBy,omitempty"`
	// seal is the server's keyed MAC over the claim and who confirmed it (set
	// by the server when sealing is on). A confirmation whose seal does not
	// verify was written past the admission webhook and confirms nothing.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// Credit is one partner's share of a won deal.
type Credit struct {
	// partner credited, and its namespace.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`
	// +required
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// role, for influenced credit.
	// +optional
	Role InfluenceRole `json:"role,omitempty"`
	// amount credited: the whole won amount. Sourced and influenced amounts are
	// reported separately and never added together.
	// +required
	Amount Money `json:"amount"`
}

// Attribution is who a won deal credits: the holder of the approved
// registration as sourcing; as influencing, each influencer whose claim the
// CRM confirmed, that is a partner of the program, and whose influence lies
// between the registration's submission and the close and within the
// program's influenceLookback (never the sourcing partner).
type Attribution struct {
	// sourced credit, to the registration's partner.
	// +optional
	Sourced *Credit `json:"sourced,omitempty"`
	// influenced credit, one per influencing partner.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Influenced []Credit `json:"influenced,omitempty"`
	// excluded explains influencers that got no credit (not confirmed, not a
	// partner of the program, before the submission, outside the lookback,
	// after the close, the sourcing partner itself, named twice).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=256
	Excluded []string `json:"excluded,omitempty"`
}

// DealRegistration is a partner's claim to a customer opportunity for a product
// line. At most one registration (or the direct team) holds a customer and
// product line at a time; others queue in submission order.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=deal;deals,categories=partnergov
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Customer",type=string,JSONPath=`.status.canonicalDomain`
// +kubebuilder:printcolumn:name="Product",type=string,JSONPath=`.spec.productLine`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.reason`
// +kubebuilder:printcolumn:name="Protected-Until",type=string,JSONPath=`.status.protectedUntil`,description="When protection ends (UTC); a date column would show a future time as <invalid>"
type DealRegistration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the partner registers.
	// +required
	Spec DealRegistrationSpec `json:"spec"`

	// status is the registration's standing.
	// +optional
	Status DealRegistrationStatus `json:"status,omitempty"`
}

// DealRegistrationList is a list of DealRegistrations.
// +kubebuilder:object:root=true
type DealRegistrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DealRegistration `json:"items"`
}

// DealLockSpec says who holds one conflict key.
// +kubebuilder:validation:XValidation:rule="self.program == oldSelf.program && self.conflictKey == oldSelf.conflictKey",message="a lock's program and conflictKey are fixed by its name"
type DealLockSpec struct {
	// program the conflict key belongs to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Program string `json:"program"`

	// conflictKey held, exactly as in DealRegistration status.conflictKeys:
	// "<program>/domain:<canonical domain>/<productLine>" or
	// "<program>/duns:<nine digits>/<productLine>", where the canonical domain
	// is the customer's registrable domain, lower case, after the program's
	// domainAliases (what status.canonicalDomain shows). The lock's name is
	// "deal-" followed by the first 40 hex digits of the SHA-256 of the key.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ConflictKey string `json:"conflictKey"`

	// holder of the key.
	// +required
	Holder DealHolder `json:"holder"`

	// since is when the holder took the key.
	// +required
	Since metav1.MicroTime `json:"since"`

	// until, for Direct holders, is when the direct team's claim ends; the
	// CRM integration removes or extends it. Absent: until the lock is deleted.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`

	// takenThrough names the DealConflict ExceptionRequest (namespace/name)
	// whose approval gave the key to this holder ahead of the previous one.
	// +optional
	// +kubebuilder:validation:MaxLength=317
	TakenThrough string `json:"takenThrough,omitempty"`

	// seal is partnergov's keyed MAC over the program, the key, the holder
	// (kind, namespace, name, uid, partner, opportunity), since, until and
	// takenThrough, when sealing is on: the controller seals the locks it takes
	// for registrations, and the admission webhook seals the direct team's
	// claims the program's CRM integration (spec.dealRegistration.crmReporters)
	// writes; a value anyone else writes is removed. A lock whose seal does not
	// verify was written past the webhooks: it holds nothing and reads as free
	// (the first registration in line takes it over), with a Warning Event
	// UnsealedLock on each registration that reads it.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// DealLock is the one object per program, customer and product line that says
// who holds it: a DealRegistration (taken by the controller) or the direct team
// (written by the program's CRM integration). Its name is derived from the
// conflict key, so the API server's uniqueness of names is what makes the holder
// unique, even when registrations race or the manager crashes.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=partnergov
// +kubebuilder:printcolumn:name="Key",type=string,JSONPath=`.spec.conflictKey`
// +kubebuilder:printcolumn:name="Holder",type=string,JSONPath=`.spec.holder.kind`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.holder.partner`
// +kubebuilder:printcolumn:name="Registration",type=string,JSONPath=`.spec.holder.name`
type DealLock struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says who holds the key.
	// +required
	Spec DealLockSpec `json:"spec"`
}

// DealLockList is a list of DealLocks.
// +kubebuilder:object:root=true
type DealLockList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DealLock `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DealRegistration{}, &DealRegistrationList{}, &DealLock{}, &DealLockList{})
}
