package review

import (
	"slices"
	"strings"

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
// always stamps one), without a valid seal (sealed), by an excluded identity (the requester, the person filed for,
// the partner's owner) and, unless sameReviewer allows it, by a reviewer whose
// first decision on the request was for another stage do not count: the webhook
// refuses all of these, and state written past it does not count either.
func tally(decisions []v1alpha1.ReviewDecision, stage string, excluded map[string]bool, sameReviewer bool,
	sealed func(int, v1alpha1.ReviewDecision) bool) ballot {
	var b ballot
	seen := map[string]bool{}
	firstStage := map[string]string{}
	for i := range decisions {
		d := &decisions[i]
		if d.Reviewer == "" || excluded[d.Reviewer] || excluded[partyKey(d.Reviewer)] || !sealed(i, *d) {
			continue
		}
		if _, ok := firstStage[d.Reviewer]; !ok {
			firstStage[d.Reviewer] = d.Stage
		}
		if d.Stage != stage || (!sameReviewer && firstStage[d.Reviewer] != stage) {
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

// Excluded are the identities whose decisions on req never count: whoever created
// it, the person it was filed for, the partner's relationship owner, and the
// request's other parties (spec.parties: a plan's author and owners, a deal
// conflict's holder side).
func Excluded(req *v1alpha1.ExceptionRequest, partnerOwner string) map[string]bool {
	out := map[string]bool{}
	if r := req.Spec.Requester; r != nil && r.Username != "" {
		out[r.Username] = true
	}
	if req.Spec.OnBehalfOf != "" {
		out[req.Spec.OnBehalfOf] = true
	}
	if partnerOwner != "" {
		out[partnerOwner] = true
	}
	for _, p := range req.Spec.Parties {
		if p != "" {
			out[partyKey(p)] = true
		}
	}
	return out
}

// partyKey is how a party is matched to a reviewer: without regard to case.
// Parties are typed by people (a plan's owners, a partner's owner), as user
// names or e-mail addresses: PAM@Example.com written as an owner is still
// the owner who signs in as pam@example.com. Matching more widely only ever
// excludes more.
func partyKey(id string) string { return "party:" + strings.ToLower(id) }

// IsParty reports whether reviewer is one of req's spec.parties (partyKey).
func IsParty(req *v1alpha1.ExceptionRequest, reviewer string) bool {
	return slices.ContainsFunc(req.Spec.Parties, func(p string) bool { return p != "" && partyKey(p) == partyKey(reviewer) })
}

// WithParties returns req with the identities live added to its spec.parties,
// as a copy (req itself is unchanged): the parties read at decision time, which
// may have changed since the request was opened (a deal conflict holder's
// relationship owner, reassigned since). Empty identities are skipped.
func WithParties(req *v1alpha1.ExceptionRequest, live ...string) *v1alpha1.ExceptionRequest {
	var add []string
	for _, id := range live {
		if id != "" && !IsParty(req, id) {
			add = append(add, id)
		}
	}
	if len(add) == 0 {
		return req
	}
	out := req.DeepCopy()
	out.Spec.Parties = append(out.Spec.Parties, add...)
	return out
}
