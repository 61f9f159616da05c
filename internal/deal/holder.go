package deal

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// ConflictHolderPartner is the Partner holding the customer that challenger's
// DealConflict request is about (status.conflict.against), ok false when there
// is none or it is the direct team. Its relationship owner, read when a
// decision is made, is a party to the request as the owner recorded when it
// opened is: both sides of a deal conflict are parties, whoever owns the holder
// now.
func ConflictHolderPartner(challenger *v1alpha1.DealRegistration) (types.NamespacedName, bool) {
	c := challenger.Status.Conflict
	if c == nil || c.Against.Kind != HolderPartner || c.Against.Partner == "" {
		return types.NamespacedName{}, false
	}
	ns := c.Against.Namespace
	if ns == "" {
		ns = challenger.Namespace
	}
	return types.NamespacedName{Namespace: ns, Name: c.Against.Partner}, true
}
