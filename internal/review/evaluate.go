package review

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/offboarding"
	"github.com/partnergov/partnergov/internal/seal"
)

// maxHistoryMessage is the API's limit on a history message.
const maxHistoryMessage = 1024

// Evaluate computes the desired status of in.Request at in.Now. It makes every
// transition that is due (several may follow one another in one evaluation), and
// is idempotent: evaluating again with the returned status stored changes nothing
// and reports no events. It does not modify in.
func Evaluate(in Input) Result {
	if in.Request == nil {
		return Result{}
	}
	e := newEvaluator(in)
	e.run()
	e.finish()
	return Result{Status: *e.st, NextDeadline: e.nextDeadline(), Events: e.events}
}

// evaluator holds one evaluation's working copy of the request.
type evaluator struct {
	in    Input
	now   time.Time   // precise evaluation instant, for comparisons
	stamp metav1.Time // now at the API's one-second precision, for stored times
	req   *v1alpha1.ExceptionRequest
	st    *v1alpha1.ExceptionRequestStatus
	// excluded are the identities whose decisions never count: the requester (and
	// the person a request was filed for) and the partner's relationship owner.
	excluded map[string]bool
	events   []Event
}

func newEvaluator(in Input) *evaluator {
	req := in.Request.DeepCopy()
	e := &evaluator{
		in:    in,
		now:   in.Now,
		stamp: metav1.NewTime(in.Now.UTC().Truncate(time.Second)),
		req:   req,
		st:    &req.Status,
	}
	e.excluded = Excluded(req, in.PartnerOwner)
	return e
}

// maxSteps bounds the steps of one evaluation. Each step enters a later stage,
// passes the current one or settles the request, so a path of at most 10 stages
// (the API's limit) needs far fewer; the bound only guards against a loop.
const maxSteps = 64

// run makes every transition that is due.
func (e *evaluator) run() {
	switch e.st.Phase {
	case v1alpha1.PhaseDenied, v1alpha1.PhaseExpired, v1alpha1.PhaseWithdrawn:
		return
	case v1alpha1.PhaseApproved:
		if e.in.Used != "" {
			e.used()
		} else if e.expiryDue() {
			e.expire()
		}
		return
	}
	e.st.Phase = v1alpha1.PhasePending
	if e.in.Withdraw == "" && e.in.Partner.OffboardingEffective(e.now) {
		e.in.Withdraw, e.in.WithdrawReason = offboarding.Describe(e.in.Partner)+": its open requests are withdrawn", v1alpha1.ReasonPartnerOffboarded
	}
	if e.in.Withdraw != "" {
		e.withdraw()
		return
	}
	if e.st.ReviewPath == nil {
		e.resolve()
	}
	if e.pending() && e.expiryDue() {
		e.expire()
		return
	}
	for i := 0; i < maxSteps && e.pending() && e.step(); i++ {
	}
}

func (e *evaluator) pending() bool { return e.st.Phase == v1alpha1.PhasePending }

func (e *evaluator) stages() []v1alpha1.ReviewStage { return e.st.ReviewPath.Stages }

// resolve picks the review path, checks the Funds cap against it and enters the
// first stage, or escalates to the program owner when no single path governs.
func (e *evaluator) resolve() {
	path, reason, msg := Resolve(e.req, e.in.Paths)
	if path != nil {
		e.st.ReviewPath = resolvedCopy(path)
		e.setCondition(v1alpha1.ConditionReviewPathResolved, true, reason, msg)
		e.record(reason, "", msg, false)
	} else {
		e.st.ReviewPath = &v1alpha1.ResolvedReviewPath{EscalationOwner: e.in.ProgramOwner}
		e.setCondition(v1alpha1.ConditionReviewPathResolved, false, reason, msg)
	}
	e.st.ReviewPath.Seal = e.in.Seals.Sign(seal.Path(string(e.req.UID), *e.st.ReviewPath)...)
	if e.denyOverCap(reason, msg, path == nil) {
		return
	}
	if path == nil {
		e.escalate(-1, reason, reason, msg+"; escalated to "+e.ownerName())
		return
	}
	e.enterNext(-1)
}

// denyOverCap denies a Funds request the remaining cap does not cover. When the
// path did not resolve, the resolution failure is recorded first. It reports
// whether it denied.
func (e *evaluator) denyOverCap(resolveReason, resolveMsg string, unresolved bool) bool {
	reason, why := e.fundsNotEntitled()
	if reason == "" {
		var over bool
		if why, over = e.fundsOverCap(allowsOverCap(e.stages())); over {
			reason = v1alpha1.ReasonOverCap
		}
	}
	if reason == "" {
		return false
	}
	if unresolved {
		e.record(resolveReason, "", resolveMsg, true)
	}
	e.deny(reason, why, true)
	return true
}

