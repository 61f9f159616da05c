package guard

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

func request(decisions ...v1alpha1.ReviewDecision) *v1alpha1.ExceptionRequest {
	return &v1alpha1.ExceptionRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "funds", Generation: 1},
		Spec:       v1alpha1.ExceptionRequestSpec{Requester: &v1alpha1.UserInfo{Username: "jordan"}},
		Status: v1alpha1.ExceptionRequestStatus{
			Phase: v1alpha1.PhasePending, CurrentStage: "finance",
			ReviewPath: &v1alpha1.ResolvedReviewPath{Name: "funds-large"},
			Decisions:  decisions,
		},
	}
}

func TestRequestStatus(t *testing.T) {
	approve := v1alpha1.ReviewDecision{Stage: "finance", Decision: v1alpha1.DecisionApprove, Rationale: "budget fits"}
	stamped := approve
	stamped.Reviewer = "casey"
	approvedPhase := request(stamped)
	approvedPhase.Status.Phase = v1alpha1.PhaseApproved
	// The controller's sealed settlement (status.outcome), and a reviewer's
	// write that replaces it with an Approved one.
	denied := request(stamped)
	denied.Status.Phase = v1alpha1.PhaseDenied
	denied.Status.Outcome = &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseDenied, Reason: v1alpha1.ReasonOverCap, Seal: "v1.denied"}
	outcomeRewritten := denied.DeepCopy()
	outcomeRewritten.Status.Outcome = &v1alpha1.RequestOutcome{Phase: v1alpha1.PhaseApproved, Reason: v1alpha1.ReasonQuorumReached, Seal: "v1.replayed"}
	outcomeAdded := request(stamped)
	outcomeAdded.Status.Outcome = outcomeRewritten.Status.Outcome
	tests := map[string]struct {
		old, new     *v1alpha1.ExceptionRequest
		writer       Writer
		wantRefuse   string
		wantReviewer string
	}{
		"a reviewer appends a decision and the server stamps it": {
			old: request(), new: request(v1alpha1.ReviewDecision{Stage: "finance", Decision: v1alpha1.DecisionApprove, Rationale: "ok", Reviewer: "forged"}),
			writer: Writer{Username: "casey"}, wantReviewer: "casey",
		},
		"the requester cannot decide": {
			old: request(), new: request(approve), writer: Writer{Username: "jordan"},
			wantRefuse: "requester",
		},
		"the stamped generation is the stored one, whatever the write says": {
			old: request(), new: withGeneration(request(v1alpha1.ReviewDecision{Stage: "finance", Decision: v1alpha1.DecisionApprove, Rationale: "ok"}), 7),
			writer: Writer{Username: "casey"}, wantReviewer: "casey",
		},
		"a reviewer cannot change the phase": {
			old: request(), new: approvedPhase, writer: Writer{Username: "casey"},
			wantRefuse: "may not change status.phase",
		},
		"a reviewer cannot rewrite the controller's outcome": {
			old: denied, new: outcomeRewritten, writer: Writer{Username: "casey"},
			wantRefuse: "may not change status.outcome",
		},
		"a reviewer cannot write an outcome": {
			old: request(stamped), new: outcomeAdded, writer: Writer{Username: "casey"},
			wantRefuse: "may not change status.outcome",
		},
		"the controller writes its outcome": {
			old: request(stamped), new: denied, writer: Writer{Username: ctrlr, Controller: true},
		},
		"an earlier decision cannot be removed": {
			old: request(stamped), new: request(), writer: Writer{Username: "casey"},
			wantRefuse: "append-only",
		},
		"the controller cannot write decisions": {
			old: request(), new: request(approve), writer: Writer{Username: ctrlr, Controller: true},
			wantRefuse: "does not write review decisions",
		},
		"the controller changes the phase": {
			old: request(stamped), new: approvedPhase, writer: Writer{Username: ctrlr, Controller: true},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, added, refusal := RequestStatus(tc.old, tc.new, tc.writer, "", now)
			if tc.wantRefuse != "" {
				if refusal == nil || !strings.Contains(refusal.Message, tc.wantRefuse) {
					t.Fatalf("refusal = %v, want one containing %q", refusal, tc.wantRefuse)
				}
				return
			}
			if refusal != nil {
				t.Fatalf("refused: %s", refusal.Message)
			}
			if tc.wantReviewer != "" {
				if len(added) != 1 || added[0].Reviewer != tc.wantReviewer || added[0].Time == nil || added[0].Generation != 1 {
					t.Fatalf("added = %+v", added)
				}
				if got.Decisions[0].Reviewer != tc.wantReviewer {
					t.Fatalf("stored reviewer %q", got.Decisions[0].Reviewer)
				}
			}
		})
	}
	if got := ApproverResource("funds-large", "finance"); got != "funds-large.finance" {
		t.Fatal(got)
	}
	if got := ApproverResource("", "escalation"); got != "escalation" {
		t.Fatal(got)
	}
}

func withGeneration(r *v1alpha1.ExceptionRequest, g int64) *v1alpha1.ExceptionRequest {
	r.Generation = g
	return r
}
