package controllers

import "k8s.io/apimachinery/pkg/types"

// RememberSequence and SequenceRemembered let the envtests of package
// controllers_test see the partner reconciler's per-partner rollback memory.
func (r *PartnerReconciler) RememberSequence(key types.NamespacedName, uid types.UID, sequence int64) {
	r.sequences.Store(key, seenSequence{uid: uid, sequence: sequence})
}

func (r *PartnerReconciler) SequenceRemembered(key types.NamespacedName) bool {
	_, ok := r.sequences.Load(key)
	return ok
}