// fundsNotEntitled reports why a Funds request cannot be granted at all, with
// its reason (NotEntitled or CurrencyMismatch), or "" when it can. No stage's
// allowOverCap changes this: allowOverCap lets an entitled partner go past its
// cap, in the cap's currency, and nothing more.
func (e *evaluator) fundsNotEntitled() (reason, why string) {
	if e.req.Spec.Type != v1alpha1.RequestFunds {
		return "", ""
	}
	amount, remaining := e.req.Spec.Amount, e.in.FundsRemaining
	switch {
	case e.in.PartnerSuspended:
		return v1alpha1.ReasonNotEntitled, fmt.Sprintf("partner %s is suspended: it holds no entitlement, so no funds can be granted", e.req.Spec.Partner)
	case remaining == nil:
		return v1alpha1.ReasonNotEntitled, fmt.Sprintf("partner %s holds no Funds entitlement (no tier or grant gives it a funds cap), so no funds can be granted, whatever allowOverCap says", e.req.Spec.Partner)
	case amount != nil && amount.Currency != remaining.Currency:
		return v1alpha1.ReasonCurrencyMismatch, fmt.Sprintf("the request is in %s but partner %s's funds cap is in %s; amounts in different currencies are never added: file the request in %s",
			amount.Currency, e.req.Spec.Partner, remaining.Currency, remaining.Currency)
	}
	return "", ""
}

// fundsOverCap reports whether this is a Funds request above the partner's
// remaining cap, when the stages deciding it may not approve over the cap, and why.
func (e *evaluator) fundsOverCap(allowed bool) (string, bool) {
	if e.req.Spec.Type != v1alpha1.RequestFunds || allowed {
		return "", false
	}
	over, why := overCap(e.req.Spec.Amount, e.in.FundsRemaining)
	if !over {
		return "", false
	}
	if e.st.ReviewPath.Name == "" {
		return why + ", and no review path governs the request to approve it over the cap", true
	}
	return fmt.Sprintf("%s, and no stage of review path %q may approve over the cap", why, e.st.ReviewPath.Name), true
}

// step makes at most one transition at the current stage and reports whether it did.
func (e *evaluator) step() bool {
	cur := e.st.CurrentStage
	if cur == EscalationStage {
		return e.stepOwner()
	}
	idx := stageIndex(e.stages(), cur)
	if idx < 0 {
		// Not yet in a stage, or a stage the path does not have: start from the
		// first normal stage; stages that already have quorum pass in turn.
		return e.enterNext(-1)
	}
	stage := e.stages()[idx]
	b := e.tally(cur)
	switch {
	case b.denial != nil:
		e.deny(v1alpha1.ReasonDeniedByReviewer, denialMessage(b.denial), false)
	case len(b.approvers) >= quorum(stage):
		e.record(ReasonStageApproved, cur, approvalMessage(cur, b.approvers), false)
		if stage.Escalation {
			e.approve(fmt.Sprintf("escalation stage %q reached quorum (%s)", cur, strings.Join(b.approvers, ", ")))
		} else {
			e.enterNext(idx)
		}
	case e.deadlinePassed():
		e.timeout(idx, len(b.approvers))
	default:
		return false
	}
	return true
}

// stepOwner decides the escalation owner's stage: one Approve approves, a Deny denies.
func (e *evaluator) stepOwner() bool {
	if e.st.StageDeadline == nil {
		// Escalated before escalation deadlines existed: the wait ends too.
		d := metav1.NewTime(e.stamp.Add(e.escalationSLA()))
		e.st.StageDeadline = &d
	}
	b := e.tally(EscalationStage)
	switch {
	case b.denial != nil:
		e.deny(v1alpha1.ReasonDeniedByReviewer, denialMessage(b.denial), false)
	case len(b.approvers) > 0:
		e.record(ReasonStageApproved, EscalationStage, approvalMessage(EscalationStage, b.approvers[:1]), false)
		e.approve(fmt.Sprintf("approved on escalation by %s", b.approvers[0]))
	case e.deadlinePassed():
		e.deny(v1alpha1.ReasonEscalationExpired, fmt.Sprintf("%s did not decide by the escalation deadline %s; a request never waits forever",
			e.ownerName(), formatTime(e.st.StageDeadline.Time)), true)
	default:
		return false
	}
	return true
}

