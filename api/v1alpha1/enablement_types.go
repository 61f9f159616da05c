package v1alpha1

// EnablementTrack is one training track a tier requires its partners to be
// enrolled in, as the learning management system (LMS) names it.
type EnablementTrack struct {
	// name of the track as the LMS knows it, such as "solution-architect".
	// Lower case letters, digits and dashes.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// description says what the track covers, for people and for the LMS.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// MaxRequiredTracks bounds Partner status.enablement.required.
const MaxRequiredTracks = 64

// RequiredTrack is one training track a partner must be enrolled in.
type RequiredTrack struct {
	// track is the name of the track, as the tier's spec.requiredEnablement names it.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Track string `json:"track"`

	// tier is the lowest-ranked tier, at or below the partner's own, that requires
	// the track: the partner keeps needing it for as long as it holds that tier or
	// a higher one.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier"`

	// description of the track, copied from the tier.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// PartnerEnablement is the training a partner must be enrolled in, published for
// the LMS integration, which enrolls partners from it and reports completion
// back as Enablement evidence.
type PartnerEnablement struct {
	// tier is the tier the list was computed for: the tier the partner holds.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`

	// required are the tracks of the tier the partner holds and of every
	// lower-ranked tier of its program (enablement is cumulative: a Premier
	// partner keeps what Advanced requires), each listed once with the
	// lowest-ranked tier that requires it, sorted by that tier's rank and then
	// by track. At most 64 are listed; omitted counts the rest.
	// +optional
	// +listType=map
	// +listMapKey=track
	// +kubebuilder:validation:MaxItems=64
	Required []RequiredTrack `json:"required,omitempty"`

	// omitted counts the tracks left out of required at its bound.
	// +optional
	Omitted int32 `json:"omitted,omitempty"`
}
