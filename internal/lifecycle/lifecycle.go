// Package lifecycle decides where a partner is in its life in the program:
// Onboarding, Active, Probation, Offboarding or Offboarded. It applies the
// program's onboarding steps and probation, the catalog's probationAbove and the
// partner's spec.offboarding to the status the tier engine computed: it sets
// status.lifecycle, withholds what probation withholds (every entitlement once
// Offboarded) and sets the Probation condition. It is pure: it reads no cluster
// state, so the controller and the tests share one answer.
//
// The rules, in order:
//
//  1. Offboarding while spec.offboarding is set and now is before its effective
//     time; Offboarded from then on, holding no entitlement at all.
//  2. Otherwise Probation while an onboarding step is overdue or the current,
//     trusted value of a Risk metric is above its probationAbove.
//  3. Otherwise Onboarding while the partner has not finished onboarding and a
//     step is not met.
//  4. Otherwise Active.
//
// Probation withholds the program's spec.probation.withhold in the Offboarding
// phase too, while a cause remains. A step once met stays met. Onboarding steps
// apply to a partner until it finishes onboarding (status.lifecycle.onboardedAt):
// a partner that is Active does not go back to Onboarding when the program adds
// steps. Whether a partner has finished onboarding is stored, never inferred:
// a partner with no stored lifecycle goes through the steps, however long the
// controller took to see its program, unless the program adopts it as
// pre-existing (spec.onboarding.adoptPartnersCreatedBefore, an explicit, stored
// decision), which records a transition of reason AdoptedPreExisting.
//
// With sealing on, the controller seals the lifecycle it decides
// (status.lifecycle.seal); a stored lifecycle whose seal does not verify
// counts for nothing, as if the partner had none.
package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
	"github.com/partnergov/partnergov/internal/decimal"
	"github.com/partnergov/partnergov/internal/seal"
	"github.com/partnergov/partnergov/internal/tier"
)

// Input is what one lifecycle evaluation depends on.
type Input struct {
	// Now is the evaluation time, in whole seconds.
	Now time.Time
	// Partner is the partner with its stored status (the stored lifecycle is read
	// from it).
	Partner *v1alpha1.Partner
	// Program is the partner's program; nil when it does not exist.
	Program *v1alpha1.PartnerProgram
	// Evidence is the partner's current, trusted value of each metric (tier.Current).
	Evidence map[string]v1alpha1.Decimal
	// Claims are the partner's approved readiness claims in force now.
	Claims []v1alpha1.ApprovedClaim
	// Seals verify the stored lifecycle and seal the decided one; nil when
	// sealing is off.
	Seals *seal.Keys
}

// Result is what Apply decided besides the status it wrote.
type Result struct {
	// Transition is the phase change this evaluation made (also appended to
	// status.lifecycle.transitions); nil when the phase did not change.
	Transition *v1alpha1.LifecycleTransition
	// NextDeadline is the earliest instant after Now at which the lifecycle could
	// change with no input changing: an unmet step falling due, the offboarding
	// taking effect. Nil when there is none.
	NextDeadline *time.Time
	// Unsealed says the stored lifecycle's seal does not verify: it was
	// written past the webhooks and counted for nothing (for a Warning Event).
	Unsealed bool
}

// maxMessage is the API's limit on status.lifecycle.message and a transition's.
const maxMessage = 1024

// maxReason is the API's limit on one probation reason.
const maxReason = 512