// tally counts the decisions for stage that may count.
func (e *evaluator) tally(stage string) ballot {
	uid := string(e.req.UID)
	sealed := func(i int, d v1alpha1.ReviewDecision) bool {
		return e.in.Seals.Verify(d.Seal, seal.Decision(uid, i, d)...)
	}
	return tally(e.st.Decisions, stage, e.excluded, e.st.ReviewPath.AllowSameReviewerAcrossStages, sealed)
}

// escalationSLA is how long the escalation owner may take.
func (e *evaluator) escalationSLA() time.Duration {
	if d := e.st.ReviewPath.EscalationSLA; d != nil && d.Duration > 0 {
		return d.Duration
	}
	return DefaultEscalationSLA
}

// enterNext enters the first normal stage after stages[from] (from -1: the
// first normal stage), or approves the request when every normal stage passed.
func (e *evaluator) enterNext(from int) bool {
	stages := e.stages()
	if !hasNormalStage(stages) {
		e.escalate(-1, ReasonNoReviewStage, ReasonEscalated, fmt.Sprintf(
			"review path %q has no stage outside escalation; escalated to %s", e.st.ReviewPath.Name, e.ownerName()))
		return true
	}
	for i := from + 1; i < len(stages); i++ {
		if !stages[i].Escalation {
			e.enter(i)
			return true
		}
	}
	var passed []string
	for _, s := range stages {
		if !s.Escalation {
			passed = append(passed, s.Name)
		}
	}
	e.approve(fmt.Sprintf("every stage of review path %q reached quorum: %s", e.st.ReviewPath.Name, strings.Join(passed, ", ")))
	return true
}

// enter makes stages[i] the current stage, with a deadline of now plus its SLA.
func (e *evaluator) enter(i int) {
	s := e.stages()[i]
	e.setStage(s)
	e.record(ReasonStageEntered, s.Name, fmt.Sprintf("waiting for %s, %s", approvalsNeeded(s), e.deadlineText()), false)
}

// setStage makes s the current stage; a stage without a positive SLA has no deadline.
func (e *evaluator) setStage(s v1alpha1.ReviewStage) {
	e.st.CurrentStage = s.Name
	e.st.StageDeadline = nil
	if s.SLA.Duration > 0 {
		d := metav1.NewTime(e.stamp.Add(s.SLA.Duration))
		e.st.StageDeadline = &d
	}
}

func (e *evaluator) deadlinePassed() bool {
	return e.st.StageDeadline != nil && !e.now.Before(e.st.StageDeadline.Time)
}

// timeout applies the onTimeout of stages[idx], whose SLA passed without quorum.
func (e *evaluator) timeout(idx, approvals int) {
	s := e.stages()[idx]
	msg := fmt.Sprintf("stage %q passed its deadline %s with %d of %d approvals",
		s.Name, formatTime(e.st.StageDeadline.Time), approvals, quorum(s))
	if s.OnTimeout == v1alpha1.TimeoutDeny {
		e.deny(v1alpha1.ReasonTimeoutDenied, msg+"; the stage denies on timeout", true)
		return
	}
	next := nextEscalation(e.stages(), idx)
	to := e.ownerName()
	if next >= 0 {
		to = fmt.Sprintf("escalation stage %q", e.stages()[next].Name)
	}
	e.escalate(next, v1alpha1.ReasonSLABreached, ReasonEscalated, msg+"; escalated to "+to)
}

// escalate enters escalation stage stages[next], or the escalation owner's stage
// when next is -1, and sets Escalated=True with condReason.
func (e *evaluator) escalate(next int, condReason, historyReason, msg string) {
	if next >= 0 {
		e.setStage(e.stages()[next])
	} else {
		e.st.CurrentStage = EscalationStage
		d := metav1.NewTime(e.stamp.Add(e.escalationSLA()))
		e.st.StageDeadline = &d
	}
	e.setCondition(v1alpha1.ConditionEscalated, true, condReason, msg)
	e.record(historyReason, e.st.CurrentStage, msg, true)
}

