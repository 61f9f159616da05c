package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxFundsReservations bounds FundsLedger spec.reservations: the most Funds
// approvals one program may count in one quarter and currency under a budget.
const MaxFundsReservations = 2048

// FundsReservation is one Funds request counted against a program's budget.
type FundsReservation struct {
	// namespace of the ExceptionRequest.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// request is the ExceptionRequest's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request"`

	// uid of the ExceptionRequest: a request created again under the same name
	// holds nothing of its predecessor's reservation.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	UID string `json:"uid"`

	// partner the request is for.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Partner string `json:"partner"`

	// amount reserved: the request's spec.amount, in the ledger's currency.
	// +required
	Amount Decimal `json:"amount"`

	// reservedAt is when the controller reserved the amount, before it wrote
	// the approval; for an approval counted without a reservation (made before
	// the budget existed, or a ledger written again from the approvals), when
	// it was approved.
	// +required
	ReservedAt metav1.Time `json:"reservedAt"`
}

// FundsLedgerSpec is what one program has committed in one quarter and currency.
// +kubebuilder:validation:XValidation:rule="self.program == oldSelf.program && self.quarter == oldSelf.quarter && self.currency == oldSelf.currency",message="a ledger's program, quarter and currency are fixed by its name"
type FundsLedgerSpec struct {
	// program whose budget the ledger counts against.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Program string `json:"program"`

	// quarter of the budget, such as "2026-Q3".
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-Q[1-4]$`
	Quarter string `json:"quarter"`

	// currency of the budget and of every amount in the ledger.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency"`

	// budget is the program's budget for the quarter and currency when the
	// ledger was last written (spec.funds.budgets), for people reading it.
	// +required
	Budget Decimal `json:"budget"`

	// committed is the sum of the reservations' amounts.
	// +required
	Committed Decimal `json:"committed"`

	// reservations are the Funds requests counted against the budget, sorted
	// by namespace and name: those approved in the quarter, and those whose
	// approval is being written (reserved before their Approved status, so
	// that two approvals racing for the last of the budget cannot both fit).
	// A reservation whose request is not Approved after it is decided again
	// (denied, withdrawn, deleted, or approved in another quarter) is dropped
	// with the ledger's next write and counts for nothing meanwhile.
	// +optional
	// +listType=map
	// +listMapKey=uid
	// +kubebuilder:validation:MaxItems=2048
	Reservations []FundsReservation `json:"reservations,omitempty"`
}

// FundsLedger is the running total of one program's Funds commitments in one
// quarter and currency, kept by the controller wherever the program has a
// budget (PartnerProgram spec.funds.budgets). Its name derives from the
// program, quarter and currency (funds.LedgerName: "<program>-<year>-q<n>-<currency>",
// lower case), so there is exactly one, and every approval against the budget
// updates it with its resourceVersion before the request's Approved status is
// written: of two approvals racing for the same budget, the second's write
// conflicts, and it is decided again against the first's reservation. Only
// the controller writes ledgers (an admission webhook refuses anyone else);
// the approvals it counts are re-derived from the requests' sealed decisions
// at each write, so a lost ledger is written again in full.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=partnergov
// +kubebuilder:printcolumn:name="Program",type=string,JSONPath=`.spec.program`
// +kubebuilder:printcolumn:name="Quarter",type=string,JSONPath=`.spec.quarter`
// +kubebuilder:printcolumn:name="Currency",type=string,JSONPath=`.spec.currency`
// +kubebuilder:printcolumn:name="Budget",type=string,JSONPath=`.spec.budget`
// +kubebuilder:printcolumn:name="Committed",type=string,JSONPath=`.spec.committed`
type FundsLedger struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the ledger, written by the controller only.
	// +required
	Spec FundsLedgerSpec `json:"spec"`
}

// FundsLedgerList is a list of FundsLedgers.
// +kubebuilder:object:root=true
type FundsLedgerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FundsLedger `json:"items"`
}

func init() {
	SchemeBuilder.Register(&FundsLedger{}, &FundsLedgerList{})
}
