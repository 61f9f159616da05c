package review

import (
	"fmt"
	"time"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Outcome re-derives whether q is approved from its sealed stage decisions: with
// sealing on, an Approved phase counts only when the decisions whose seals
// verify meet the request's sealed copy of its review path (every normal stage reached its quorum,
// or an escalation stage reached its quorum, or the escalation owner approved),
// and no sealed decision denied a stage that counts. It returns false, with why,
// for an Approved phase those decisions do not explain: the phase was written
// past the webhooks and grants nothing. With sealing off it is the stored
// phase. Every effect of an approval reads it through effects.Approved.
func Outcome(q *v1alpha1.ExceptionRequest, seals *seal.Keys) (approved bool, why string) {
	approved, _, why = OutcomeAt(q, seals)
	return approved, why
}

// OutcomeAt is Outcome with the instant the approval was decided, with sealing
// on: when the last of the sealed approvals that met the path was made (their
// time is sealed with them); nil with sealing off, or when a decision carries
// no time.
func OutcomeAt(q *v1alpha1.ExceptionRequest, seals *seal.Keys) (approved bool, at *time.Time, why string) {
	if q == nil || q.Status.Phase != v1alpha1.PhaseApproved {
		return false, nil, "the request is not approved"
	}
	if !seals.On() {
		return true, nil, ""
	}
	path := q.Status.ReviewPath
	if path == nil {
		return false, nil, "the request is Approved but has no review path: no sealed decision explains the approval"
	}
	uid := string(q.UID)
	if !seals.Verify(path.Seal, seal.Path(uid, *path)...) {
		return false, nil, fmt.Sprintf("the request is Approved but its copy of review path %q is not sealed by the controller (it was written past the webhooks): no decision explains the approval", path.Name)
	}
	sealed := func(i int, d v1alpha1.ReviewDecision) bool {
		return seals.Verify(d.Seal, seal.Decision(uid, i, d)...)
	}
	excluded := Excluded(q, "")
	ballot := func(stage string) ballot {
		return tally(q.Status.Decisions, stage, excluded, path.AllowSameReviewerAcrossStages, sealed)
	}
	// decidedAt is when the first n approvers of stage had all approved it.
	var last *time.Time
	complete := true
	decidedAt := func(stage string, approvers []string) {
		for _, who := range approvers {
			for i, d := range q.Status.Decisions {
				if d.Reviewer == who && d.Stage == stage && d.Decision == v1alpha1.DecisionApprove && sealed(i, d) {
					if d.Time == nil {
						complete = false
					} else if last == nil || d.Time.After(*last) {
						t := d.Time.Time
						last = &t
					}
					break
				}
			}
		}
	}
	decided := func() (bool, *time.Time, string) {
		if !complete {
			return true, nil, ""
		}
		return true, last, ""
	}
	// The normal flow: every normal stage, in order, reached its quorum.
	normal, passed := 0, true
	for _, s := range path.Stages {
		if s.Escalation {
			continue
		}
		normal++
		b := ballot(s.Name)
		if b.denial != nil {
			return false, nil, fmt.Sprintf("the request is Approved but a sealed decision denied stage %q", s.Name)
		}
		if len(b.approvers) < quorum(s) {
			passed = false
		} else {
			decidedAt(s.Name, b.approvers[:quorum(s)])
		}
	}
	if normal > 0 && passed {
		return decided()
	}
	// Escalation: an escalation stage reached its quorum, or the escalation
	// owner approved.
	for _, s := range path.Stages {
		if !s.Escalation {
			continue
		}
		if b := ballot(s.Name); b.denial == nil && len(b.approvers) >= quorum(s) {
			last, complete = nil, true
			decidedAt(s.Name, b.approvers[:quorum(s)])
			return decided()
		}
	}
	if b := ballot(EscalationStage); b.denial == nil && len(b.approvers) > 0 {
		last, complete = nil, true
		decidedAt(EscalationStage, b.approvers[:1])
		return decided()
	}
	return false, nil, fmt.Sprintf("the request is Approved but its sealed decisions do not meet review path %q: no quorum of sealed approvals explains it (the phase was written past the admission webhooks)", path.Name)
}
