package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/deal"
)

// conflictParties reads the holder side of a conflict over h's customer (the
// holding registration's registrant and its partner's relationship owner,
// deal.ConflictParties), for the DealConflict request: both sides of a deal
// conflict are parties and decide none of it. The holding registration is
// looked up among others (the product line's registrations) and, when the cache
// does not have it, from the API server. A Direct holder has none.
func (r *DealReconciler) conflictParties(ctx context.Context, h v1alpha1.DealHolder, others []v1alpha1.DealRegistration) ([]string, error) {
	if h.Kind != deal.HolderPartner || h.Name == "" {
		return nil, nil
	}
	var holder *v1alpha1.DealRegistration
	for i := range others {
		if o := &others[i]; o.Namespace == h.Namespace && o.Name == h.Name && (h.UID == "" || string(o.UID) == h.UID) {
			holder = o
			break
		}
	}
	if holder == nil {
		var got v1alpha1.DealRegistration
		switch err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, &got); {
		case err == nil && (h.UID == "" || string(got.UID) == h.UID):
			holder = &got
		case err != nil && !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	owner := ""
	if h.Partner != "" {
		var p v1alpha1.Partner
		switch err := r.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Partner}, &p); {
		case err == nil:
			owner = p.Spec.Owner
		case !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	return deal.ConflictParties(holder, owner), nil
}