// Apply decides the partner's lifecycle and writes it into status, which holds
// the status the tier engine computed for in.Partner: it sets status.Lifecycle,
// removes withheld entitlements from status.Entitlements and sets the Probation
// condition (and Ready's reason while on probation or offboarded). Applying it
// again to the stored result changes nothing and makes no transition.
func Apply(in Input, status *v1alpha1.PartnerStatus) Result {
	if in.Partner == nil || status == nil {
		return Result{}
	}
	now := in.Now.Round(0)
	e := evaluation{in: in, now: now, stored: in.Partner.Status.Lifecycle}
	if in.Program == nil && in.Partner.Spec.Offboarding == nil {
		// Nothing new is decided without the program: the stored lifecycle and
		// what it withholds stand, as the tier engine keeps the held tier (with
		// its seal as stored: an unsealed one is found out once the program is back).
		if e.stored != nil {
			status.Lifecycle = e.stored.DeepCopy()
			status.Entitlements = without(status.Entitlements, e.stored.Withheld)
		}
		return Result{}
	}
	var result Result
	if !in.Seals.LifecycleSealed(in.Partner) {
		// A lifecycle sealed by nobody (written past the webhooks: a phase,
		// onboardedAt, a step met, a transition) counts for nothing: the
		// partner is decided as one with no stored lifecycle.
		e.stored, result.Unsealed = nil, true
	}

	lc := &v1alpha1.PartnerLifecycle{}
	var adopted bool
	lc.OnboardedAt, adopted = e.onboardedAt()
	lc.Onboarding = e.steps(lc.OnboardedAt)
	causes := append(e.overdue(lc.Onboarding), e.riskBreaches()...)
	phase, reason := e.phase(lc, causes)
	lc.Phase = phase

	held := status.Entitlements
	switch {
	case phase == v1alpha1.LifecycleOffboarded:
		status.Entitlements, causes = nil, nil // nothing left to withhold
	case len(causes) > 0:
		lc.Withheld = withheld(held, e.withhold())
		status.Entitlements = without(held, lc.Withheld)
	}
	for i, c := range causes {
		if i == 16 {
			break
		}
		lc.ProbationReasons = append(lc.ProbationReasons, truncate(c.message, maxReason))
	}
	if lc.OnboardedAt == nil && phase == v1alpha1.LifecycleActive {
		at := metav1.NewTime(now)
		lc.OnboardedAt = &at
	}
	lc.Message = truncate(e.message(lc, causes), maxMessage)

	from := v1alpha1.LifecyclePhase("")
	if e.stored != nil {
		from = e.stored.Phase
		lc.Transitions = slices.Clone(e.stored.Transitions)
	}
	switch {
	case e.stored != nil && from == phase:
		lc.Since, lc.Reason = e.stored.Since.DeepCopy(), e.stored.Reason
		if phase == v1alpha1.LifecycleProbation {
			lc.Reason = reason // the cause may change within the phase
		}
	default:
		since := metav1.NewTime(now)
		lc.Since = &since
		lc.Reason = transitionReason(from, phase, reason)
		if from == "" && phase == v1alpha1.LifecycleActive && !adopted {
			lc.Reason = v1alpha1.ReasonInGoodStanding // nothing changed for the partner: no transition
			break
		}
		msg := lc.Message
		if from == "" && phase == v1alpha1.LifecycleActive {
			// The program's adoption is the decision that skipped the steps: recorded.
			lc.Reason = v1alpha1.ReasonAdoptedPreExisting
			msg = truncate(fmt.Sprintf("adopted as pre-existing: created at %s, before the program's spec.onboarding.adoptPartnersCreatedBefore (%s), so its onboarding steps do not apply; %s",
				stamp(e.in.Partner.CreationTimestamp.Time), stamp(e.in.Program.Spec.Onboarding.AdoptPartnersCreatedBefore.Time), lc.Message), maxMessage)
		}
		t := v1alpha1.LifecycleTransition{Time: since, From: from, To: phase, Reason: lc.Reason, Message: msg}
		lc.Transitions = append(lc.Transitions, t)
		if n := len(lc.Transitions); n > v1alpha1.MaxLifecycleTransitions {
			lc.Transitions = slices.Clone(lc.Transitions[n-v1alpha1.MaxLifecycleTransitions:])
		}
		result.Transition = t.DeepCopy()
	}
	lc.Seal = in.Seals.Sign(seal.Lifecycle(string(in.Partner.UID), *lc)...)
	status.Lifecycle = lc
	e.setConditions(status, lc, causes)
	result.NextDeadline = e.nextDeadline(lc)
	return result
}

// evaluation holds one Apply call's input.
type evaluation struct {
	in     Input
	now    time.Time
	stored *v1alpha1.PartnerLifecycle
}

// cause is one reason the partner is on probation.
type cause struct {
	reason  string
	message string
}