// approve settles the request as Approved, unless it is a Funds request that the
// remaining cap no longer covers: other requests may have been approved since
// this one was resolved.
func (e *evaluator) approve(msg string) {
	if reason, why := e.fundsNotEntitled(); reason != "" {
		e.deny(reason, "at approval, "+why, true)
		return
	}
	if why, over := e.fundsOverCap(e.approversMayExceedCap()); over {
		e.deny(v1alpha1.ReasonOverCap, "at approval, "+why, true)
		return
	}
	if why, over := e.overBudget(); over {
		e.deny(v1alpha1.ReasonBudgetExhausted, "at approval, "+why, true)
		return
	}
	reason := v1alpha1.ReasonQuorumReached
	e.settle(v1alpha1.PhaseApproved, reason)
	e.record(ReasonApproved, "", msg, false)
	e.setCondition(v1alpha1.ConditionApproved, true, reason, msg)
	e.setCondition(v1alpha1.ConditionDenied, false, reason, "no reviewer denied the request")
	e.setCondition(v1alpha1.ConditionExpired, false, reason, e.grantTerm())
	e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request is decided")
	e.setCondition(v1alpha1.ConditionReady, true, reason, msg)
}

// approversMayExceedCap reports whether the stages approving the request now may
// approve it over the cap: on escalation, the escalation stage that reached quorum
// (the escalation owner may not); in the normal flow, where every normal stage
// passed, a normal stage marked allowOverCap. An escalation stage that was never
// entered allows nothing.
func (e *evaluator) approversMayExceedCap() bool {
	stages := e.stages()
	if i := stageIndex(stages, e.st.CurrentStage); i >= 0 && stages[i].Escalation {
		return stages[i].AllowOverCap
	}
	if e.st.CurrentStage == EscalationStage {
		return false
	}
	for _, s := range stages {
		if !s.Escalation && s.AllowOverCap {
			return true
		}
	}
	return false
}

// deny settles the request as Denied for reason.
func (e *evaluator) deny(reason, msg string, warning bool) {
	stage := e.st.CurrentStage
	e.settle(v1alpha1.PhaseDenied, reason)
	e.record(ReasonDenied, stage, msg, warning)
	e.setCondition(v1alpha1.ConditionDenied, true, reason, msg)
	e.setCondition(v1alpha1.ConditionApproved, false, reason, "the request was denied")
	e.setCondition(v1alpha1.ConditionExpired, false, reason, "nothing was granted")
	e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request is decided")
	e.setCondition(v1alpha1.ConditionReady, true, reason, msg)
}

// expire settles an Approved request whose grant lapsed, or a Pending request
// whose expiry passed before approval (nothing was granted).
func (e *evaluator) expire() {
	wasApproved := e.st.Phase == v1alpha1.PhaseApproved
	stage := e.st.CurrentStage
	reason := v1alpha1.ReasonGrantExpired
	e.settle(v1alpha1.PhaseExpired, reason)
	at := formatTime(e.req.Spec.Expires.Time)
	msg := "the grant expired at " + at
	if !wasApproved {
		msg = fmt.Sprintf("the request expired at %s before it was approved; nothing was granted", at)
		e.setCondition(v1alpha1.ConditionApproved, false, reason, "the request expired before it was approved")
		e.setCondition(v1alpha1.ConditionDenied, false, reason, "the request expired before it was decided")
	}
	e.record(ReasonExpired, stage, msg, false)
	e.setCondition(v1alpha1.ConditionExpired, true, reason, msg)
	e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request is decided")
	e.setCondition(v1alpha1.ConditionReady, true, reason, msg)
}

// withdraw ends a pending request whose subject is gone; nothing was granted and
// no stage is left waiting, so no SLA can be breached.
func (e *evaluator) withdraw() {
	stage := e.st.CurrentStage
	reason, msg := v1alpha1.ReasonNoLongerQualifies, e.in.Withdraw
	if e.in.WithdrawReason != "" {
		reason = e.in.WithdrawReason
	}
	e.settle(v1alpha1.PhaseWithdrawn, reason)
	e.record(ReasonWithdrawn, stage, msg, false)
	e.setCondition(v1alpha1.ConditionWithdrawn, true, reason, msg)
	e.setCondition(v1alpha1.ConditionApproved, false, reason, "the request was withdrawn before it was approved")
	e.setCondition(v1alpha1.ConditionDenied, false, reason, "the request was withdrawn before it was decided")
	e.setCondition(v1alpha1.ConditionExpired, false, reason, "nothing was granted")
	e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request is withdrawn")
	e.setCondition(v1alpha1.ConditionReady, true, reason, msg)
}

