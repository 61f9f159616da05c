package controllers

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// TestThePartnerReconcilerForgetsTheSequenceOfAGonePartner: the newest tier
// sequence seen per partner (the rollback check's memory) goes with the
// partner, so a busy program's manager does not keep one entry per partner
// it ever reconciled.
func TestThePartnerReconcilerForgetsTheSequenceOfAGonePartner(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	r := &PartnerReconciler{Client: fake.NewClientBuilder().WithScheme(s).Build()}
	gone := types.NamespacedName{Namespace: "partners", Name: "acme"}
	r.sequences.Store(gone, seenSequence{uid: "uid-1", sequence: 7})
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: gone}); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.sequences.Load(gone); ok {
		t.Fatal("the sequence of a deleted partner is still held")
	}
}
