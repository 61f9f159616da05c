package review

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Outcome re-derives whether q is approved from what is sealed: with sealing
// on, an Approved phase counts only when the controller sealed its settlement
// as Approved (status.outcome: UnsealedOutcome), and the decisions whose seals
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
	if why := UnsealedOutcome(q, seals); why != "" {
		return false, nil, why
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
			// A counted decision carries no time (made before decisions had
			// one): the controller's sealed settlement says when, never the
			// Approved condition, which is not sealed. Without one (the
			// adoption window), nil.
			if o := q.Status.Outcome; o != nil && o.Phase == v1alpha1.PhaseApproved && seals.Verify(o.Seal, seal.RequestOutcome(uid, *o)...) {
				t := o.Time.Time
				return true, &t, ""
			}
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
	// owner approved, once the path escalated. currentStage and stageDeadline
	// are not sealed, so whether it escalated is re-derived (escalationDue):
	// a path with normal stages escalates only when the stage it was in
	// passed its SLA without a quorum and does not deny on timeout, and its
	// escalation approvals count only when made after that.
	dueAt, next, due := time.Time{}, -1, true
	if normal > 0 {
		dueAt, next, due = escalationDue(q, path, ballot, sealed)
	}
	early := false
	after := func(stage string, approvers []string) bool {
		for _, who := range approvers {
			for i, d := range q.Status.Decisions {
				if d.Reviewer == who && d.Stage == stage && d.Decision == v1alpha1.DecisionApprove && sealed(i, d) {
					if d.Time != nil && d.Time.Time.Before(dueAt.Add(-clockSkew)) {
						early = true
						return false
					}
					break
				}
			}
		}
		return true
	}
	for j, s := range path.Stages {
		// The escalation stage the path escalated into, or one after it that
		// a timed-out escalation stage escalates into in turn.
		if !s.Escalation || !due || (normal > 0 && (next < 0 || j < next)) {
			continue
		}
		if b := ballot(s.Name); b.denial == nil && len(b.approvers) >= quorum(s) && after(s.Name, b.approvers[:quorum(s)]) {
			last, complete = nil, true
			decidedAt(s.Name, b.approvers[:quorum(s)])
			return decided()
		}
	}
	if b := ballot(EscalationStage); due && b.denial == nil && len(b.approvers) > 0 && after(EscalationStage, b.approvers[:1]) {
		last, complete = nil, true
		decidedAt(EscalationStage, b.approvers[:1])
		return decided()
	}
	if early {
		return false, nil, fmt.Sprintf("the request is Approved but its escalation approvals were made before review path %q could escalate (at %s, when a stage's SLA passed without a quorum): they explain nothing (currentStage was written past the webhooks)",
			path.Name, dueAt.UTC().Format(time.RFC3339))
	}
	if !due {
		return false, nil, fmt.Sprintf("the request is Approved but review path %q never escalated: no normal stage passed its SLA without a quorum and with onTimeout Escalate, so no escalation approval explains it (currentStage was written past the webhooks)", path.Name)
	}
	return false, nil, fmt.Sprintf("the request is Approved but its sealed decisions do not meet review path %q: no quorum of sealed approvals explains it (the phase was written past the admission webhooks)", path.Name)
}

// clockSkew is how far the API server's clock (a request's creation) and the
// manager's (a decision's time) may disagree when an escalation's approvals
// are compared with the instant the path escalated.
const clockSkew = time.Minute

// escalationDue re-derives when q's path escalated from what is sealed: the
// first normal stage, entered at the request's creation (the next one at the
// sealed quorum of the stage before it), escalates when its SLA passes before
// its quorum and it does not deny on timeout, into the escalation stage after
// it (next, an index of path.Stages) or, when there is none, to the escalation
// owner (next -1). due is false when the path never escalated: a stage without
// an SLA, or one that denies on timeout, was still waiting for its quorum. A
// decision without a time (made before decisions were stamped) counts as made
// at once.
func escalationDue(q *v1alpha1.ExceptionRequest, path *v1alpha1.ResolvedReviewPath, ballot func(string) ballot, sealed func(int, v1alpha1.ReviewDecision) bool) (at time.Time, next int, due bool) {
	entry := q.CreationTimestamp.Time
	for idx, s := range path.Stages {
		if s.Escalation {
			continue
		}
		// When the stage reached its quorum, if it did.
		var reached *time.Time
		if b := ballot(s.Name); b.denial == nil && len(b.approvers) >= quorum(s) {
			t := entry
			for _, who := range b.approvers[:quorum(s)] {
				for i, d := range q.Status.Decisions {
					if d.Reviewer == who && d.Stage == s.Name && d.Decision == v1alpha1.DecisionApprove && sealed(i, d) {
						if d.Time != nil && d.Time.After(t) {
							t = d.Time.Time
						}
						break
					}
				}
			}
			reached = &t
		}
		deadline := entry.Add(s.SLA.Duration)
		if s.SLA.Duration > 0 && s.OnTimeout != v1alpha1.TimeoutDeny && (reached == nil || reached.After(deadline)) {
			return deadline, nextEscalation(path.Stages, idx), true
		}
		if reached == nil {
			return time.Time{}, -1, false
		}
		entry = *reached
	}
	return time.Time{}, -1, false
}