// joinedAt is when the partner joined: spec.joinedAt, else its creation.
func (e *evaluation) joinedAt() time.Time {
	if j := e.in.Partner.Spec.JoinedAt; j != nil {
		return j.Time
	}
	return e.in.Partner.CreationTimestamp.Time
}

// onboardedAt is the stored onboardedAt. A partner with no stored lifecycle has
// not been through onboarding, whatever else its status holds (a tier engine's
// status written while the program was not yet known says nothing about it),
// unless the program adopts it: then now, and adopted is true.
func (e *evaluation) onboardedAt() (at *metav1.Time, adopted bool) {
	if e.stored != nil {
		return e.stored.OnboardedAt.DeepCopy(), false
	}
	if e.adopts() {
		t := metav1.NewTime(e.now)
		return &t, true
	}
	return nil, false
}

// adopts reports whether the program adopts the partner as pre-existing: it
// was created (by the API server's clock) before the program's
// spec.onboarding.adoptPartnersCreatedBefore, and that time has passed. A
// cutoff still in the future adopts nobody: adoption is of partners that
// existed before it, never of partners created from now on (set in the future,
// it would skip every new partner's onboarding).
func (e *evaluation) adopts() bool {
	p := e.in.Program
	if p == nil || p.Spec.Onboarding == nil || p.Spec.Onboarding.AdoptPartnersCreatedBefore == nil {
		return false
	}
	cutoff := p.Spec.Onboarding.AdoptPartnersCreatedBefore
	if cutoff.Time.After(e.now) {
		return false
	}
	created := e.in.Partner.CreationTimestamp
	return !created.IsZero() && created.Before(cutoff)
}

// steps is the partner's progress with each of the program's onboarding steps.
// A step once met stays met. Once onboarded, only the steps already tracked
// are kept (those the program still has); new ones no longer apply.
func (e *evaluation) steps(onboarded *metav1.Time) []v1alpha1.OnboardingStepStatus {
	if e.in.Program == nil || e.in.Program.Spec.Onboarding == nil {
		return nil
	}
	stored := map[string]v1alpha1.OnboardingStepStatus{}
	if e.stored != nil {
		for _, s := range e.stored.Onboarding {
			stored[s.Name] = s
		}
	}
	var out []v1alpha1.OnboardingStepStatus
	for _, step := range e.in.Program.Spec.Onboarding.Steps {
		prev, tracked := stored[step.Name]
		if onboarded != nil {
			if tracked {
				out = append(out, *prev.DeepCopy())
			}
			continue
		}
		s := v1alpha1.OnboardingStepStatus{Name: step.Name, Due: metav1.NewTime(e.joinedAt().Add(step.Due.Duration))}
		switch {
		case tracked && prev.MetAt != nil:
			s.State, s.MetAt = v1alpha1.OnboardingStepMet, prev.MetAt.DeepCopy()
		case e.met(step):
			at := metav1.NewTime(e.now)
			s.State, s.MetAt = v1alpha1.OnboardingStepMet, &at
		case !e.now.Before(s.Due.Time):
			s.State = v1alpha1.OnboardingStepOverdue
		default:
			s.State = v1alpha1.OnboardingStepDue
		}
		out = append(out, s)
	}
	return out
}

// met reports whether step is met now: by current, trusted evidence, or by an
// approved readiness claim in force.
func (e *evaluation) met(step v1alpha1.OnboardingStep) bool {
	if r := step.Evidence; r != nil {
		v, ok := e.in.Evidence[r.Metric]
		return ok && tier.Satisfies(r.Operator, v, r.Threshold)
	}
	if c := step.Claim; c != nil {
		return slices.ContainsFunc(e.in.Claims, func(a v1alpha1.ApprovedClaim) bool {
			return a.Kind == c.Kind && (c.Product == "" || a.Product == c.Product) &&
				(a.Expires == nil || e.now.Before(a.Expires.Time))
		})
	}
	return false
}

