package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// applyPartnerStatus server-side-applies the fields of the partner's status the
// controller owns, as field manager FieldOwner. Evidence is left out, so the
// integrations keep owning their entries. It sends nothing when nothing changed,
// and carries the resourceVersion the decision was made on, so a decision made
// on stale evidence is refused (Conflict) and recomputed from the newer version.
func applyPartnerStatus(ctx context.Context, c client.Client, partner *v1alpha1.Partner, status v1alpha1.PartnerStatus) (written bool, err error) {
	if !statusChanged(partner.Status, status) {
		return false, nil
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ptr(withoutEvidence(status)))
	if err != nil {
		return false, err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "Partner",
		"metadata": map[string]any{
			"name": partner.Name, "namespace": partner.Namespace, "resourceVersion": partner.ResourceVersion,
		},
		"status": u,
	}}
	err = c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return false, nil // a newer version is on its way through the watch
	}
	return err == nil, err
}

func ptr[T any](v T) *T { return &v }

// truncateName keeps a generated object name within 63 characters, replacing the
// tail of a longer one with a hash so that names stay unique.
func truncateName(name string) string {
	const limit = 63
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:limit-11] + "-" + hex.EncodeToString(sum[:])[:10]
}
