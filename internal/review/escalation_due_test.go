package review

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// An escalation explains an approval only when the path could have escalated:
// a stage that denies on timeout never escalates, and a stage escalates only
// once its SLA passed (from the request's creation, or the sealed quorum of the
// stage before it). currentStage and stageDeadline are not sealed: forged past
// the webhooks to an escalation stage, they let its approvers decide before any
// normal stage timed out.
func TestAnEscalationExplainsAnApprovalOnlyWhenItWasDue(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	path := func(stages ...v1alpha1.ReviewStage) *v1alpha1.ResolvedReviewPath {
		p := v1alpha1.ResolvedReviewPath{Name: "p", EscalationOwner: "owner", Stages: stages}
		p.Seal = keys.Sign(seal.Path("uid-q", p)...)
		return &p
	}
	decided := func(at time.Duration, ds ...v1alpha1.ReviewDecision) []v1alpha1.ReviewDecision {
		for i := range ds {
			tm := metav1.NewTime(t0.Add(at))
			ds[i].Time = &tm
			ds[i].Seal = keys.Sign(seal.Decision("uid-q", i, ds[i])...)
		}
		return ds
	}
	for name, tc := range map[string]struct {
		path      *v1alpha1.ResolvedReviewPath
		decisions []v1alpha1.ReviewDecision
		want      bool
	}{
		"an escalation stage after the manager's SLA passed": {
			path: path(stage("manager", 1, 72*time.Hour), stage("vp", 1, 0, "escalation")), decisions: decided(73*time.Hour, approve("vp", "v")), want: true},
		"an escalation stage an hour in, before the manager's SLA": {
			path: path(stage("manager", 1, 72*time.Hour), stage("vp", 1, 0, "escalation")), decisions: decided(time.Hour, approve("vp", "v")), want: false},
		"a later escalation stage after the manager's SLA passed": {
			path: path(stage("manager", 1, 72*time.Hour), stage("vp", 1, 24*time.Hour, "escalation"), stage("svp", 1, 0, "escalation")), decisions: decided(100*time.Hour, approve("svp", "s")), want: true},
		"an escalation stage before the stage that timed out": {
			path: path(stage("manager", 1, 0), stage("vp", 1, 0, "escalation"), stage("finance", 1, 72*time.Hour)), decisions: decided(100*time.Hour, approve("manager", "m"), approve("vp", "v")), want: false},
		"the owner after the manager's SLA passed": {
			path: path(stage("manager", 1, 72*time.Hour)), decisions: decided(73*time.Hour, approve(EscalationStage, "owner")), want: true},
		"the owner before the manager's SLA passed": {
			path: path(stage("manager", 1, 72*time.Hour)), decisions: decided(time.Hour, approve(EscalationStage, "owner")), want: false},
		"the owner of a path whose only stage denies on timeout": {
			path: path(stage("manager", 1, 72*time.Hour, "deny-on-timeout")), decisions: decided(100*time.Hour, approve(EscalationStage, "owner")), want: false},
	} {
		t.Run(name, func(t *testing.T) {
			q := &v1alpha1.ExceptionRequest{}
			q.UID, q.CreationTimestamp = "uid-q", metav1.NewTime(t0)
			q.Status = v1alpha1.ExceptionRequestStatus{Phase: v1alpha1.PhaseApproved, ReviewPath: tc.path, Decisions: tc.decisions,
				// The controller settles what it is shown: it followed a forged currentStage.
				Outcome: sealedOutcome(keys, "uid-q", v1alpha1.PhaseApproved, t0.Add(200*time.Hour))}
			got, why := Outcome(q, keys)
			if got != tc.want {
				t.Errorf("Outcome = %v (%s), want %v", got, why, tc.want)
			}
			if !got && !strings.Contains(why, "escalat") && !strings.Contains(why, "do not meet") {
				t.Errorf("why = %q, want it to say the path did not escalate", why)
			}
		})
	}
}
