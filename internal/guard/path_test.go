package guard

import (
	"strings"
	"testing"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/review"
	"github.com/partnergov/partnergov/internal/seal"
)

// Decision integrity III, items 6 and 7: a decision is sealed only under the
// request's sealed copy of its review path. The guard authorizes a reviewer by
// the stored path copy (its name for RBAC, its escalation owner, its
// same-reviewer rule); with sealing on a copy rewritten past the webhooks
// authorizes nobody. Otherwise: forge escalationOwner and currentStage, have
// the forged owner's approval sealed, put the sealed path back, and the
// approval explains an Approved phase (review.Outcome) that no reviewer of the
// path gave.
func TestADecisionIsSealedOnlyUnderASealedPath(t *testing.T) {
	keys, _ := seal.New([]byte(strings.Repeat("k", 32)))
	path := v1alpha1.ResolvedReviewPath{Name: "exceptions", EscalationOwner: "program-owner",
		Stages: []v1alpha1.ReviewStage{{Name: "manager", Quorum: 1}}}
	path.Seal = keys.Sign(seal.Path("uid-q", path)...)
	stored := func(p *v1alpha1.ResolvedReviewPath, stage string) *v1alpha1.ExceptionRequest {
		q := request()
		q.UID, q.Status.CurrentStage, q.Status.ReviewPath = "uid-q", stage, p
		return q
	}
	forged := path.DeepCopy()
	forged.EscalationOwner = "mallory" // written past the webhooks; its seal no longer verifies
	resealedElsewhere := path.DeepCopy()
	resealedElsewhere.Seal = keys.Sign(seal.Path("uid-other", path)...)
	unsealed := path.DeepCopy()
	unsealed.Seal = ""
	escalate := v1alpha1.ReviewDecision{Stage: review.EscalationStage, Decision: v1alpha1.DecisionApprove, Rationale: "fine"}
	manage := v1alpha1.ReviewDecision{Stage: "manager", Decision: v1alpha1.DecisionApprove, Rationale: "fine"}
	writer := Writer{Username: "mallory", Seals: keys}
	for name, tc := range map[string]struct {
		old        *v1alpha1.ExceptionRequest
		decision   v1alpha1.ReviewDecision
		writer     Writer
		wantRefuse string
	}{
		"a decision under the sealed path is sealed":             {old: stored(&path, "manager"), decision: manage, writer: writer},
		"a forged escalation owner authorizes nobody":            {old: stored(forged, review.EscalationStage), decision: escalate, writer: writer, wantRefuse: "status.reviewPath"},
		"a path copy sealed for another request authorizes none": {old: stored(resealedElsewhere, "manager"), decision: manage, writer: writer, wantRefuse: "status.reviewPath"},
		"an unsealed path copy authorizes nobody":                {old: stored(unsealed, "manager"), decision: manage, writer: writer, wantRefuse: "status.reviewPath"},
		"a request with no path copy takes no decision":          {old: stored(nil, review.EscalationStage), decision: escalate, writer: writer, wantRefuse: "status.reviewPath"},
		"with sealing off the stored path is read as it is":      {old: stored(forged, review.EscalationStage), decision: escalate, writer: Writer{Username: "mallory"}},
	} {
		t.Run(name, func(t *testing.T) {
			updated := tc.old.DeepCopy()
			updated.Status.Decisions = append(updated.Status.Decisions, tc.decision)
			got, _, refusal := RequestStatus(tc.old, updated, tc.writer, "", now)
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want one containing %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if tc.writer.Seals.On() && !keys.Verify(got.Decisions[0].Seal, seal.Decision("uid-q", 0, got.Decisions[0])...) {
				t.Fatalf("the decision was not sealed: %+v", got.Decisions[0])
			}
		})
	}
	// What the refusal prevents: the forged owner's sealed approval, under the
	// sealed path put back, explains an Approved phase.
	old := stored(forged, review.EscalationStage)
	updated := old.DeepCopy()
	updated.Status.Decisions = append(updated.Status.Decisions, escalate)
	if got, _, refusal := RequestStatus(old, updated, writer, "", now); refusal == nil {
		q := stored(&path, "")
		q.Status.Phase, q.Status.Decisions = v1alpha1.PhaseApproved, got.Decisions
		if ok, _ := review.Outcome(q, keys); ok {
			t.Fatalf("an approval by a forged escalation owner explains the request's Approved phase")
		}
	}
}