// used ends an Approved grant that has been used up: it expires now.
func (e *evaluator) used() {
	reason, msg := v1alpha1.ReasonPromotionUsed, e.in.Used
	e.settle(v1alpha1.PhaseExpired, reason)
	e.record(ReasonExpired, "", msg, false)
	e.setCondition(v1alpha1.ConditionExpired, true, reason, msg)
	e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request is decided")
	e.setCondition(v1alpha1.ConditionReady, true, reason, msg)
}

// settle moves to final phase p for reason, leaving no current stage, and
// seals the settlement (status.outcome): an Approved phase counts only with
// the controller's sealed Approved outcome (UnsealedOutcome), so a denial
// made after the reviewers' quorum (OverCap or NotEntitled at approval)
// written back to Approved past the webhooks grants nothing.
func (e *evaluator) settle(p v1alpha1.RequestPhase, reason string) {
	e.st.Phase = p
	e.st.CurrentStage = ""
	e.st.StageDeadline = nil
	o := v1alpha1.RequestOutcome{Phase: p, Time: e.stamp, Reason: reason}
	o.Seal = e.in.Seals.Sign(seal.RequestOutcome(string(e.req.UID), o)...)
	e.st.Outcome = &o
}

func (e *evaluator) expiryDue() bool {
	exp := e.req.Spec.Expires
	return exp != nil && !e.now.Before(exp.Time)
}

// finish writes the conditions of a pending request, restamps every condition
// with the request's generation and trims the history.
func (e *evaluator) finish() {
	if e.pending() {
		e.pendingConditions()
	}
	e.outcomeSealed()
	e.reconcilingCondition()
	gen := e.req.Generation
	for _, c := range append([]metav1.Condition(nil), e.st.Conditions...) {
		conditions.Set(&e.st.Conditions, gen, e.stamp, c.Type, c.Status, c.Reason, c.Message)
	}
	e.st.ObservedGeneration = gen
	if n := len(e.st.History); n > MaxHistory {
		e.st.History = append([]v1alpha1.RequestEvent(nil), e.st.History[n-MaxHistory:]...)
	}
}

// outcomeSealed marks an Approved phase that the sealed decisions do not
// explain (Outcome): OutcomeSealed=False and, the first time, a Warning event.
// Such an approval gives nothing (effects.Approved), as unsealed evidence
// counts for nothing; the phase itself is left as stored.
func (e *evaluator) outcomeSealed() {
	if e.st.Phase != v1alpha1.PhaseApproved {
		return
	}
	ok, why := Outcome(e.req, e.in.Seals)
	if ok {
		return
	}
	msg := why + "; the approval gives nothing (no grant, commitment or approval follows from it)"
	c := meta.FindStatusCondition(e.st.Conditions, v1alpha1.ConditionOutcomeSealed)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonUnexplainedOutcome {
		e.events = append(e.events, Event{Warning: true, Reason: v1alpha1.ReasonUnexplainedOutcome, Message: clip(msg, maxHistoryMessage)})
	}
	e.setCondition(v1alpha1.ConditionOutcomeSealed, false, v1alpha1.ReasonUnexplainedOutcome, msg)
}

// pendingConditions describes a request under review.
// reconcilingCondition mirrors Ready for kstatus (Argo CD, Flux): Reconciling=True
// while the request is under review makes it InProgress; False once it is final.
func (e *evaluator) reconcilingCondition() {
	ready := meta.FindStatusCondition(e.st.Conditions, v1alpha1.ConditionReady)
	if ready == nil {
		return
	}
	e.setCondition(v1alpha1.ConditionReconciling, ready.Status != metav1.ConditionTrue, ready.Reason, ready.Message)
}

func (e *evaluator) pendingConditions() {
	reason := v1alpha1.ReasonUnderReview
	msg := e.waitingMessage()
	e.setCondition(v1alpha1.ConditionApproved, false, reason, msg)
	e.setCondition(v1alpha1.ConditionDenied, false, reason, msg)
	e.setCondition(v1alpha1.ConditionExpired, false, reason, msg)
	if !e.escalated() {
		e.setCondition(v1alpha1.ConditionEscalated, false, reason, "the request follows the normal stages of its review path")
	} else if !conditions.True(e.st.Conditions, v1alpha1.ConditionEscalated) {
		e.setCondition(v1alpha1.ConditionEscalated, true, v1alpha1.ReasonSLABreached, msg)
	}
	e.setCondition(v1alpha1.ConditionReady, false, reason, msg)
}