// overdue lists the overdue steps as probation causes.
func (e *evaluation) overdue(steps []v1alpha1.OnboardingStepStatus) []cause {
	var out []cause
	for _, s := range steps {
		if s.State == v1alpha1.OnboardingStepOverdue {
			out = append(out, cause{v1alpha1.ReasonOnboardingStepOverdue,
				fmt.Sprintf("onboarding step %s was due at %s and is not met", s.Name, stamp(s.Due.Time))})
		}
	}
	return out
}

// riskBreaches lists the Risk metrics whose current, trusted value is above
// their probationAbove, in catalog order.
func (e *evaluation) riskBreaches() []cause {
	if e.in.Program == nil {
		return nil
	}
	var out []cause
	for _, m := range e.in.Program.Spec.Metrics {
		if m.Class != v1alpha1.MetricClassRisk || m.ProbationAbove == "" {
			continue
		}
		v, ok := e.in.Evidence[m.Name]
		if !ok {
			continue
		}
		if c, err := decimal.Compare(v, m.ProbationAbove); err == nil && c > 0 {
			out = append(out, cause{v1alpha1.ReasonRiskThresholdExceeded,
				fmt.Sprintf("Risk metric %s is %s, above its probationAbove %s", m.Name, v, m.ProbationAbove)})
		}
	}
	return out
}

// phase applies the rules in order; reason is the cause's reason on probation.
func (e *evaluation) phase(lc *v1alpha1.PartnerLifecycle, causes []cause) (v1alpha1.LifecyclePhase, string) {
	if e.in.Partner.Spec.Offboarding != nil {
		// The same rule as every other consequence of an offboarding.
		if !e.in.Partner.OffboardingEffective(e.now) {
			return v1alpha1.LifecycleOffboarding, v1alpha1.ReasonOffboardingScheduled
		}
		return v1alpha1.LifecycleOffboarded, v1alpha1.ReasonOffboardingEffective
	}
	if len(causes) > 0 {
		return v1alpha1.LifecycleProbation, causes[0].reason
	}
	if lc.OnboardedAt == nil && slices.ContainsFunc(lc.Onboarding, func(s v1alpha1.OnboardingStepStatus) bool {
		return s.State != v1alpha1.OnboardingStepMet
	}) {
		return v1alpha1.LifecycleOnboarding, v1alpha1.ReasonOnboardingStarted
	}
	return v1alpha1.LifecycleActive, v1alpha1.ReasonInGoodStanding
}

// transitionReason names a move from one phase to another.
func transitionReason(from, to v1alpha1.LifecyclePhase, reason string) string {
	switch {
	case to == v1alpha1.LifecycleProbation || to == v1alpha1.LifecycleOffboarding || to == v1alpha1.LifecycleOffboarded:
		return reason
	case from == v1alpha1.LifecycleOffboarding || from == v1alpha1.LifecycleOffboarded:
		return v1alpha1.ReasonOffboardingCancelled
	case from == v1alpha1.LifecycleProbation:
		return v1alpha1.ReasonProbationLifted
	case to == v1alpha1.LifecycleOnboarding:
		return v1alpha1.ReasonOnboardingStarted
	case from == v1alpha1.LifecycleOnboarding:
		return v1alpha1.ReasonOnboardingComplete
	default:
		return v1alpha1.ReasonInGoodStanding
	}
}

// withhold is the program's spec.probation.withhold.
func (e *evaluation) withhold() []v1alpha1.EntitlementName {
	if e.in.Program == nil || e.in.Program.Spec.Probation == nil {
		return nil
	}
	return e.in.Program.Spec.Probation.Withhold
}

// withheld are the names in withhold that held grants, in held's order.
func withheld(held []v1alpha1.EffectiveEntitlement, withhold []v1alpha1.EntitlementName) []v1alpha1.EntitlementName {
	var out []v1alpha1.EntitlementName
	for _, h := range held {
		if slices.Contains(withhold, h.Name) && !slices.Contains(out, h.Name) {
			out = append(out, h.Name)
		}
	}
	return out
}

// without drops the entitlements named in names; a fresh slice, or nil.
func without(held []v1alpha1.EffectiveEntitlement, names []v1alpha1.EntitlementName) []v1alpha1.EffectiveEntitlement {
	var out []v1alpha1.EffectiveEntitlement
	for _, h := range held {
		if !slices.Contains(names, h.Name) {
			out = append(out, h)
		}
	}
	return out
}

