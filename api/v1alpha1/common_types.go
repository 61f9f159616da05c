package v1alpha1

// Decimal is an exact decimal number written as a string, such as "1250000" or "4.5".
// Strings keep values exact across languages; the controller compares them as
// rational numbers, never as floating point.
// +kubebuilder:validation:Pattern=`^-?[0-9]{1,18}(\.[0-9]{1,9})?$`
// +kubebuilder:validation:MaxLength=29
type Decimal string

// Money is an amount in a currency.
type Money struct {
	// amount is the amount of money, a non-negative decimal such as "50000" or "1250.50".
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9]{1,18}(\.[0-9]{1,9})?$`
	Amount Decimal `json:"amount"`

	// currency is the ISO 4217 code of the amount, such as USD or EUR.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Z]{3}$`
	Currency string `json:"currency"`
}

// EntitlementName names one thing a partner may do in the program.
// +kubebuilder:validation:Enum=Resell;Implement;List;ClaimCertification;CoSell;Funds
type EntitlementName string

const (
	// EntitlementResell allows the partner to resell the company's products.
	EntitlementResell EntitlementName = "Resell"
	// EntitlementImplement allows the partner to deliver implementation services.
	EntitlementImplement EntitlementName = "Implement"
	// EntitlementList allows the partner to publish marketplace listings.
	EntitlementList EntitlementName = "List"
	// EntitlementClaimCertification allows the partner to show a certified badge.
	EntitlementClaimCertification EntitlementName = "ClaimCertification"
	// EntitlementCoSell allows the partner to co-sell with the field in named segments.
	EntitlementCoSell EntitlementName = "CoSell"
	// EntitlementFunds allows the partner to request funds up to a quarterly cap.
	EntitlementFunds EntitlementName = "Funds"
)

// Identities names the authenticated identities (as the API server sees them)
// that are trusted for something. An identity matches when any list matches.
type Identities struct {
	// users are user names exactly as the API server authenticates them,
	// for example "crm-sync@example.com" or "system:serviceaccount:crm:sync".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Users []string `json:"users,omitempty"`

	// groups are group names; any member of one of them matches,
	// for example "partnergov:crm-integrations".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Groups []string `json:"groups,omitempty"`

	// serviceAccounts are service accounts by namespace and name.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	ServiceAccounts []ServiceAccountReference `json:"serviceAccounts,omitempty"`
}

// ServiceAccountReference names a service account.
type ServiceAccountReference struct {
	// namespace of the service account.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// name of the service account.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// UserInfo is an identity recorded by the server from an authenticated request.
type UserInfo struct {
	// username as authenticated by the API server.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Username string `json:"username"`

	// uid of the user, when the authenticator provides one.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	UID string `json:"uid,omitempty"`

	// groups the user belonged to when the request was made.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	Groups []string `json:"groups,omitempty"`
}
