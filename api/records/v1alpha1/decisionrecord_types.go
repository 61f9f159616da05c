package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DecisionType is the kind of decision a DecisionRecord keeps.
// +kubebuilder:validation:Enum=TierChange;StageDecision;RequestOutcome;GrantExpiry;ListingPublication;DealTransition;LifecycleChange
type DecisionType string

const (
	// DecisionTierChange: the controller moved a partner to another tier.
	DecisionTierChange DecisionType = "TierChange"
	// DecisionStageDecision: a reviewer approved or denied a stage of a request.
	DecisionStageDecision DecisionType = "StageDecision"
	// DecisionRequestOutcome: a request was approved, denied or withdrawn.
	DecisionRequestOutcome DecisionType = "RequestOutcome"
	// DecisionGrantExpiry: an approved grant expired or was used up.
	DecisionGrantExpiry DecisionType = "GrantExpiry"
	// DecisionListingPublication: a listing was published or unpublished.
	DecisionListingPublication DecisionType = "ListingPublication"
	// DecisionDealTransition: a deal registration changed phase (held, queued,
	// approved, rejected, expired, won, lost, withdrawn).
	DecisionDealTransition DecisionType = "DealTransition"
	// DecisionLifecycleChange: a partner moved to another lifecycle phase
	// (Onboarding, Active, Probation, Offboarding, Offboarded).
	DecisionLifecycleChange DecisionType = "LifecycleChange"
)

// DecisionSubject names the object a decision was about.
type DecisionSubject struct {
	// kind is Partner, ExceptionRequest, Listing or DealRegistration.
	// +required
	// +kubebuilder:validation:Enum=Partner;ExceptionRequest;Listing;DealRegistration
	Kind string `json:"kind"`
	// name of the object, in the record's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// uid of the object when the decision was made; a record outlives its subject.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`
}

// DecisionRecordSpec is one decision, as it was made. It never changes.
// +kubebuilder:validation:XValidation:rule="self.retainUntil > self.time",message="retainUntil must be after time: a record is kept at least until the decision it keeps",fieldPath=".retainUntil"
type DecisionRecordSpec struct {
	// type of decision.
	// +required
	Type DecisionType `json:"type"`

	// subject is the object the decision was about.
	// +required
	Subject DecisionSubject `json:"subject"`

	// partner is the partner the decision concerns (`kubectl partnergov history` lists by it).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// program is the partner's program when the decision was made.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Program string `json:"program,omitempty"`

	// time the decision was made.
	// +required
	Time metav1.Time `json:"time"`

	// actor is who decided: the reviewer's authenticated identity for a stage
	// decision, the controller's for what the program's rules decided.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Actor string `json:"actor"`

	// reason is a CamelCase reason such as Promoted, Approve, QuorumReached or Unpublished.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`

	// message explains the decision for people (a reviewer's rationale, the
	// controller's explanation).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Message string `json:"message,omitempty"`

	// from is the state before: a tier, a request phase, Published or Unpublished.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	From string `json:"from,omitempty"`

	// to is the state after.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	To string `json:"to,omitempty"`

	// request names the ExceptionRequest behind the decision, if any.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request,omitempty"`

	// stage of the request a stage decision was for.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Stage string `json:"stage,omitempty"`

	// evidence are the metrics and values that decided a tier change.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Evidence []EvidenceValue `json:"evidence,omitempty"`

	// policyGenerations are the generations of the rules applied: the tier's and
	// program's for a tier change, the review path's for a review decision.
	// +optional
	PolicyGenerations PolicyGenerations `json:"policyGenerations,omitempty"`

	// retainUntil is when the record may be deleted: its time plus the program's
	// recordRetention. Deletion before then is refused; after it the controller
	// prunes the record.
	// +required
	RetainUntil metav1.Time `json:"retainUntil"`

	// chain places the record in its partner's hash chain (one chain per
	// namespace and spec.partner), so that a record changed, removed, replaced
	// or reordered outside the controller is named by `kubectl partnergov
	// history --verify`. Absent on records made before records were chained.
	// +optional
	Chain *ChainLink `json:"chain,omitempty"`
}

// ChainLink is a record's place in its partner's chain. The controller assigns
// it, one record at a time per partner, after the partner's RecordChain (the
// chain's sealed head, in the governance group) has taken the record as its
// newest.
type ChainLink struct {
	// sequence is the record's place in the chain: 1 for the partner's first
	// chained record, one more for each record after it.
	// +required
	// +kubebuilder:validation:Minimum=1
	Sequence int64 `json:"sequence"`

	// previous is the digest of the partner's record before this one; empty for
	// the first.
	// +optional
	// +kubebuilder:validation:Pattern=`^([0-9a-f]{64})?$`
	Previous string `json:"previous,omitempty"`

	// previousRetainUntil is the spec.retainUntil of the record before this one:
	// once it has passed, that record (and, pruned oldest first, those before it)
	// may be gone.
	// +optional
	PreviousRetainUntil *metav1.Time `json:"previousRetainUntil,omitempty"`

	// digest is the hex SHA-256 of the record: its namespace, its name and its
	// spec, with this digest empty (record.Digest).
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	Digest string `json:"digest"`
}

// EvidenceValue is one metric value a tier decision used.
type EvidenceValue struct {
	// metric name.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`
	// value used, an exact decimal number written as a string, such as "1250000" or "4.5".
	// +required
	// +kubebuilder:validation:Pattern=`^-?[0-9]{1,18}(\.[0-9]{1,9})?$`
	// +kubebuilder:validation:MaxLength=29
	Value string `json:"value"`
	// observedAt of the value used.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// PolicyGenerations are the generations of the policy objects a decision applied.
type PolicyGenerations struct {
	// tier is the PartnerTier's generation.
	// +optional
	Tier int64 `json:"tier,omitempty"`
	// program is the PartnerProgram's generation.
	// +optional
	Program int64 `json:"program,omitempty"`
	// reviewPath is the ReviewPath's generation (as copied into the request).
	// +optional
	ReviewPath int64 `json:"reviewPath,omitempty"`
}

// DecisionRecord is the durable, immutable record of one governance decision: a
// tier change, a reviewer's stage decision, a request's outcome, a grant's expiry
// or a listing's publication change. Only the controller creates records, under a
// name derived from the decision, so a retry or a crash never records twice; none
// can be changed, and none deleted before spec.retainUntil. Records outlive the
// partner and the request they are about.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=drec,categories=partnergov
// +kubebuilder:selectablefield:JSONPath=`.spec.partner`
// +kubebuilder:selectablefield:JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.spec.reason`
// +kubebuilder:printcolumn:name="Actor",type=string,JSONPath=`.spec.actor`
// +kubebuilder:printcolumn:name="Time",type=string,JSONPath=`.spec.time`
// +kubebuilder:validation:XValidation:rule="self.spec == oldSelf.spec",message="a DecisionRecord never changes: records are immutable"
type DecisionRecord struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the decision as it was made.
	// +required
	Spec DecisionRecordSpec `json:"spec"`
}

// DecisionRecordList is a list of DecisionRecords.
// +kubebuilder:object:root=true
type DecisionRecordList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DecisionRecord `json:"items"`
}

func init() {
	SchemeBuilder.Register(&DecisionRecord{}, &DecisionRecordList{})
}
