package review

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// Attention is what an open request's stored status says someone should hear
// about: a stage's SLA that passed, and an escalation owner who must decide.
// The manager's per-request gauges (and through them the alerts) are read from
// it; it looks only at what the controller stored, at now.
type Attention struct {
	// SLABreachedAt is when a stage's SLA passed, nil when none did. While the
	// current stage's deadline has passed (the controller has not acted yet) it
	// is that deadline; otherwise, while the request waits after the escalation
	// a breach caused (Escalated=True with reason SLABreached), it is when it
	// escalated.
	SLABreachedAt *time.Time
	// OwnerDeadline is, while the escalation owner decides (the current stage is
	// EscalationStage), when the request is denied EscalationExpired; nil
	// otherwise, and nil while the controller has not stored that deadline yet.
	OwnerDeadline *time.Time
	// EscalationReason is the Escalated condition's reason while the escalation
	// owner decides: SLABreached, or why no path governs the request
	// (NoMatchingPath, AmbiguousPath, PathNotFound, PathNotApplicable, ...).
	EscalationReason string
}

// AttentionOf reads the attention an open request (phase Pending, or none yet)
// needs at now; a decided request needs none.
func AttentionOf(q *v1alpha1.ExceptionRequest, now time.Time) Attention {
	var a Attention
	st := &q.Status
	if st.Phase != "" && st.Phase != v1alpha1.PhasePending {
		return a
	}
	escalated := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionEscalated)
	switch {
	case st.StageDeadline != nil && !now.Before(st.StageDeadline.Time):
		at := st.StageDeadline.Time
		a.SLABreachedAt = &at
	case escalated != nil && escalated.Status == metav1.ConditionTrue && escalated.Reason == v1alpha1.ReasonSLABreached:
		at := escalated.LastTransitionTime.Time
		a.SLABreachedAt = &at
	}
	if st.CurrentStage == EscalationStage {
		if st.StageDeadline != nil {
			d := st.StageDeadline.Time
			a.OwnerDeadline = &d
		}
		if escalated != nil && escalated.Status == metav1.ConditionTrue {
			a.EscalationReason = escalated.Reason
		}
	}
	return a
}
