// Package conditions is the one place partnergov sets status conditions, so that
// every condition carries the observed generation and keeps its transition time
// while its status does not change (as Cluster API's util/conditions does).
package conditions

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Set adds or updates the condition of the given type. LastTransitionTime changes
// only when the status changes; ObservedGeneration is always the given generation.
func Set(conds *[]metav1.Condition, generation int64, now metav1.Time, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		ObservedGeneration: generation,
		LastTransitionTime: now,
		Reason:             reason,
		Message:            truncate(message),
	})
}

// True reports whether the condition of the given type is present and True.
func True(conds []metav1.Condition, typ string) bool {
	return meta.IsStatusConditionTrue(conds, typ)
}

// Status turns a bool into a condition status.
func Status(b bool) metav1.ConditionStatus {
	if b {
		return metav1.ConditionTrue
	}
	return metav1.ConditionFalse
}

// maxMessage is the API's limit on a condition message.
const maxMessage = 32768

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage-3] + "..."
}
