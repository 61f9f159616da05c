// Package controllers holds partnergov's reconcilers. Each reads its object, computes
// the desired status with a pure function from internal/, writes status once and only
// when it changed, and requeues at the next deadline.
package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldOwner is the field manager of every status write the controller makes.
const FieldOwner = "partnergov-controller"

// updateStatusIfChanged writes obj's status when it differs from before; it sends
// nothing for a no-op reconcile. A conflict means a newer version exists and will be
// reconciled again, so it is not an error.
func updateStatusIfChanged(ctx context.Context, c client.Client, obj client.Object, before, after any) error {
	if equality.Semantic.DeepEqual(before, after) {
		return nil
	}
	err := c.Status().Update(ctx, obj, client.FieldOwner(FieldOwner))
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// eventType is the Kubernetes event type of a transition.
func eventType(warning bool) string {
	if warning {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}
