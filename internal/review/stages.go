package review

import (
	"github.com/partnergov/partnergov/api/v1alpha1"
)

// quorum is how many distinct approvals a stage needs; 0 (unset) means 1.
func quorum(s v1alpha1.ReviewStage) int {
	if s.Quorum <= 0 {
		return 1
	}
	return int(s.Quorum)
}

// stageIndex returns the index of the stage called name, or -1.
func stageIndex(stages []v1alpha1.ReviewStage, name string) int {
	if name == "" {
		return -1
	}
	for i, s := range stages {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// nextEscalation returns the index of the first escalation stage after index
// from, or -1 when there is none and the escalation owner decides.
func nextEscalation(stages []v1alpha1.ReviewStage, from int) int {
	for i := from + 1; i < len(stages); i++ {
		if stages[i].Escalation {
			return i
		}
	}
	return -1
}

// hasNormalStage reports whether the path has a stage outside escalation.
func hasNormalStage(stages []v1alpha1.ReviewStage) bool {
	for _, s := range stages {
		if !s.Escalation {
			return true
		}
	}
	return false
}

// ballot is the decisions that count for one stage.
type ballot struct {
	approvers []string                 // distinct reviewers who approved, in order
	denial    *v1alpha1.ReviewDecision // the first Deny, if any
}

// tally counts the decisions for stage. Decisions without a reviewer (the webhook
// always stamps one) and decisions by the requester (the webhook refuses them) do
// not count.
func tally(decisions []v1alpha1.ReviewDecision, stage, requester string) ballot {
	var b ballot
	seen := map[string]bool{}
	for i := range decisions {
		d := &decisions[i]
		if d.Stage != stage || d.Reviewer == "" || d.Reviewer == requester {
			continue
		}
		switch d.Decision {
		case v1alpha1.DecisionDeny:
			if b.denial == nil {
				b.denial = d
			}
		case v1alpha1.DecisionApprove:
			if !seen[d.Reviewer] {
				seen[d.Reviewer] = true
				b.approvers = append(b.approvers, d.Reviewer)
			}
		}
	}
	return b
}
