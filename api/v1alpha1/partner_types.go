package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PartnerType is the kind of business a partner runs with the company.
// +kubebuilder:validation:Enum=GSI;ISV;Reseller;MSP;Referral;Technology
type PartnerType string

const (
	PartnerTypeGSI        PartnerType = "GSI"
	PartnerTypeISV        PartnerType = "ISV"
	PartnerTypeReseller   PartnerType = "Reseller"
	PartnerTypeMSP        PartnerType = "MSP"
	PartnerTypeReferral   PartnerType = "Referral"
	PartnerTypeTechnology PartnerType = "Technology"
)

// PartnerSpec is the partner's desired state, usually kept in git.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.joinedAt) || (has(self.joinedAt) && self.joinedAt == oldSelf.joinedAt)",message="joinedAt is immutable once set: it is when the partner joined the program, and time to first revenue counts from it",fieldPath=.joinedAt
type PartnerSpec struct {
	// program is the name of the PartnerProgram the partner belongs to.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Program string `json:"program"`

	// displayName is the partner's name for people, such as "Acme Consulting".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DisplayName string `json:"displayName,omitempty"`

	// type of partner: GSI, ISV, Reseller, MSP, Referral or Technology.
	// +required
	Type PartnerType `json:"type"`

	// owner is the accountable internal owner of the relationship (a user name or
	// an e-mail address). Every partner has one.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Owner string `json:"owner"`

	// segments are the customer segments the partner serves, such as "enterprise".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	Segments []string `json:"segments,omitempty"`

	// regions the partner operates in, such as "emea".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	Regions []string `json:"regions,omitempty"`

	// suspended withdraws every entitlement while true, whatever the evidence says.
	// +optional
	Suspended bool `json:"suspended,omitempty"`

	// suspendedAt is when the partner was last suspended: the server sets it
	// when spec.suspended turns true (a value written by the user is replaced)
	// and keeps it after the suspension ends. A deal registration submitted
	// before it lost its protection then, even when the suspension was lifted
	// before the controller saw it.
	// +optional
	SuspendedAt *metav1.Time `json:"suspendedAt,omitempty"`

	// joinedAt is when the partner joined the program; the program scorecard's
	// time to first revenue counts from it. When it is left out at creation the
	// server sets it to the time of creation; set an earlier date when importing
	// a partner that joined before it was created here. It may not lie in the
	// future (beyond five minutes of clock skew), and cannot change once set. A
	// partner created before the field existed has none until it is set once;
	// the scorecard counts from its creationTimestamp meanwhile.
	// +optional
	JoinedAt *metav1.Time `json:"joinedAt,omitempty"`

	// integration asks for the partner's own integration identity: the systems a
	// partner runs itself (its LMS, its marketplace backend) report through it.
	// Evidence from the company's systems (CRM, surveys) needs none. Left out, the
	// partner has no identity of its own and partnergov writes nothing for it.
	// +optional
	Integration *PartnerIntegration `json:"integration,omitempty"`

	// offboarding ends the partner's membership of the program at its effective
	// time. The decision records stay; the Partner can be deleted once its
	// lifecycle phase is Offboarded.
	// +optional
	Offboarding *PartnerOffboarding `json:"offboarding,omitempty"`
}

// PartnerIntegration is the partner's own integration identity.
type PartnerIntegration struct {
	// enabled provisions, in the partner's namespace, a ServiceAccount named
	// "<partner>-integration" with a Role and RoleBinding that allow get and
	// patch on partners/status of this one Partner and listings/status of its
	// own Listings, and nothing else; the program's catalog decides which
	// metrics it may report. Setting it back to false (or removing
	// spec.integration) deletes the three objects, and with the ServiceAccount
	// every token issued for it stops working.
	// +optional
	Enabled bool `json:"enabled,omitempty"`
}

// IntegrationEnabled reports whether p asks for its own integration identity.
func (p *Partner) IntegrationEnabled() bool {
	return p.Spec.Integration != nil && p.Spec.Integration.Enabled
}

