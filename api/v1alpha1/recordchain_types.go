package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	recordsv1alpha1 "github.com/partnergov/partnergov/api/records/v1alpha1"
)

// RecordChainSpec is where one partner's chain of DecisionRecords ends.
// +kubebuilder:validation:XValidation:rule="self.partner == oldSelf.partner",message="a RecordChain's partner is fixed by its name"
type RecordChainSpec struct {
	// partner whose records (spec.partner) the chain links, in this namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// sequence of the partner's newest record (its spec.chain.sequence).
	// +required
	// +kubebuilder:validation:Minimum=1
	Sequence int64 `json:"sequence"`

	// digest of the partner's newest record (its spec.chain.digest).
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	Digest string `json:"digest"`

	// newest is the partner's newest record, whole. The controller writes it
	// here before it creates the record (a write-ahead entry: a crash between
	// the two leaves it here, and the partner's next record creates it first),
	// and keeps it after.
	// +required
	Newest ChainedRecord `json:"newest"`

	// newestTierChange names the partner's newest recorded tier decision (a
	// TierChange record), kept here as the chain moves on with records of other
	// kinds. A partner whose status.history holds neither that decision nor a
	// sealed one newer than it was rolled back past its records: the
	// controller decides its tier again (reason StatusBehindRecords). Unset
	// until the partner's first tier decision is recorded.
	// +optional
	NewestTierChange *RecordedDecision `json:"newestTierChange,omitempty"`

	// seal is the controller's seal over the namespace, partner, sequence,
	// digest and newestTierChange: a head written past the webhooks does not
	// verify, and the controller then resumes the chain from the stored
	// records instead (and ignores its newestTierChange).
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Seal string `json:"seal,omitempty"`
}

// RecordedDecision names one recorded decision of a partner: the record's
// name and the decision's time, as the record holds them.
type RecordedDecision struct {
	// name of the DecisionRecord, in the RecordChain's namespace. It derives
	// from the decision (record.TierChangeName for a tier decision), so the
	// decision in status.history that it records is found by it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// time of the decision (the record's spec.time).
	// +required
	Time metav1.Time `json:"time"`

	// subjectUID is the UID of the partner the decision is about (the
	// record's spec.subject.uid): a partner created again under the same name
	// is not held to its predecessor's records.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	SubjectUID string `json:"subjectUID,omitempty"`
}

// ChainedRecord is a DecisionRecord as a RecordChain holds it.
type ChainedRecord struct {
	// name of the record, in the RecordChain's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// labels of the record.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// spec of the record, its spec.chain included.
	// +required
	Spec recordsv1alpha1.DecisionRecordSpec `json:"spec"`
}

// RecordChain is the sealed head of one partner's chain of DecisionRecords: the
// sequence and digest of its newest record, and that record. Only the
// controller writes it, one record at a time per partner, before it creates the
// record; `kubectl partnergov history --verify` checks the stored records
// against it. It is named after the partner (record.ChainName) and lives in the
// partner's namespace: deleting the namespace deletes it.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=partnergov
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Sequence",type=integer,JSONPath=`.spec.sequence`
// +kubebuilder:printcolumn:name="Newest",type=string,JSONPath=`.spec.newest.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RecordChain struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the chain's head.
	// +required
	Spec RecordChainSpec `json:"spec"`
}

// RecordChainList is a list of RecordChains.
// +kubebuilder:object:root=true
type RecordChainList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RecordChain `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RecordChain{}, &RecordChainList{})
}
