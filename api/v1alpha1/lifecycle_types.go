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
}