// UnsealedOutcome says why, with sealing on, q's Approved phase is not the
// controller's sealed settlement of q ("" when it is): the controller seals
// every settlement it makes (status.outcome: the request's UID, the phase, when
// and why), so an Approved phase whose outcome is missing, says another phase
// (a denial made after the reviewers' quorum, such as OverCap at approval) or
// does not verify for this request was written past the admission webhooks.
// What it relies on besides: a request is approved at most once, so an
// Approved outcome can be replayed only onto the request it was sealed for,
// where the grant's expiry (spec.expires), a used promotion's GrantExpiry
// record and the sealed decisions are still checked. An outcome stored
// before outcomes were sealed (none, or one without a seal) counts while
// adoption is on; adoption seals it when the records confirm it
// (AdoptOutcome), or it counts for nothing once adoption ends.
func UnsealedOutcome(q *v1alpha1.ExceptionRequest, seals *seal.Keys) string {
	if !seals.On() || q.Status.Phase != v1alpha1.PhaseApproved {
		return ""
	}
	o := q.Status.Outcome
	switch {
	case o == nil && seals.Adopting():
		return ""
	case o == nil:
		return "the request is Approved but carries no outcome sealed by the controller (status.outcome): the phase was written past the admission webhooks (or settled by an older version, and its records did not confirm the approval when sealing was adopted)"
	case o.Phase != v1alpha1.PhaseApproved:
		return fmt.Sprintf("the request is Approved but the controller settled it %s (%s) at %s (status.outcome): the phase was written past the admission webhooks",
			o.Phase, o.Reason, o.Time.UTC().Format(time.RFC3339))
	case !seals.Verify(o.Seal, seal.RequestOutcome(string(q.UID), *o)...):
		return "the request is Approved but its outcome (status.outcome) is not sealed by the controller for this request: it was written past the admission webhooks"
	}
	return ""
}

// RecordedOutcome is an outcome DecisionRecord of a request (record.Outcome):
// the final phase it records, when and why.
type RecordedOutcome struct {
	Phase  v1alpha1.RequestPhase
	Time   time.Time
	Reason string
}

// OutcomeToAdopt reports whether q has a final phase whose outcome adoption
// seals (AdoptOutcome): none is stored, or one without a seal (settled by a
// version that did not seal outcomes, or with sealing off). For an Approved
// phase the caller reads q's outcome records first.
func OutcomeToAdopt(q *v1alpha1.ExceptionRequest) bool {
	switch q.Status.Phase {
	case v1alpha1.PhaseApproved, v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn:
		return q.Status.Outcome == nil || q.Status.Outcome.Seal == ""
	}
	return false
}

// AdoptOutcome seals, in place, the outcome of q settled before outcomes were
// sealed (OutcomeToAdopt), and reports whether it did. recorded are q's
// outcome records, read from the records store (those of Approved, Denied,
// Expired and Withdrawn that exist for this request).
//
// A Denied, Expired or Withdrawn phase grants nothing: it is sealed as
// stored (its stored outcome's time and reason when that says the same phase,
// else its condition's). An Approved phase is sealed only when the records
// confirm it: an Approved outcome record, and none of Denied, Withdrawn or
// Expired. A request is approved at most once, from Pending, and an approval
// only ever expires, so one that the records say was denied, withdrawn or
// ended and that is stored as Approved was written back past the webhooks
// (a denial after the reviewers' quorum, OverCap at approval say, which the
// sealed decisions alone would explain). Its outcome takes the record's time
// and reason. Otherwise it stays unsealed, and once adoption ends the
// approval counts for nothing (UnsealedOutcome): an approval whose record is
// missing (its records pruned, or never made) needs a new request.
func AdoptOutcome(q *v1alpha1.ExceptionRequest, recorded []RecordedOutcome, seals *seal.Keys) bool {
	if !seals.On() || !OutcomeToAdopt(q) {
		return false
	}
	phase := q.Status.Phase
	var o v1alpha1.RequestOutcome
	if phase == v1alpha1.PhaseApproved {
		var approved *RecordedOutcome
		for i, r := range recorded {
			switch r.Phase {
			case v1alpha1.PhaseApproved:
				approved = &recorded[i]
			case v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn:
				return false
			}
		}
		if approved == nil {
			return false
		}
		o = v1alpha1.RequestOutcome{Phase: phase, Time: metav1.NewTime(approved.Time.UTC().Truncate(time.Second)), Reason: approved.Reason}
	} else if stored := q.Status.Outcome; stored != nil && stored.Phase == phase {
		o = v1alpha1.RequestOutcome{Phase: phase, Time: stored.Time, Reason: stored.Reason}
	} else {
		o = v1alpha1.RequestOutcome{Phase: phase, Time: q.CreationTimestamp, Reason: string(phase)}
		if c := meta.FindStatusCondition(q.Status.Conditions, phaseCondition(phase)); c != nil && c.Status == metav1.ConditionTrue {
			o.Time, o.Reason = c.LastTransitionTime, c.Reason
		}
	}
	o.Seal = seals.Sign(seal.RequestOutcome(string(q.UID), o)...)
	q.Status.Outcome = &o
	return true
}

// phaseCondition is the condition that is True in final phase p.
func phaseCondition(p v1alpha1.RequestPhase) string {
	switch p {
	case v1alpha1.PhaseApproved:
		return v1alpha1.ConditionApproved
	case v1alpha1.PhaseDenied:
		return v1alpha1.ConditionDenied
	case v1alpha1.PhaseExpired:
		return v1alpha1.ConditionExpired
	}
	return v1alpha1.ConditionWithdrawn
}
