package review

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// decisionsPath is the field path of the decisions list.
var decisionsPath = field.NewPath("status", "decisions")

// ValidateDecisions checks a status update by reviewer that appends decisions,
// for the admission webhook. old and new are the stored and proposed objects;
// partnerOwner is the partner's relationship owner (Partner.spec.owner).
// It enforces that decisions are append-only and that every added decision is
// made while the request is open, for its current stage, by someone other than
// the requester, the person it was filed for and the partner's owner, at most
// once per reviewer and stage, and (unless the path allows it) by a reviewer who
// decided no other stage of the request. It checks nothing but the decisions; the
// webhook stamps the added decisions' reviewer, time and generation and checks
// the reviewer's authority.
func ValidateDecisions(old, new *v1alpha1.ExceptionRequest, reviewer, partnerOwner string) field.ErrorList {
	errs := appendOnly(old.Status.Decisions, new.Status.Decisions)
	added := Added(old, new)
	if len(added) == 0 {
		return errs
	}
	first := decisionsPath.Index(len(old.Status.Decisions))
	if p := old.Status.Phase; final(p) {
		return append(errs, field.Forbidden(first,
			fmt.Sprintf("the request is %s; no decision can be added once a request is final", p)))
	}
	if r := old.Spec.Requester; r != nil && r.Username != "" && r.Username == reviewer {
		return append(errs, field.Forbidden(first,
			fmt.Sprintf("the requester cannot decide their own request (%s filed it)", reviewer)))
	}
	if old.Spec.OnBehalfOf != "" && old.Spec.OnBehalfOf == reviewer {
		return append(errs, field.Forbidden(first,
			fmt.Sprintf("the requester cannot decide their own request (it was filed on behalf of %s)", reviewer)))
	}
	if partnerOwner != "" && partnerOwner == reviewer {
		return append(errs, field.Forbidden(first, fmt.Sprintf(
			"the partner's relationship owner cannot decide its requests: %s owns partner %s (spec.owner), and the person closest to a partner is exactly who must not decide its exceptions",
			reviewer, old.Spec.Partner)))
	}
	if IsParty(old, reviewer) {
		return append(errs, field.Forbidden(first, partyRefusal(old, reviewer)))
	}
	current := old.Status.CurrentStage
	decided := decidedStages(old.Status.Decisions, reviewer)
	sameReviewer := old.Status.ReviewPath != nil && old.Status.ReviewPath.AllowSameReviewerAcrossStages
	for i, d := range added {
		p := decisionsPath.Index(len(old.Status.Decisions) + i)
		if err := checkStage(p.Child("stage"), d.Stage, current); err != nil {
			errs = append(errs, err)
			continue
		}
		if decided[d.Stage] {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf(
				"one decision per reviewer and stage: %s already decided stage %q", reviewer, d.Stage)))
			continue
		}
		if other := otherStage(decided, d.Stage); other != "" && !sameReviewer {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf(
				"one reviewer, one stage: %s already decided stage %q of this request, so stage %q needs another reviewer (the review path does not set allowSameReviewerAcrossStages)",
				reviewer, other, d.Stage)))
			continue
		}
		decided[d.Stage] = true
	}
	return errs
}

// partyRefusal says why reviewer, one of req's spec.parties, may not decide it.
func partyRefusal(req *v1alpha1.ExceptionRequest, reviewer string) string {
	switch req.Spec.Type {
	case v1alpha1.RequestBusinessPlan:
		plan := ""
		if req.Spec.Grant != nil {
			plan = req.Spec.Grant.BusinessPlan
		}
		return fmt.Sprintf("nobody approves their own plan: %s is the author or an owner of JointBusinessPlan %s (spec.parties), and the plan's author and its owners on both sides are the requester side, who may decide no stage of its BusinessPlan request",
			reviewer, plan)
	case v1alpha1.RequestDealConflict:
		return fmt.Sprintf("both sides of a deal conflict are parties: %s is the registrant or relationship owner of the registration holding the customer (spec.parties), and neither side's registrant or owner may decide the DealConflict request",
			reviewer)
	}
	return fmt.Sprintf("%s is a party to this request (spec.parties) and counts as the requester side: a party may decide no stage of it", reviewer)
}

// otherStage returns a stage other than stage that decided holds, or "".
func otherStage(decided map[string]bool, stage string) string {
	for s := range decided {
		if s != stage {
			return s
		}
	}
	return ""
}

// Added returns the decisions new appends to old (meaningful once
// ValidateDecisions passed); nil when it appends none.
func Added(old, new *v1alpha1.ExceptionRequest) []v1alpha1.ReviewDecision {
	o, n := old.Status.Decisions, new.Status.Decisions
	if len(n) <= len(o) {
		return nil
	}
	added := make([]v1alpha1.ReviewDecision, 0, len(n)-len(o))
	for i := range n[len(o):] {
		added = append(added, *n[len(o)+i].DeepCopy())
	}
	return added
}

// appendOnly refuses an update that changes or removes stored decisions.
func appendOnly(old, new []v1alpha1.ReviewDecision) field.ErrorList {
	var errs field.ErrorList
	for i := range old {
		p := decisionsPath.Index(i)
		if i >= len(new) {
			return append(errs, field.Forbidden(p, fmt.Sprintf(
				"decisions are append-only: decision %d was removed (the update keeps %d of %d decisions)", i, len(new), len(old))))
		}
		if !equality.Semantic.DeepEqual(old[i], new[i]) {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf(
				"decisions are append-only: decision %d was changed", i)))
		}
	}
	return errs
}

// checkStage refuses a decision for a stage that is not the current one.
func checkStage(p *field.Path, stage, current string) *field.Error {
	switch {
	case stage == current:
		return nil
	case current == "":
		return field.Invalid(p, stage, "the request has no current stage yet; decisions can be added once its review path is resolved")
	default:
		return field.Invalid(p, stage, fmt.Sprintf("stage %q is not the current stage %q", stage, current))
	}
}

// decidedStages returns the stages reviewer already decided.
func decidedStages(decisions []v1alpha1.ReviewDecision, reviewer string) map[string]bool {
	decided := map[string]bool{}
	for _, d := range decisions {
		if d.Reviewer == reviewer {
			decided[d.Stage] = true
		}
	}
	return decided
}
