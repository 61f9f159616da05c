package controllers_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/partnergov/partnergov/controllers"
)

// TestThePartnerReconcilerForgetsTheSequenceOfAGonePartner: the newest tier
// sequence seen per partner (the rollback check's memory) goes with the
// partner, read from the real API server, so a busy program's manager does
// not keep one entry per partner it ever reconciled.
func TestThePartnerReconcilerForgetsTheSequenceOfAGonePartner(t *testing.T) {
	r := &controllers.PartnerReconciler{Client: admin}
	gone := types.NamespacedName{Namespace: newNamespace(t), Name: uniqueName("gone")}
	r.RememberSequence(gone, "uid-1", 7)
	if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: gone}); err != nil {
		t.Fatal(err)
	}
	if r.SequenceRemembered(gone) {
		t.Fatal("the sequence of a deleted partner is still held")
	}
}