// escalated reports whether the current stage is an escalation stage or the
// escalation owner's.
func (e *evaluator) escalated() bool {
	if e.st.CurrentStage == EscalationStage {
		return true
	}
	i := stageIndex(e.stages(), e.st.CurrentStage)
	return i >= 0 && e.stages()[i].Escalation
}

// waitingMessage says what a pending request waits for.
func (e *evaluator) waitingMessage() string {
	cur := e.st.CurrentStage
	if cur == EscalationStage {
		return fmt.Sprintf("waiting for %s to decide as stage %q, %s", e.ownerName(), EscalationStage, e.deadlineText())
	}
	i := stageIndex(e.stages(), cur)
	if i < 0 {
		return "waiting for the review to start"
	}
	s := e.stages()[i]
	got := len(e.tally(cur).approvers)
	kind := "stage"
	if s.Escalation {
		kind = "escalation stage"
	}
	return fmt.Sprintf("waiting for %s %q of review path %q: %d of %d approvals, %s",
		kind, cur, e.st.ReviewPath.Name, got, quorum(s), e.deadlineText())
}

// ownerName names who decides as stage "escalation".
func (e *evaluator) ownerName() string {
	if owner := e.st.ReviewPath.EscalationOwner; owner != "" {
		return fmt.Sprintf("the escalation owner %s", owner)
	}
	return "the escalation owner (unknown: the partner's program names no owner)"
}

func (e *evaluator) deadlineText() string {
	if e.st.StageDeadline == nil {
		return "no deadline"
	}
	return "deadline " + formatTime(e.st.StageDeadline.Time)
}

// grantTerm says how long an approved grant lasts.
func (e *evaluator) grantTerm() string {
	if e.req.Spec.Expires == nil {
		return "the grant does not expire"
	}
	return "the grant is in force until " + formatTime(e.req.Spec.Expires.Time)
}

// nextDeadline is the earliest future instant at which the result changes on its own.
func (e *evaluator) nextDeadline() *time.Time {
	var next *time.Time
	consider := func(t *metav1.Time) {
		if t != nil && t.After(e.now) && (next == nil || t.Time.Before(*next)) {
			v := t.Time
			next = &v
		}
	}
	switch e.st.Phase {
	case v1alpha1.PhasePending:
		consider(e.st.StageDeadline)
		consider(e.req.Spec.Expires)
		if t := offboarding.Deadline(e.in.Partner, e.now); t != nil {
			consider(&metav1.Time{Time: *t})
		}
	case v1alpha1.PhaseApproved:
		consider(e.req.Spec.Expires)
		if e.awaitsAdoption() {
			t := metav1.NewTime(e.now.Add(AdoptionRecheck))
			consider(&t)
		}
	}
	return next
}

// AdoptionRecheck is how soon an Approved request whose outcome is not sealed
// yet is evaluated again while adoption is on: it counts only until adoption
// ends, and then, unless adoption sealed it (AdoptOutcome), it is marked
// unexplained and what it gave is taken back.
const AdoptionRecheck = 10 * time.Second

// awaitsAdoption reports whether the request is Approved with no sealed
// outcome while adoption is on (UnsealedOutcome lets it count until then).
func (e *evaluator) awaitsAdoption() bool {
	o := e.st.Outcome
	return e.in.Seals.Adopting() && e.st.Phase == v1alpha1.PhaseApproved && (o == nil || o.Seal == "")
}

// record appends a transition to the history and the events.
func (e *evaluator) record(reason, stage, msg string, warning bool) {
	msg = clip(msg, maxHistoryMessage)
	e.st.History = append(e.st.History, v1alpha1.RequestEvent{Time: e.stamp, Reason: reason, Stage: stage, Message: msg})
	e.events = append(e.events, Event{Warning: warning, Reason: reason, Message: msg})
}

func (e *evaluator) setCondition(typ string, status bool, reason, msg string) {
	conditions.Set(&e.st.Conditions, e.req.Generation, e.stamp, typ, conditions.Status(status), reason, msg)
}

func approvalsNeeded(s v1alpha1.ReviewStage) string {
	if q := quorum(s); q > 1 {
		return fmt.Sprintf("%d approvals", q)
	}
	return "1 approval"
}

func approvalMessage(stage string, approvers []string) string {
	return fmt.Sprintf("stage %q approved by %s", stage, strings.Join(approvers, ", "))
}

func denialMessage(d *v1alpha1.ReviewDecision) string {
	return fmt.Sprintf("denied by %s at stage %q: %s", d.Reviewer, d.Stage, d.Rationale)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// clip shortens s to at most n bytes (so at most n characters), on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
