package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LifecyclePhase is where a partner is in its life in the program.
// +kubebuilder:validation:Enum=Onboarding;Active;Probation;Offboarding;Offboarded
type LifecyclePhase string

const (
	// LifecycleOnboarding: the partner joined and has onboarding steps left to meet, none overdue.
	LifecycleOnboarding LifecyclePhase = "Onboarding"
	// LifecycleActive: onboarding is complete and nothing puts the partner on probation.
	LifecycleActive LifecyclePhase = "Active"
	// LifecycleProbation: an onboarding step is overdue or a Risk metric crossed the
	// catalog's probationAbove; the program's probation withholds what it names.
	LifecycleProbation LifecyclePhase = "Probation"
	// LifecycleOffboarding: spec.offboarding is set and its effective time has not
	// passed, or its consequences are still being carried out.
	LifecycleOffboarding LifecyclePhase = "Offboarding"
	// LifecycleOffboarded: the offboarding took effect and every consequence was
	// carried out; the Partner may now be deleted, its records remain.
	LifecycleOffboarded LifecyclePhase = "Offboarded"
)

// PartnerOffboarding ends a partner's membership of the program.
type PartnerOffboarding struct {
	// reason the partner leaves, for people and for the decision record.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`

	// effective is when the offboarding takes effect: from then on the partner holds
	// no entitlement, its listings are unpublished, its deal protection is released,
	// its integration identity is revoked and its open requests are withdrawn.
	// +required
	Effective metav1.Time `json:"effective"`
}

