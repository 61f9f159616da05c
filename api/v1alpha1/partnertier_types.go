package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ComparisonOperator compares reported evidence with a requirement's threshold.
// +kubebuilder:validation:Enum=GreaterThanOrEqual;GreaterThan;LessThanOrEqual;LessThan;Equal
type ComparisonOperator string

const (
	OperatorGreaterThanOrEqual ComparisonOperator = "GreaterThanOrEqual"
	OperatorGreaterThan        ComparisonOperator = "GreaterThan"
	OperatorLessThanOrEqual    ComparisonOperator = "LessThanOrEqual"
	OperatorLessThan           ComparisonOperator = "LessThan"
	OperatorEqual              ComparisonOperator = "Equal"
)

// TierRequirement is one condition on current, trusted evidence.
type TierRequirement struct {
	// metric is the name of a metric in the program's catalog.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`

	// operator compares the partner's current value of the metric with the threshold.
	// +required
	Operator ComparisonOperator `json:"operator"`

	// threshold is the value the evidence is compared with, for example "250000".
	// +required
	Threshold Decimal `json:"threshold"`
}

// CoSellEntitlement allows co-selling in the named customer segments.
type CoSellEntitlement struct {
	// segments where the partner may co-sell, for example "enterprise".
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	Segments []string `json:"segments"`
}

// Entitlements are what a tier allows a partner to do.
// +kubebuilder:validation:XValidation:rule="!has(self.dealProtection) || duration(self.dealProtection) > duration('0s')",message="dealProtection must be a positive duration such as 2880h",fieldPath=.dealProtection
type Entitlements struct {
	// resell allows the partner to resell the company's products.
	// +optional
	Resell bool `json:"resell,omitempty"`
	// implement allows the partner to deliver implementation services.
	// +optional
	Implement bool `json:"implement,omitempty"`
	// list allows the partner to publish marketplace listings.
	// +optional
	List bool `json:"list,omitempty"`
	// claimCertification allows the partner to show a certified badge on listings
	// that also have an approved certification claim.
	// +optional
	ClaimCertification bool `json:"claimCertification,omitempty"`
	// coSell allows co-selling with the field in the named segments.
	// +optional
	CoSell *CoSellEntitlement `json:"coSell,omitempty"`
	// fundsCapPerQuarter is the most market development funds the partner may be
	// granted in one calendar quarter. Absent means no funds.
	// +optional
	FundsCapPerQuarter *Money `json:"fundsCapPerQuarter,omitempty"`
	// dealProtection, when set, is how long this tier's partners' approved deal
	// registrations are protected, instead of the program's
	// spec.dealRegistration.protection, for example "2880h" (120 days).
	// +optional
	DealProtection *metav1.Duration `json:"dealProtection,omitempty"`
}

// PartnerTierSpec is a tier's rank, its evidence requirements and what it grants.
type PartnerTierSpec struct {
	// program is the name of the PartnerProgram whose catalog the requirements use.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Program string `json:"program"`

	// displayName is the tier's name for people, such as "Premier".
	// +optional
	// +kubebuilder:validation:MaxLength=63
	DisplayName string `json:"displayName,omitempty"`

	// rank orders the tiers of a program; 0 is the entry rank and higher is better.
	// A partner holds the highest-rank tier whose requirements it meets.
	// Every tier above rank 0 must require at least one Outcome metric.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Rank int32 `json:"rank"`

	// requirements must all be met by current, trusted evidence to qualify.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Requirements []TierRequirement `json:"requirements,omitempty"`

	// entitlements are what partners in this tier may do.
	// +optional
	Entitlements Entitlements `json:"entitlements,omitempty"`

	// demotionGracePeriod is how long a partner keeps this tier after it stops
	// qualifying, for example "720h" (30 days). Evidence that recovers within the
	// grace period cancels the demotion.
	// +optional
	// +kubebuilder:default="720h"
	DemotionGracePeriod *metav1.Duration `json:"demotionGracePeriod,omitempty"`

	// promotionReviewPath, when set, names the ReviewPath a TierPromotion request to
	// this tier must pass before the promotion takes effect.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PromotionReviewPath string `json:"promotionReviewPath,omitempty"`

	// promotionRetryAfter is how long after a TierPromotion request to this tier was
	// denied the controller waits before it opens a new one, for example "720h"
	// (30 days). A change of the partner's qualifying evidence opens one sooner.
	// +optional
	// +kubebuilder:default="720h"
	PromotionRetryAfter *metav1.Duration `json:"promotionRetryAfter,omitempty"`

	// requiredEnablement are the training tracks partners holding this tier must
	// be enrolled in. The controller publishes each partner's list in
	// status.enablement.required (this tier's tracks and those of every lower
	// rank), from which the LMS integration enrolls partners.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	RequiredEnablement []EnablementTrack `json:"requiredEnablement,omitempty"`

	// requiresBusinessPlan, when true, makes the tier need an approved, current
	// JointBusinessPlan (one whose period contains now): a partner without one
	// qualifies no higher than the tier below, whatever its evidence, and the
	// partner's PromotionPending condition says so (reason BusinessPlanRequired).
	// +optional
	RequiresBusinessPlan bool `json:"requiresBusinessPlan,omitempty"`

	// retired drains the tier: partners holding it keep it for its demotion grace
	// period and then move to the tier their evidence gives; nobody new qualifies.
	// A tier that partners hold cannot be deleted; retire it first.
	// +optional
	Retired bool `json:"retired,omitempty"`
}

// PartnerTierStatus is the observed state of a PartnerTier.
type PartnerTierStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// partners is how many partners hold this tier.
	// +optional
	Partners int32 `json:"partners,omitempty"`

	// requirementsSince is when the controller first saw the tier's current
	// generation. A demotion grace period never counts from before it: evidence
	// that fails a raised threshold fails it from the change, not from when the
	// value was observed.
	// +optional
	RequirementsSince *metav1.Time `json:"requirementsSince,omitempty"`

	// conditions describe the tier's state; CatalogResolved says whether its
	// requirements fit the catalog, Ready summarises.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PartnerTier is a rank in a partner program: the evidence it requires and the
// entitlements it grants. Tiers are earned by Outcome evidence, never by enablement alone.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ptier;tier,categories=partnergov
// +kubebuilder:printcolumn:name="Program",type=string,JSONPath=`.spec.program`
// +kubebuilder:printcolumn:name="Rank",type=integer,JSONPath=`.spec.rank`
// +kubebuilder:printcolumn:name="Partners",type=integer,JSONPath=`.status.partners`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PartnerTier struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired tier, usually kept in git.
	// +required
	Spec PartnerTierSpec `json:"spec"`

	// status is written by the controller.
	// +optional
	Status PartnerTierStatus `json:"status,omitempty"`
}

// PartnerTierList is a list of PartnerTiers.
// +kubebuilder:object:root=true
type PartnerTierList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PartnerTier `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PartnerTier{}, &PartnerTierList{})
}
