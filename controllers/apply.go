package controllers

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// applyStatus server-side-applies the status fields the controller owns, as field
// manager FieldOwner, when they differ from the stored ones; it sends nothing for
// a no-op reconcile. The fields named in shared (written by integrations or
// reviewers) are neither compared nor sent, so their writers keep owning them. It
// carries the resourceVersion the decision was made on, so a decision computed
// from a stale object is refused (Conflict, returned as errStale) and recomputed
// from the newer version.
func applyStatus(ctx context.Context, c client.Client, obj client.Object, kind string, stored, computed any, shared ...string) (written bool, err error) {
	before, err := ownedFields(stored, shared)
	if err != nil {
		return false, err
	}
	u, err := ownedFields(computed, shared)
	if err != nil || equality.Semantic.DeepEqual(before, u) {
		return false, err
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
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case apierrors.IsConflict(err):
		return false, errStale
	}
	return err == nil, err
}

// statusChanged reports whether applyStatus would write computed over stored.
func statusChanged(stored, computed any, shared ...string) (bool, error) {
	before, err := ownedFields(stored, shared)
	if err != nil {
		return false, err
	}
	after, err := ownedFields(computed, shared)
	if err != nil {
		return false, err
	}
	return !equality.Semantic.DeepEqual(before, after), nil
}

// errStale is applyStatus's answer when the object changed after it was read.
// Reconcilers answer it with retryStale: the newer version's event may be one
// their predicates drop (the controller's own earlier write), so they look again
// once the cache has caught up rather than wait for another event.
var errStale = errors.New("the object changed since it was read")

// retryStale turns errStale into a short requeue; other results pass through.
func retryStale(res ctrl.Result, err error) (ctrl.Result, error) {
	if errors.Is(err, errStale) {
		return ctrl.Result{RequeueAfter: staleRetry}, nil
	}
	return res, err
}

// staleRetry is how long a reconcile refused as stale waits for the cache.
const staleRetry = 250 * time.Millisecond

// ownedFields is a status as the API serialises it, without the shared fields.
func ownedFields(status any, shared []string) (map[string]any, error) {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return nil, err
	}
	for _, f := range shared {
		delete(u, f)
	}
	return u, nil
}