// PartnerLifecycle is where a partner is in its life in the program, as the
// controller computed it.
type PartnerLifecycle struct {
	// phase is Onboarding, Active, Probation, Offboarding or Offboarded.
	// +required
	Phase LifecyclePhase `json:"phase"`

	// since is when the partner entered the phase.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`

	// reason is a CamelCase reason for the phase, such as OnboardingStepOverdue.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason,omitempty"`

	// message explains the phase for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`

	// onboardedAt is when the partner finished onboarding: every step met, or
	// first seen Active (a program without onboarding steps, or a partner
	// adopted through the program's spec.onboarding.adoptPartnersCreatedBefore).
	// It is stored, never inferred: a partner without it goes through the
	// program's steps. From then on steps the program adds or changes no longer
	// apply to it.
	// +optional
	OnboardedAt *metav1.Time `json:"onboardedAt,omitempty"`

	// onboarding is the partner's progress with each step of its program's
	// spec.onboarding, in the program's order. Empty when the program has none.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Onboarding []OnboardingStepStatus `json:"onboarding,omitempty"`

	// probationReasons say, one sentence each, why the partner is on probation:
	// each overdue onboarding step and each Risk metric above its probationAbove
	// (the first 16). Empty when it is not.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=512
	ProbationReasons []string `json:"probationReasons,omitempty"`

	// withheld are the entitlements probation withholds now (the program's
	// spec.probation.withhold that the partner would otherwise hold).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	Withheld []EntitlementName `json:"withheld,omitempty"`

	// transitions are the partner's last phase changes, newest last, at most 8;
	// each is also kept as a LifecycleChange DecisionRecord.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Transitions []LifecycleTransition `json:"transitions,omitempty"`

	// seal is the controller's keyed MAC over the lifecycle it decided (when
	// sealing is on): phase, since, reason, onboardedAt, each onboarding
	// step's state, due and metAt, withheld and the transitions. A lifecycle
	// whose seal does not verify was written past the webhooks and counts for
	// nothing: the partner is decided again as one with no stored lifecycle
	// (it goes through the program's steps unless the program adopts it), its
	// transitions get no record, and a Warning Event UnsealedLifecycle says so.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// OnboardingStepState is how far a partner is with one onboarding step.
// +kubebuilder:validation:Enum=Met;Due;Overdue
type OnboardingStepState string

const (
	// OnboardingStepMet: the step was met (by evidence or an approved readiness
	// claim) at metAt. A step once met stays met.
	OnboardingStepMet OnboardingStepState = "Met"
	// OnboardingStepDue: the step is not met yet and its due time has not passed.
	OnboardingStepDue OnboardingStepState = "Due"
	// OnboardingStepOverdue: the step is not met and its due time has passed; the
	// partner is on Probation until it is met.
	OnboardingStepOverdue OnboardingStepState = "Overdue"
)

// Lifecycle reasons: status.lifecycle.reason, the reason of each transition
// (and of its DecisionRecord and Event), and the Probation condition's reason.
const (
	// ReasonOnboardingStarted: a partner joined a program with onboarding steps.
	ReasonOnboardingStarted = "OnboardingStarted"
	// ReasonOnboardingComplete: every onboarding step is met.
	ReasonOnboardingComplete = "OnboardingComplete"
	// ReasonOnboardingStepOverdue: an onboarding step passed its due time unmet.
	ReasonOnboardingStepOverdue = "OnboardingStepOverdue"
	// ReasonRiskThresholdExceeded: the current, trusted value of a Risk metric is
	// above the catalog's probationAbove.
	ReasonRiskThresholdExceeded = "RiskThresholdExceeded"
	// ReasonProbationLifted: nothing puts the partner on probation any more.
	ReasonProbationLifted = "ProbationLifted"
	// ReasonNotOnProbation: the Probation condition is False.
	ReasonNotOnProbation = "NotOnProbation"
	// ReasonOffboardingScheduled: spec.offboarding is set and not yet effective.
	ReasonOffboardingScheduled = "OffboardingScheduled"
	// ReasonOffboardingEffective: spec.offboarding took effect; every entitlement is withdrawn.
	ReasonOffboardingEffective = "OffboardingEffective"
	// ReasonOffboardingCancelled: spec.offboarding was removed.
	ReasonOffboardingCancelled = "OffboardingCancelled"
	// ReasonAdoptedPreExisting: a partner created before the program's
	// spec.onboarding.adoptPartnersCreatedBefore starts Active without the steps.
	ReasonAdoptedPreExisting = "AdoptedPreExisting"
	// ReasonInGoodStanding: an Active partner that was never in another phase.
	ReasonInGoodStanding = "InGoodStanding"
	// ReasonOnProbation is Ready's reason while the partner is on probation.
	ReasonOnProbation = "OnProbation"
	// ReasonOffboarded is Ready's reason once the partner is Offboarded.
	ReasonOffboarded = "Offboarded"
)

// ConditionProbation on a Partner is True while it is on probation: an onboarding
// step is overdue (reason OnboardingStepOverdue) or a Risk metric is above its
// probationAbove (reason RiskThresholdExceeded); the message lists every cause
// and what the program's probation withholds. False (reason NotOnProbation)
// otherwise. Ready stays True on probation, with reason Probation: the
// controller applied the partner's state, which is what Ready means.
const ConditionProbation = "Probation"

// OnboardingStep is one step of the program's onboarding plan: what a new
// partner must show, and by when after it joined (spec.joinedAt).
// +kubebuilder:validation:XValidation:rule="has(self.evidence) != has(self.claim)",message="an onboarding step is met either by evidence or by an approved readiness claim: set exactly one of evidence and claim"
// +kubebuilder:validation:XValidation:rule="duration(self.due) > duration('0s') && duration(self.due) <= duration('8760h')",message="due is how long after joining the step must be met: a positive duration of at most 8760h (365 days), such as 720h for 30 days",fieldPath=.due
type OnboardingStep struct {
	// name identifies the step in the partner's status, for example
	// "sales-certification". Lower case letters, digits and dashes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// description says what the partner does to meet the step, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Description string `json:"description,omitempty"`

	// due is how long after the partner's spec.joinedAt (its creationTimestamp
	// while joinedAt is unset) the step must be met, for example "720h" (30 days),
	// "1440h" (60 days) or "2160h" (90 days). An unmet step past its due time is
	// Overdue and puts the partner on Probation until it is met.
	// +required
	Due metav1.Duration `json:"due"`

	// evidence meets the step when the partner's current, trusted value of a
	// catalog metric compares with the threshold as the operator says, exactly as
	// a tier requirement does, for example sales-certifications
	// GreaterThanOrEqual 1.
	// +optional
	Evidence *TierRequirement `json:"evidence,omitempty"`

	// claim meets the step when the partner holds an approved ReadinessClaim
	// request (status.readinessClaims) of the kind, and of the product when one
	// is named.
	// +optional
	Claim *OnboardingClaim `json:"claim,omitempty"`
}

// OnboardingClaim is the approved readiness claim that meets an onboarding step.
type OnboardingClaim struct {
	// kind of readiness claim: Certification or SecurityReview.
	// +required
	Kind ReadinessClaimKind `json:"kind"`

	// product the claim must be about; empty accepts a claim about any product.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Product string `json:"product,omitempty"`
}

// Onboarding is the program's onboarding plan: the 30-60-90 day steps a new
// partner must meet.
type Onboarding struct {
	// steps a new partner must meet, each by its due time after joining.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Steps []OnboardingStep `json:"steps"`

	// adoptPartnersCreatedBefore adopts the partners that existed before the
	// program had onboarding: a partner created (metadata.creationTimestamp,
	// set by the API server) before this time that has no stored lifecycle
	// starts Active without the steps, with status.lifecycle.onboardedAt and a
	// LifecycleChange record of reason AdoptedPreExisting. Every other partner
	// goes through the steps, however late the controller first sees its
	// program. It may not be in the future (a time not yet reached adopts
	// nobody). Absent: no partner is adopted.
	// +optional
	AdoptPartnersCreatedBefore *metav1.Time `json:"adoptPartnersCreatedBefore,omitempty"`
}

// Probation says what a partner on Probation loses until it comes off.
type Probation struct {
	// withhold are the entitlements a partner on Probation does not hold, whatever
	// its tier or an approved IncentiveException grants: for example Funds (a
	// Funds request is then denied NotEntitled) and Resell (a new Resale deal
	// registration is then Rejected NotEntitled; a CoSell registration needs
	// CoSell, a Referral none, and an approved registration whose entitlement is
	// withheld loses its protection, as for a suspended partner). Empty withholds nothing: the partner is flagged (condition,
	// alert) but keeps what it holds.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	Withhold []EntitlementName `json:"withhold,omitempty"`
}

// OnboardingStepStatus is how far the partner is with one onboarding step.
type OnboardingStepStatus struct {
	// name of the program's onboarding step.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// state is Met, Due or Overdue.
	// +required
	State OnboardingStepState `json:"state"`

	// due is when the step must be met: spec.joinedAt plus the step's due.
	// +required
	Due metav1.Time `json:"due"`

	// metAt is when the controller first saw the step met. A step once met stays
	// met, whatever its evidence or claim does later: onboarding is a milestone,
	// the tier requirements govern what follows.
	// +optional
	MetAt *metav1.Time `json:"metAt,omitempty"`
}

// LifecycleTransition is one move of the partner from one phase to another.
type LifecycleTransition struct {
	// time of the move.
	// +required
	Time metav1.Time `json:"time"`

	// from is the phase before; empty for the partner's first phase.
	// +optional
	From LifecyclePhase `json:"from,omitempty"`

	// to is the phase after.
	// +required
	To LifecyclePhase `json:"to"`

	// reason is a CamelCase reason such as OnboardingStepOverdue.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`

	// message explains the move for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// MaxLifecycleTransitions is how many transitions status.lifecycle keeps; each
// is also kept as a LifecycleChange DecisionRecord.
const MaxLifecycleTransitions = 8
