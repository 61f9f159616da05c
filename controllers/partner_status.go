package controllers

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// applyStatus server-side-applies the status fields the controller owns, as field
// manager FieldOwner; the fields named in shared (written by integrations or
// reviewers) are left out, so their writers keep owning them. It carries the
// resourceVersion the decision was made on, so a decision computed from a stale
// object is refused (Conflict) and recomputed from the newer version, which the
// watch is already delivering.
func applyStatus(ctx context.Context, c client.Client, obj client.Object, kind string, status any, shared ...string) (written bool, err error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return false, err
	}
	for _, f := range shared {
		delete(u, f)
	}
	patch := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata": map[string]any{
			"name": obj.GetName(), "namespace": obj.GetNamespace(), "resourceVersion": obj.GetResourceVersion(),
		},
		"status": u,
	}}
	err = c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(patch), client.FieldOwner(FieldOwner), client.ForceOwnership)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// applyPartnerStatus writes the partner's computed status when it changed; the
// integrations keep owning status.evidence.
func applyPartnerStatus(ctx context.Context, c client.Client, partner *v1alpha1.Partner, status v1alpha1.PartnerStatus) (bool, error) {
	if !statusChanged(partner.Status, status) {
		return false, nil
	}
	return applyStatus(ctx, c, partner, "Partner", &status, "evidence")
}