// message explains the phase for people.
func (e *evaluation) message(lc *v1alpha1.PartnerLifecycle, causes []cause) string {
	withheldText := "nothing is withheld"
	if len(lc.Withheld) > 0 {
		withheldText = "withheld: " + joinNames(lc.Withheld)
	}
	probation := ""
	if len(causes) > 0 {
		probation = fmt.Sprintf("; on probation (%s): %s", withheldText, joinCauses(causes))
	}
	switch lc.Phase {
	case v1alpha1.LifecycleOffboarding:
		off := e.in.Partner.Spec.Offboarding
		return fmt.Sprintf("offboarding takes effect at %s (%s); every entitlement is withdrawn then%s", stamp(off.Effective.Time), off.Reason, probation)
	case v1alpha1.LifecycleOffboarded:
		off := e.in.Partner.Spec.Offboarding
		return fmt.Sprintf("offboarded at %s (%s): the partner holds no entitlement; its decision records remain", stamp(off.Effective.Time), off.Reason)
	case v1alpha1.LifecycleProbation:
		return fmt.Sprintf("on probation (%s): %s", withheldText, joinCauses(causes))
	case v1alpha1.LifecycleOnboarding:
		met, next := 0, (*v1alpha1.OnboardingStepStatus)(nil)
		for i := range lc.Onboarding {
			s := &lc.Onboarding[i]
			if s.State == v1alpha1.OnboardingStepMet {
				met++
			} else if next == nil || s.Due.Before(&next.Due) {
				next = s
			}
		}
		return fmt.Sprintf("%d of %d onboarding steps met; next: %s, due at %s", met, len(lc.Onboarding), next.Name, stamp(next.Due.Time))
	default:
		if len(lc.Onboarding) > 0 {
			return "every onboarding step is met; nothing puts the partner on probation"
		}
		return "nothing puts the partner on probation"
	}
}

// setConditions sets the Probation condition and, while the partner is on
// probation or offboarded, Ready's reason and message (Ready stays True: the
// controller applied the partner's state).
func (e *evaluation) setConditions(status *v1alpha1.PartnerStatus, lc *v1alpha1.PartnerLifecycle, causes []cause) {
	gen, now := e.in.Partner.Generation, metav1.NewTime(e.now)
	on := len(causes) > 0
	if on {
		conditions.Set(&status.Conditions, gen, now, v1alpha1.ConditionProbation, metav1.ConditionTrue, causes[0].reason, lc.Message)
	} else {
		msg := "no onboarding step is overdue and no Risk metric is above its probationAbove"
		if lc.Phase == v1alpha1.LifecycleOffboarded {
			msg = "the partner is offboarded"
		}
		conditions.Set(&status.Conditions, gen, now, v1alpha1.ConditionProbation, metav1.ConditionFalse, v1alpha1.ReasonNotOnProbation, msg)
	}
	ready := findCondition(status.Conditions, v1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue {
		return
	}
	switch {
	case lc.Phase == v1alpha1.LifecycleOffboarded:
		conditions.Set(&status.Conditions, gen, now, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonOffboarded, lc.Message)
	case on && !e.in.Partner.Spec.Suspended:
		conditions.Set(&status.Conditions, gen, now, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonOnProbation,
			ready.Message+"; "+lc.Message)
	}
}

// nextDeadline is the earliest unmet step's due time or the offboarding's
// effective time still ahead.
func (e *evaluation) nextDeadline(lc *v1alpha1.PartnerLifecycle) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(e.now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	if off := e.in.Partner.Spec.Offboarding; off != nil {
		consider(off.Effective.Time)
	}
	if lc.Phase != v1alpha1.LifecycleOffboarded {
		for _, s := range lc.Onboarding {
			if s.State == v1alpha1.OnboardingStepDue {
				consider(s.Due.Time)
			}
		}
	}
	return next
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

func joinNames(names []v1alpha1.EntitlementName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

func joinCauses(causes []cause) string {
	s := make([]string, len(causes))
	for i, c := range causes {
		s[i] = c.message
	}
	return strings.Join(s, "; ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
