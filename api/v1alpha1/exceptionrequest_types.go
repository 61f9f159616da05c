package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClaimGrant is the readiness a ReadinessClaim request asks to record.
type ClaimGrant struct {
	// kind is Certification or SecurityReview.
	// +required
	Kind ReadinessClaimKind `json:"kind"`
	// product the claim is about; listings of this product may show the badge.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Product string `json:"product"`
}

// Grant is what an approved request gives the partner.
type Grant struct {
	// tier, for TierException and TierPromotion: the PartnerTier granted.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`

	// entitlements, for IncentiveException: entitlements added to the partner's set.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	Entitlements []EntitlementName `json:"entitlements,omitempty"`

	// listing, for ListingException: the Listing kept published.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Listing string `json:"listing,omitempty"`

	// claim, for ReadinessClaim: the readiness recorded.
	// +optional
	Claim *ClaimGrant `json:"claim,omitempty"`

	// deal, for DealRegistration and DealConflict: the DealRegistration, in the
	// same namespace, that approval approves (or gives the customer to).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Deal string `json:"deal,omitempty"`

	// businessPlan, for BusinessPlan: the JointBusinessPlan, in the same
	// namespace, that approval approves.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	BusinessPlan string `json:"businessPlan,omitempty"`
}

// ExceptionRequestSpec is what is asked for, by whom and why. It cannot change once created.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable once the request is created; file a new request that supersedes this one"
// +kubebuilder:validation:XValidation:rule="self.type != 'Funds' || has(self.amount)",message="amount is required for Funds requests",fieldPath=.amount
// +kubebuilder:validation:XValidation:rule="!(self.type in ['TierException', 'TierPromotion']) || (has(self.grant) && has(self.grant.tier) && size(self.grant.tier) > 0)",message="grant.tier is required for TierException and TierPromotion requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="self.type != 'IncentiveException' || (has(self.grant) && has(self.grant.entitlements) && size(self.grant.entitlements) > 0)",message="grant.entitlements is required for IncentiveException requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="self.type != 'ListingException' || (has(self.grant) && has(self.grant.listing) && size(self.grant.listing) > 0)",message="grant.listing is required for ListingException requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="self.type != 'ReadinessClaim' || (has(self.grant) && has(self.grant.claim))",message="grant.claim is required for ReadinessClaim requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="!(self.type in ['DealRegistration', 'DealConflict']) || (has(self.grant) && has(self.grant.deal) && size(self.grant.deal) > 0)",message="grant.deal is required for DealRegistration and DealConflict requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="self.type != 'BusinessPlan' || (has(self.grant) && has(self.grant.businessPlan) && size(self.grant.businessPlan) > 0)",message="grant.businessPlan is required for BusinessPlan requests",fieldPath=.grant
// +kubebuilder:validation:XValidation:rule="!(self.type in ['TierException', 'IncentiveException', 'ListingException']) || has(self.expires)",message="expires is required for TierException, IncentiveException and ListingException grants",fieldPath=.expires
// +kubebuilder:validation:XValidation:rule="self.type != 'Funds' || !has(self.expires)",message="expires is not allowed for Funds requests: committed funds count against the quarter's cap and do not lapse",fieldPath=.expires
// +kubebuilder:validation:XValidation:rule="self.type != 'IncentiveException' || !has(self.grant) || !has(self.grant.entitlements) || self.grant.entitlements.all(e, e != 'Funds' && e != 'CoSell')",message="an IncentiveException cannot grant Funds or CoSell: ask for funds with a Funds request; co-sell segments come with a tier",fieldPath=.grant.entitlements
type ExceptionRequestSpec struct {
	// type of request: Funds, IncentiveException, ReadinessClaim, TierException,
	// ListingException, TierPromotion, DealRegistration, DealConflict or
	// BusinessPlan (the last four are opened by the controller).
	// +required
	Type RequestType `json:"type"`

	// partner is the name of the Partner, in the same namespace, the request is for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// justification says why the exception is warranted, with the evidence behind it.
	// +required
	// +kubebuilder:validation:MinLength=10
	// +kubebuilder:validation:MaxLength=4096
	Justification string `json:"justification"`

	// amount asked for; required for Funds.
	// +optional
	Amount *Money `json:"amount,omitempty"`

	// grant is what an approval gives; its field depends on type.
	// +optional
	Grant *Grant `json:"grant,omitempty"`

	// expires is when the grant lapses; required for TierException,
	// IncentiveException and ListingException.
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`

	// reviewPath names the ReviewPath to use; when empty, the one path whose
	// appliesTo matches the type and amount is used.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ReviewPath string `json:"reviewPath,omitempty"`

	// supersedes names an earlier, final request this one asks again for.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Supersedes string `json:"supersedes,omitempty"`

	// requester is who created the request. The server sets it from the
	// authenticated identity; a value written by the user is replaced.
	// +optional
	Requester *UserInfo `json:"requester,omitempty"`

	// partnerUID is the UID of the Partner when the request was created (set by the
	// server). A request applies only to that partner: a new partner of the same
	// name inherits no grant, commitment or denial.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PartnerUID string `json:"partnerUID,omitempty"`

	// onBehalfOf is the person a request is filed for, required when the creating
	// identity is automation the program lists (spec.automation, such as a GitOps
	// ServiceAccount) and refused otherwise. That person is treated as the requester
	// by every separation-of-duties rule; spec.requester still records the creator.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	OnBehalfOf string `json:"onBehalfOf,omitempty"`

	// parties are the other people the request is about, who count as the
	// requester side: their decisions never count, and no stage may be decided
	// by them. For a BusinessPlan request, the plan's author and its owners on
	// both sides; for a DealConflict, the holding registration's registrant and
	// its partner's relationship owner (the challenger's are the request's
	// onBehalfOf and partner owner). Set by the partnergov controller on the
	// requests it opens; refused from anyone else.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=24
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Parties []string `json:"parties,omitempty"`
}

// DecisionVerdict is a reviewer's decision.
// +kubebuilder:validation:Enum=Approve;Deny
type DecisionVerdict string

const (
	DecisionApprove DecisionVerdict = "Approve"
	DecisionDeny    DecisionVerdict = "Deny"
)

// ReviewDecision is one reviewer's decision on one stage. Decisions are append-only.
type ReviewDecision struct {
	// stage the decision is for; it must be the request's current stage.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Stage string `json:"stage"`

	// decision is Approve or Deny.
	// +required
	Decision DecisionVerdict `json:"decision"`

	// rationale says why, for the decision record.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Rationale string `json:"rationale"`

	// reviewer is the authenticated identity that decided (set by the server).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Reviewer string `json:"reviewer,omitempty"`

	// time of the decision (set by the server).
	// +optional
	Time *metav1.Time `json:"time,omitempty"`

	// generation of the request the decision was made on (set by the server).
	// +optional
	Generation int64 `json:"generation,omitempty"`

	// seal is the server's keyed MAC over the decision and its reviewer (set by
	// the server when sealing is on). A decision whose seal does not verify was
	// written past the admission webhook and never counts.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// RequestPhase summarises where a request is.
// +kubebuilder:validation:Enum=Pending;Approved;Denied;Expired;Withdrawn
type RequestPhase string

const (
	PhasePending  RequestPhase = "Pending"
	PhaseApproved RequestPhase = "Approved"
	PhaseDenied   RequestPhase = "Denied"
	PhaseExpired  RequestPhase = "Expired"
	// PhaseWithdrawn ends a request that no longer has a subject, such as a
	// TierPromotion whose partner stopped qualifying while it waited for review.
	// Nothing was granted, and it counts as no SLA breach.
	PhaseWithdrawn RequestPhase = "Withdrawn"
)

// ResolvedReviewPath is the copy of the path a request is reviewed under, so later
// edits of the path do not change a request under review.
type ResolvedReviewPath struct {
	// name of the ReviewPath.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// generation of the ReviewPath that was copied.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// stages as they were when the request was resolved.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Stages []ReviewStage `json:"stages,omitempty"`
	// escalationOwner as it was when the request was resolved.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	EscalationOwner string `json:"escalationOwner,omitempty"`
	// escalationSLA as it was when the request was resolved.
	// +optional
	EscalationSLA *metav1.Duration `json:"escalationSLA,omitempty"`
	// allowSameReviewerAcrossStages as it was when the request was resolved.
	// +optional
	AllowSameReviewerAcrossStages bool `json:"allowSameReviewerAcrossStages,omitempty"`
	// seal is the controller's keyed MAC over this copy (when sealing is on): an
	// approval counts only under a sealed copy of the path, so a path rewritten
	// past the webhooks (a stage dropped, a quorum lowered) explains nothing.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// RequestEvent is one transition in a request's life.
type RequestEvent struct {
	// time of the transition.
	// +required
	Time metav1.Time `json:"time"`
	// reason is a CamelCase reason such as StageApproved, Escalated or Expired.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// stage the transition concerns.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Stage string `json:"stage,omitempty"`
	// message for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// RequestOutcome is how the controller settled a request.
type RequestOutcome struct {
	// phase is the final phase the controller settled the request to.
	// +required
	Phase RequestPhase `json:"phase"`
	// time is when the controller settled the request.
	// +required
	Time metav1.Time `json:"time"`
	// reason is the CamelCase reason of the settlement, as the phase's
	// condition gives it (QuorumReached, OverCap, GrantExpired, ...).
	// +required
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
	// seal is the controller's keyed MAC over the request's UID and this
	// outcome (when sealing is on). An Approved phase whose outcome does not
	// verify, or says another phase, grants nothing.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// ExceptionRequestStatus is the review state of a request.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.retainUntil) || (has(self.retainUntil) && self.retainUntil == oldSelf.retainUntil)",message="status.retainUntil is fixed when the request is decided: the retention in force then applies"
type ExceptionRequestStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is Pending, Approved, Denied, Expired or Withdrawn.
	// +optional
	Phase RequestPhase `json:"phase,omitempty"`

	// reviewPath is the path the request is reviewed under, copied when resolved.
	// +optional
	ReviewPath *ResolvedReviewPath `json:"reviewPath,omitempty"`

	// currentStage is the stage waiting for decisions.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	CurrentStage string `json:"currentStage,omitempty"`

	// stageDeadline is when the current stage's SLA passes.
	// +optional
	StageDeadline *metav1.Time `json:"stageDeadline,omitempty"`

	// decisions are the reviewers' decisions, oldest first. Reviewers append to this
	// list through the status subresource; earlier entries never change.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Decisions []ReviewDecision `json:"decisions,omitempty"`

	// conditions: ReviewPathResolved, Approved, Denied, Escalated, Expired, Withdrawn and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// history of transitions, newest last.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	History []RequestEvent `json:"history,omitempty"`

	// recordedDecisions is how many of the decisions have a DecisionRecord.
	// +optional
	RecordedDecisions int32 `json:"recordedDecisions,omitempty"`

	// recordedPhase is the last final phase that has a DecisionRecord.
	// +optional
	RecordedPhase RequestPhase `json:"recordedPhase,omitempty"`

	// outcome is the controller's sealed settlement of the request: the final
	// phase it settled the request to (Approved, Denied, Expired or Withdrawn),
	// when and why. With sealing on, an Approved phase grants something only
	// when outcome says Approved under the controller's seal for this request,
	// besides the sealed decisions that must explain it: a denial written back
	// to Approved past the webhooks carries no such outcome. Only the
	// controller writes it.
	// +optional
	Outcome *RequestOutcome `json:"outcome,omitempty"`

	// retainUntil is when a decided request (Approved, Denied, Expired) may be
	// deleted: its decision time plus the program's recordRetention in force when
	// it was decided. The controller sets it once, with the decision's record;
	// lowering recordRetention later changes it for later decisions only.
	// +optional
	RetainUntil *metav1.Time `json:"retainUntil,omitempty"`
}

// ExceptionRequest asks for funds, an incentive exception, a readiness claim, a tier
// exception, a listing exception or a tier promotion. It is decided through a
// ReviewPath by reviewers the API server authenticates.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=exreq;preq,categories=partnergov
// +kubebuilder:selectablefield:JSONPath=`.spec.partner`
// +kubebuilder:selectablefield:JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.currentStage`
// +kubebuilder:printcolumn:name="Deadline",type=string,JSONPath=`.status.stageDeadline`
// +kubebuilder:printcolumn:name="Requester",type=string,JSONPath=`.spec.requester.username`,priority=1
// +kubebuilder:printcolumn:name="On Behalf Of",type=string,JSONPath=`.spec.onBehalfOf`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ExceptionRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the request; immutable once created.
	// +required
	Spec ExceptionRequestSpec `json:"spec"`

	// status is the review state; reviewers append decisions, the controller writes the rest.
	// +optional
	Status ExceptionRequestStatus `json:"status,omitempty"`
}

// ExceptionRequestList is a list of ExceptionRequests.
// +kubebuilder:object:root=true
type ExceptionRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ExceptionRequest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ExceptionRequest{}, &ExceptionRequestList{})
}
