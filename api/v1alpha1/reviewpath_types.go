package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RequestType is the kind of decision an ExceptionRequest asks for.
// +kubebuilder:validation:Enum=Funds;IncentiveException;ReadinessClaim;TierException;ListingException;TierPromotion;DealRegistration;DealConflict;BusinessPlan
type RequestType string

const (
	// RequestFunds asks for market development funds, counted against the quarter's cap.
	RequestFunds RequestType = "Funds"
	// RequestIncentiveException asks for entitlements the partner's tier does not grant.
	RequestIncentiveException RequestType = "IncentiveException"
	// RequestReadinessClaim asks to record a certification or security review.
	RequestReadinessClaim RequestType = "ReadinessClaim"
	// RequestTierException asks to keep at least a tier until the expiry.
	RequestTierException RequestType = "TierException"
	// RequestListingException asks to keep one listing published until the expiry.
	RequestListingException RequestType = "ListingException"
	// RequestTierPromotion is opened by the tier engine for tiers that need review.
	RequestTierPromotion RequestType = "TierPromotion"
	// RequestDealRegistration is opened by the deal controller for a registration
	// that is not approved automatically; approving it approves the registration.
	RequestDealRegistration RequestType = "DealRegistration"
	// RequestDealConflict is opened by the deal controller when a queued
	// registration's partner escalates the conflict with the registration that
	// holds the customer (spec.escalateConflict); approving it gives the
	// customer to the escalating registration.
	RequestDealConflict RequestType = "DealConflict"
	// RequestBusinessPlan is opened by the plan controller for a JointBusinessPlan's
	// goals, investments and owners; approving it approves the plan.
	RequestBusinessPlan RequestType = "BusinessPlan"
)

// TimeoutAction is what happens when a stage's SLA passes without quorum.
// +kubebuilder:validation:Enum=Escalate;Deny
type TimeoutAction string

const (
	// TimeoutEscalate moves the request to the next escalation stage, or to the
	// path's escalation owner when there is none.
	TimeoutEscalate TimeoutAction = "Escalate"
	// TimeoutDeny denies the request.
	TimeoutDeny TimeoutAction = "Deny"
)

// AppliesTo selects the requests a ReviewPath governs.
// +kubebuilder:validation:XValidation:rule="!has(self.amountGreaterThan) || !has(self.amountAtMost) || quantity(self.amountGreaterThan).isLessThan(quantity(self.amountAtMost))",message="amountGreaterThan must be less than amountAtMost"
type AppliesTo struct {
	// types of request this path governs.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Types []RequestType `json:"types"`

	// amountGreaterThan, when set, limits the path to requests whose amount is
	// greater than this value.
	// +optional
	AmountGreaterThan *Decimal `json:"amountGreaterThan,omitempty"`

	// amountAtMost, when set, limits the path to requests whose amount is at most
	// this value.
	// +optional
	AmountAtMost *Decimal `json:"amountAtMost,omitempty"`
}

// ReviewStage is one step of a review path. Its approvers are the identities with
// RBAC verb "approve" on resource "reviewpaths" with resourceName "<path>.<stage>".
// +kubebuilder:validation:XValidation:rule="duration(self.sla) > duration('0s')",message="sla must be a positive duration such as 72h: every stage's wait ends",fieldPath=.sla
type ReviewStage struct {
	// name of the stage, unique in the path, such as "partner-manager".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// quorum is how many distinct reviewers must approve for the stage to pass.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Quorum int32 `json:"quorum,omitempty"`

	// sla is how long the stage may wait for quorum, for example "72h". It must be
	// positive: every wait ends.
	// +required
	SLA metav1.Duration `json:"sla"`

	// onTimeout says what happens when the SLA passes without quorum.
	// +optional
	// +kubebuilder:default=Escalate
	OnTimeout TimeoutAction `json:"onTimeout,omitempty"`

	// escalation marks a stage that is skipped in the normal flow and entered only
	// when an earlier stage times out with onTimeout Escalate.
	// +optional
	Escalation bool `json:"escalation,omitempty"`

	// allowOverCap lets this stage approve a Funds request above the partner's
	// remaining quarterly cap; without such a stage the request is denied (OverCap).
	// +optional
	AllowOverCap bool `json:"allowOverCap,omitempty"`
}

// ReviewPathSpec is a named path of review stages.
// +kubebuilder:validation:XValidation:rule="self.stages.exists(s, !has(s.escalation) || !s.escalation)",message="a review path needs at least one stage that is not an escalation stage"
// +kubebuilder:validation:XValidation:rule="!has(self.escalationSLA) || duration(self.escalationSLA) > duration('0s')",message="escalationSLA must be a positive duration such as 72h: an escalated request's wait ends too",fieldPath=.escalationSLA
type ReviewPathSpec struct {
	// description of the path, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// appliesTo selects the requests this path governs when they name no path.
	// +required
	AppliesTo AppliesTo `json:"appliesTo"`

	// stages run in order; a request is approved when every non-escalation stage
	// reached quorum, and denied by any Deny.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:XValidation:rule="self.all(s, s.name != 'escalation')",message="stage name 'escalation' is reserved for the escalation owner"
	// +kubebuilder:validation:XValidation:rule="self.map(s, has(s.quorum) ? s.quorum : 1).sum() <= 62",message="the stages' quorums add up to more than 62: a request's status.decisions holds at most 64 decisions, which must fit every approval the stages need, one Deny and the escalation owner's decision"
	Stages []ReviewStage `json:"stages"`

	// escalationOwner decides requests that escalate past the last stage (a user
	// or group name). The owner approves as stage "escalation".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	EscalationOwner string `json:"escalationOwner"`

	// escalationSLA is how long a request escalated to the escalation owner may
	// wait for the owner's decision, for example "72h"; then it is Denied with
	// reason EscalationExpired. It must be positive: every wait ends.
	// +optional
	// +kubebuilder:default="72h"
	EscalationSLA *metav1.Duration `json:"escalationSLA,omitempty"`

	// allowSameReviewerAcrossStages lets one reviewer decide more than one stage of
	// the same request. By default a reviewer who decided one stage cannot decide
	// another: each stage is a separate pair of eyes.
	// +optional
	AllowSameReviewerAcrossStages bool `json:"allowSameReviewerAcrossStages,omitempty"`
}

// ReviewPathStatus is the observed state of a ReviewPath.
type ReviewPathStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions describe the path; Ready summarises it.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ReviewPath is a named path of review stages that funds, incentive exceptions,
// readiness claims and tier exceptions must pass. Approvers are granted by RBAC.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rpath,categories=partnergov
// +kubebuilder:printcolumn:name="Types",type=string,JSONPath=`.spec.appliesTo.types`
// +kubebuilder:printcolumn:name="Above",type=string,JSONPath=`.spec.appliesTo.amountGreaterThan`
// +kubebuilder:printcolumn:name="At Most",type=string,JSONPath=`.spec.appliesTo.amountAtMost`
// +kubebuilder:printcolumn:name="Escalation Owner",type=string,JSONPath=`.spec.escalationOwner`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReviewPath struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired path, usually kept in git.
	// +required
	Spec ReviewPathSpec `json:"spec"`

	// status is written by the controller.
	// +optional
	Status ReviewPathStatus `json:"status,omitempty"`
}

// ReviewPathList is a list of ReviewPaths.
// +kubebuilder:object:root=true
type ReviewPathList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReviewPath `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReviewPath{}, &ReviewPathList{})
}