// EvidenceEntry is one reported value of a catalog metric. Integrations write their
// own entries through the status subresource, usually with server-side apply.
type EvidenceEntry struct {
	// metric is the catalog name of the metric.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`

	// value reported, in the metric's unit.
	// +required
	Value Decimal `json:"value"`

	// observedAt is when the value was true in the source system; freshness is
	// measured from here.
	// +required
	ObservedAt metav1.Time `json:"observedAt"`

	// source is the authenticated identity that reported the value. The server sets
	// it; a value written by the reporter is replaced.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Source string `json:"source,omitempty"`

	// trustedVia is the catalog rule that admitted the report, such as
	// "user:crm-sync", "group:partnergov:crm" or "serviceaccount:crm/sync"
	// (set by the server). If the catalog later drops that rule, the entry is ignored.
	// +optional
	// +kubebuilder:validation:MaxLength=300
	TrustedVia string `json:"trustedVia,omitempty"`

	// seal is the server's keyed MAC over the entry and its provenance (set by the
	// server when sealing is on). The controller ignores an entry whose seal does
	// not verify: it was written past the admission webhook.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// EntitlementSourceKind says where an effective entitlement comes from.
// +kubebuilder:validation:Enum=Tier;ExceptionRequest
type EntitlementSourceKind string

const (
	EntitlementSourceTier             EntitlementSourceKind = "Tier"
	EntitlementSourceExceptionRequest EntitlementSourceKind = "ExceptionRequest"
)

// EntitlementSource names the tier or approved request an entitlement comes from.
type EntitlementSource struct {
	// kind is Tier or ExceptionRequest.
	// +required
	Kind EntitlementSourceKind `json:"kind"`
	// name of the tier or of the request (in the partner's namespace).
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// EffectiveEntitlement is one entitlement the partner holds now, with its source.
type EffectiveEntitlement struct {
	// name of the entitlement.
	// +required
	Name EntitlementName `json:"name"`
	// segments, for CoSell.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Segments []string `json:"segments,omitempty"`
	// cap, for Funds: the most funds per calendar quarter.
	// +optional
	Cap *Money `json:"cap,omitempty"`
	// source is the tier or approved request that grants it.
	// +required
	Source EntitlementSource `json:"source"`
	// expires is when a granted entitlement lapses; absent for tier entitlements.
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`
}

// ComputedMetric is the value of a Deals metric, with the deals behind it.
type ComputedMetric struct {
	// metric is the catalog name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`
	// value computed from the deals.
	// +required
	Value Decimal `json:"value"`
	// deals counted, as namespace/name of each DealRegistration (the first 16).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=320
	Deals []string `json:"deals,omitempty"`
	// dealCount is how many deals were counted (deals lists at most 16).
	// +optional
	DealCount int32 `json:"dealCount,omitempty"`
}

// FundsCommitment is an approved funds request counted against the quarter's cap.
type FundsCommitment struct {
	// request is the name of the approved Funds ExceptionRequest.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// amount committed.
	// +required
	Amount Money `json:"amount"`
	// committedAt is when the approval was applied.
	// +required
	CommittedAt metav1.Time `json:"committedAt"`
}

// FundsStatus is the partner's funds position in the current calendar quarter.
type FundsStatus struct {
	// quarter is the calendar quarter, such as "2026-Q4".
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-Q[1-4]$`
	Quarter string `json:"quarter"`
	// cap is the quarter's cap from the partner's entitlements.
	// +optional
	Cap *Money `json:"cap,omitempty"`
	// committed is the sum of this quarter's commitments.
	// +required
	Committed Decimal `json:"committed"`
	// commitments are this quarter's approved funds requests, the newest 256;
	// older ones are folded into foldedCommitments (committed counts them all).
	// +optional
	// +listType=map
	// +listMapKey=request
	// +kubebuilder:validation:MaxItems=256
	Commitments []FundsCommitment `json:"commitments,omitempty"`
	// foldedCommitments is how many of this quarter's commitments are counted in
	// committed but no longer listed, so the list stays within its bound.
	// +optional
	FoldedCommitments int32 `json:"foldedCommitments,omitempty"`
}

// ReadinessClaimKind is the kind of readiness a claim asserts.
// +kubebuilder:validation:Enum=Certification;SecurityReview
type ReadinessClaimKind string

const (
	ReadinessClaimCertification  ReadinessClaimKind = "Certification"
	ReadinessClaimSecurityReview ReadinessClaimKind = "SecurityReview"
)

// ApprovedClaim is a readiness claim approved through a review path.
type ApprovedClaim struct {
	// kind of readiness claimed.
	// +required
	Kind ReadinessClaimKind `json:"kind"`
	// product the claim is about.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Product string `json:"product"`
	// request is the approved ReadinessClaim request.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// expires is when the claim lapses, if it does.
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`
}

// ActiveGrant is an approved exception in force for the partner.
type ActiveGrant struct {
	// request is the approved ExceptionRequest.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`
	// type of the request.
	// +required
	Type RequestType `json:"type"`
	// expires is when the grant lapses.
	// +optional
	Expires *metav1.Time `json:"expires,omitempty"`
	// tier, for TierException and TierPromotion: the tier granted.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`
	// appliedAt, for TierPromotion: when the promotion it approved took effect.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
	// spentAt, for TierPromotion: when the partner dropped below the tier the
	// approval authorized. A spent approval is used up: promoting the partner again
	// needs a new review.
	// +optional
	SpentAt *metav1.Time `json:"spentAt,omitempty"`
	// seal is the controller's keyed MAC over the entry and its marks (when
	// sealing is on). Marks without a valid seal do not count: they are
	// re-derived from the sealed tier history.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// EvidenceValue is a metric's value as it was used in a decision.
type EvidenceValue struct {
	// metric name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`
	// value used.
	// +required
	Value Decimal `json:"value"`
	// observedAt of the value used.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// TierDecision records one change of tier, so it can be explained and appealed.
type TierDecision struct {
	// time of the decision.
	// +required
	Time metav1.Time `json:"time"`
	// from is the tier held before ("" for none).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	From string `json:"from,omitempty"`
	// to is the tier held after ("" for none).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	To string `json:"to,omitempty"`
	// reason is a CamelCase reason such as Promoted, Demoted or TierException.
	// +required
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// message explains the decision for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// evidence are the metrics and values that decided.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Evidence []EvidenceValue `json:"evidence,omitempty"`
	// tierGeneration is the generation of the tier that was applied.
	// +optional
	TierGeneration int64 `json:"tierGeneration,omitempty"`
	// programGeneration is the generation of the program catalog that was applied.
	// +optional
	ProgramGeneration int64 `json:"programGeneration,omitempty"`
	// request names the ExceptionRequest behind the decision, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request,omitempty"`
	// sequence is the decision's place in the partner's history: one more than
	// its predecessor's (1 for the first decision made since tier decisions
	// were chained; 0 for decisions made before).
	// +optional
	// +kubebuilder:validation:Minimum=0
	Sequence int64 `json:"sequence,omitempty"`
	// seal is the controller's keyed MAC over the decision, its sequence and
	// its predecessor's seal (when sealing is on), so a sealed decision is
	// valid in one place of the history only. A stored tier that no sealed
	// decision explains is recomputed from evidence.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
	// previousSeal is the seal of the decision before this one (unset for the
	// first): the seal covers it, so the decision verifies on its own, as the
	// oldest entry of a history that keeps only the present (older decisions
	// live in DecisionRecords), and in a longer history only right after the
	// decision whose seal it is.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	PreviousSeal string `json:"previousSeal,omitempty"`
}

// MaxHistory is how many tier decisions a Partner keeps at most; older ones are dropped.
const MaxHistory = 20

// PartnerStatus is the observed state of a Partner: evidence reported by
// integrations, and the tier and entitlements the controller computed from it.
type PartnerStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// evidence reported by integrations, one entry per catalog metric. Each
	// integration owns its own entries (server-side apply merges them by metric).
	// +optional
	// +listType=map
	// +listMapKey=metric
	// +kubebuilder:validation:MaxItems=64
	Evidence []EvidenceEntry `json:"evidence,omitempty"`

	// tier is the name of the PartnerTier the partner holds; empty when none.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Tier string `json:"tier,omitempty"`

	// tierRank is the rank of the tier held.
	// +optional
	TierRank *int32 `json:"tierRank,omitempty"`

	// tierSince is when the current tier was granted.
	// +optional
	TierSince *metav1.Time `json:"tierSince,omitempty"`

	// qualifiedTier is the highest tier the current evidence qualifies for.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	QualifiedTier string `json:"qualifiedTier,omitempty"`

	// demotionDeadline is when the partner loses its tier unless evidence recovers.
	// +optional
	DemotionDeadline *metav1.Time `json:"demotionDeadline,omitempty"`

	// entitlements in force, each with its source; empty while suspended.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Entitlements []EffectiveEntitlement `json:"entitlements,omitempty"`

	// dealMetrics are the partner's Deals metrics (catalog metrics with source
	// Deals), computed from its won DealRegistrations and counted as evidence,
	// with the deals behind each value.
	// +optional
	// +listType=map
	// +listMapKey=metric
	// +kubebuilder:validation:MaxItems=64
	DealMetrics []ComputedMetric `json:"dealMetrics,omitempty"`

	// funds is the partner's funds position for the current quarter.
	// +optional
	Funds *FundsStatus `json:"funds,omitempty"`

	// readinessClaims are the partner's approved readiness claims, one per kind and
	// product (the one in force longest), at most 64.
	// +optional
	// +listType=map
	// +listMapKey=request
	// +kubebuilder:validation:MaxItems=64
	ReadinessClaims []ApprovedClaim `json:"readinessClaims,omitempty"`

	// grants are the approved exceptions in force.
	// +optional
	// +listType=map
	// +listMapKey=request
	// +kubebuilder:validation:MaxItems=64
	Grants []ActiveGrant `json:"grants,omitempty"`

	// conditions describe the partner's state; Ready summarises it.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lifecycle is where the partner is in its life in the program.
	// +optional
	Lifecycle *PartnerLifecycle `json:"lifecycle,omitempty"`

	// enablement is the training the partner must be enrolled in, computed from
	// the tier it holds with the tier itself (so a tier change updates it in the
	// same reconcile); the LMS integration enrolls partners from it.
	// +optional
	Enablement *PartnerEnablement `json:"enablement,omitempty"`

	// history holds the partner's present tier decisions, newest last, at most
	// 20: the newest, the newest recorded one its RecordChain names and those
	// after it (not recorded yet), and those an active TierPromotion grant's
	// marks are read from; with no recorded decision known, the newest 20.
	// Every decision is kept as a DecisionRecord (kubectl partnergov history).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	History []TierDecision `json:"history,omitempty"`
}

// Partner is a company in the partner program. Its spec is desired state from git;
// integrations report evidence into its status, and the controller computes its
// tier, entitlements and conditions from that evidence.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=partner;ptnr,categories=partnergov
// +kubebuilder:selectablefield:JSONPath=`.spec.program`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.lifecycle.phase`
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.status.tier`
// +kubebuilder:printcolumn:name="At Risk",type=string,JSONPath=`.status.conditions[?(@.type=="TierAtRisk")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Suspended",type=boolean,JSONPath=`.spec.suspended`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Partner struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the partner's desired state.
	// +required
	Spec PartnerSpec `json:"spec"`

	// status holds reported evidence and the controller's decisions.
	// +optional
	Status PartnerStatus `json:"status,omitempty"`
}

// PartnerList is a list of Partners.
// +kubebuilder:object:root=true
type PartnerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Partner `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Partner{}, &PartnerList{})
}
