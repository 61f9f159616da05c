package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ListingKind is what a listing offers.
// +kubebuilder:validation:Enum=App;Integration;Service
type ListingKind string

const (
	// ListingKindApp is an application in the marketplace.
	ListingKindApp ListingKind = "App"
	// ListingKindIntegration connects the company's product with another; publishing
	// one needs the Implement entitlement as well as List.
	ListingKindIntegration ListingKind = "Integration"
	// ListingKindService is a professional service offering.
	ListingKindService ListingKind = "Service"
)

// ListingVersion is one version of a listing.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.releasedAt) || (has(self.releasedAt) && self.releasedAt == oldSelf.releasedAt && has(self.notes) == has(oldSelf.notes) && (!has(self.notes) || self.notes == oldSelf.notes))",message="a released version is immutable: releasedAt and notes cannot change once releasedAt is set; release a new version instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.deprecatedAt) || (has(self.deprecatedAt) && self.deprecatedAt == oldSelf.deprecatedAt)",message="deprecatedAt cannot change or be removed once set"
// +kubebuilder:validation:XValidation:rule="!has(self.sunsetAt) || has(self.deprecatedAt)",message="a version with sunsetAt must be deprecated first: set deprecatedAt",fieldPath=.sunsetAt
// +kubebuilder:validation:XValidation:rule="!has(self.sunsetAt) || !has(self.deprecatedAt) || self.sunsetAt > self.deprecatedAt",message="sunsetAt must be after deprecatedAt",fieldPath=.sunsetAt
// +kubebuilder:validation:XValidation:rule="!has(self.deprecatedAt) || has(self.releasedAt)",message="only a released version can be deprecated: set releasedAt first",fieldPath=.deprecatedAt
type ListingVersion struct {
	// version is a semantic version such as "2.1.0" or "3.0.0-rc.1".
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`
	Version string `json:"version"`

	// releasedAt is when the version was released. A released version's release
	// fields can no longer change.
	// +optional
	ReleasedAt *metav1.Time `json:"releasedAt,omitempty"`

	// notes describe the version's changes for buyers and builders.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Notes string `json:"notes,omitempty"`

	// deprecatedAt is when the version was deprecated. Deprecation needs a sunsetAt
	// at least the program's listingDeprecationNotice later.
	// +optional
	DeprecatedAt *metav1.Time `json:"deprecatedAt,omitempty"`

	// sunsetAt is when the deprecated version stops being offered. It may not be
	// removed from the list before then.
	// +optional
	SunsetAt *metav1.Time `json:"sunsetAt,omitempty"`
}

// ListingClaims are badges the listing asks to show. Each is shown only with its evidence.
type ListingClaims struct {
	// certified asks for the certified badge; it needs the ClaimCertification
	// entitlement and an approved Certification readiness claim for the product.
	// +optional
	Certified bool `json:"certified,omitempty"`
	// securityReviewed asks for the security-reviewed badge; it needs an approved
	// SecurityReview readiness claim for the product.
	// +optional
	SecurityReviewed bool `json:"securityReviewed,omitempty"`
}

// ListingSpec is the desired listing.
type ListingSpec struct {
	// partner is the name of the Partner, in the same namespace, that offers the listing.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// product is the name of the offered product, such as "acme-sync".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Product string `json:"product"`

	// kind is App, Integration or Service.
	// +required
	Kind ListingKind `json:"kind"`

	// description for the marketplace.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Description string `json:"description,omitempty"`

	// versions of the listing, keyed by version.
	// +optional
	// +listType=map
	// +listMapKey=version
	// +kubebuilder:validation:MaxItems=64
	Versions []ListingVersion `json:"versions,omitempty"`

	// claims are the badges the listing asks to show.
	// +optional
	Claims ListingClaims `json:"claims,omitempty"`
}

// NoticeKind is the kind of a change notice.
// +kubebuilder:validation:Enum=Deprecated;Sunset
type NoticeKind string

const (
	NoticeDeprecated NoticeKind = "Deprecated"
	NoticeSunset     NoticeKind = "Sunset"
)

// ChangeNotice tells buyers and builders of a deprecation or a sunset.
type ChangeNotice struct {
	// time the notice was given.
	// +required
	Time metav1.Time `json:"time"`
	// version the notice is about.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Version string `json:"version"`
	// kind is Deprecated or Sunset.
	// +required
	Kind NoticeKind `json:"kind"`
	// sunsetAt is when the version is withdrawn.
	// +optional
	SunsetAt *metav1.Time `json:"sunsetAt,omitempty"`
	// message for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// ListingUsage is adoption feedback reported by the partner's integration or a
// trusted marketplace identity.
type ListingUsage struct {
	// views of the listing.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Views int64 `json:"views,omitempty"`
	// installs started.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Installs int64 `json:"installs,omitempty"`
	// activeInstalls in use now.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ActiveInstalls int64 `json:"activeInstalls,omitempty"`
	// observedAt is when the figures were true.
	// +required
	ObservedAt metav1.Time `json:"observedAt"`
	// source is the authenticated identity that reported the figures (set by the server).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Source string `json:"source,omitempty"`
}

// ListingStatus is the observed state of a Listing.
type ListingStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// publishedVersions are the versions shown in the marketplace.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	PublishedVersions []string `json:"publishedVersions,omitempty"`

	// latestVersion is the newest released version that is not deprecated.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	LatestVersion string `json:"latestVersion,omitempty"`

	// shownClaims are the badges shown: "Certified", "SecurityReviewed".
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4
	ShownClaims []string `json:"shownClaims,omitempty"`

	// shownClaimsSummary is shownClaims joined by commas, for printing.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ShownClaimsSummary string `json:"shownClaimsSummary,omitempty"`

	// usage is the latest adoption feedback.
	// +optional
	Usage *ListingUsage `json:"usage,omitempty"`

	// notices are change notices given for this listing, newest last: at most one
	// deprecation and one sunset notice per version.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	Notices []ChangeNotice `json:"notices,omitempty"`

	// conditions describe the listing; Published, ClaimsVerified, LowAdoption and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// recordedPublication is the transition time of the Published condition that
	// has a DecisionRecord.
	// +optional
	RecordedPublication *metav1.Time `json:"recordedPublication,omitempty"`
}

// Listing is a partner's marketplace listing or integration. It is published only
// while the partner is entitled, and shows only the claims that have evidence.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=plisting,categories=partnergov
// +kubebuilder:selectablefield:JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.kind`
// +kubebuilder:printcolumn:name="Published",type=string,JSONPath=`.status.conditions[?(@.type=="Published")].status`
// +kubebuilder:printcolumn:name="Claims",type=string,JSONPath=`.status.shownClaimsSummary`
// +kubebuilder:printcolumn:name="Latest",type=string,JSONPath=`.status.latestVersion`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Listing struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired listing.
	// +required
	Spec ListingSpec `json:"spec"`

	// status is written by the controller (and usage by trusted integrations).
	// +optional
	Status ListingStatus `json:"status,omitempty"`
}

// ListingList is a list of Listings.
// +kubebuilder:object:root=true
type ListingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Listing `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Listing{}, &ListingList{})
}
