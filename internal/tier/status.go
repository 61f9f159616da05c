package tier

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/conditions"
)

// maxDecisionMessage is the API's limit on TierDecision.Message.
const maxDecisionMessage = 1024

// verdict is one condition's desired status, reason and message.
type verdict struct {
	ok      bool
	reason  string
	message string
}

// setConditions sets the partner's conditions from the evaluation (rule 2), keeping
// the transition time of every condition whose status does not change.
func (e *evaluation) setConditions(conds *[]metav1.Condition, o outcome) {
	now := metav1.NewTime(e.now)
	type cond struct {
		typ string
		v   verdict
	}
	all := []cond{
		{v1alpha1.ConditionEvidenceCurrent, e.evidenceCurrent()},
		{v1alpha1.ConditionEvidenceTrusted, e.evidenceTrusted()},
		{v1alpha1.ConditionTierAtRisk, e.tierAtRisk(o)},
		{v1alpha1.ConditionPromotionPending, promotionPending(o)},
		{v1alpha1.ConditionReady, e.ready(o)},
	}
	if e.programMissing {
		// Evidence cannot be judged without the catalog: those conditions keep
		// what the last evaluation with the program said.
		all = all[2:]
	}
	for _, c := range all {
		conditions.Set(conds, e.partner.Generation, now, c.typ, conditions.Status(c.v.ok), c.v.reason, c.v.message)
	}
}

func (e *evaluation) evidenceCurrent() verdict {
	if len(e.evidence.stale) == 0 {
		return verdict{true, v1alpha1.ReasonEvidenceFresh, "all trusted evidence is within its freshness window"}
	}
	parts := make([]string, 0, len(e.evidence.stale))
	for _, s := range e.evidence.stale {
		parts = append(parts, fmt.Sprintf("metric %s went stale at %s", s.metric, stamp(s.at)))
	}
	return verdict{false, v1alpha1.ReasonEvidenceStale, "stale evidence does not count: " + strings.Join(parts, "; ")}
}

func (e *evaluation) evidenceTrusted() verdict {
	if len(e.evidence.ignored) == 0 {
		return verdict{true, v1alpha1.ReasonEvidenceTrusted, "all evidence was reported by identities the catalog trusts"}
	}
	parts := make([]string, 0, len(e.evidence.ignored))
	for _, i := range e.evidence.ignored {
		parts = append(parts, i.why)
	}
	return verdict{false, v1alpha1.ReasonUntrustedEvidence, "ignored evidence: " + strings.Join(parts, "; ")}
}

func (e *evaluation) tierAtRisk(o outcome) verdict {
	switch {
	case o.deadline != nil && o.held != nil && e.ladder.meets[o.held.Name] && !e.ladder.qualifies[o.held.Name]:
		return verdict{true, v1alpha1.ReasonBusinessPlanRequired, fmt.Sprintf(
			"tier %s requires an approved, current joint business plan and the partner has none; it will be demoted at %s unless one is approved",
			o.held.Name, stamp(o.deadline.Time))}
	case o.deadline != nil:
		return verdict{true, v1alpha1.ReasonGracePeriod, fmt.Sprintf(
			"the partner no longer qualifies for tier %s and will be demoted at %s unless its evidence recovers",
			nameOf(o.held), stamp(o.deadline.Time))}
	case o.held == nil:
		return verdict{false, v1alpha1.ReasonQualified, "the partner holds no tier"}
	case rank(o.qualified) < rank(o.held):
		return verdict{false, v1alpha1.ReasonQualified, fmt.Sprintf(
			"tier %s is held by exception request %s%s", o.held.Name, o.floorGrant.Request, until(o.floorGrant.Expires))}
	default:
		return verdict{false, v1alpha1.ReasonQualified, fmt.Sprintf(
			"current evidence qualifies the partner for tier %s", nameOf(o.qualified))}
	}
}

func promotionPending(o outcome) verdict {
	if o.pending != nil {
		p := o.promotion
		switch {
		case p.denied != "":
			return verdict{true, v1alpha1.ReasonPromotionDenied, fmt.Sprintf(
				"the partner qualifies for tier %s, but TierPromotion request %s was denied; a new request opens at %s, or sooner if the qualifying evidence changes",
				o.pending.Name, p.denied, stamp(*p.retryAt))}
		case p.open != "":
			return verdict{true, v1alpha1.ReasonAwaitingReview, fmt.Sprintf(
				"the partner qualifies for tier %s; the promotion waits for TierPromotion request %s under review path %s",
				o.pending.Name, p.open, o.pending.Spec.PromotionReviewPath)}
		case p.toOpen != nil:
			return verdict{true, v1alpha1.ReasonAwaitingReview, fmt.Sprintf(
				"the partner qualifies for tier %s; the promotion waits for TierPromotion request %s under review path %s",
				o.pending.Name, p.toOpen.Name, o.pending.Spec.PromotionReviewPath)}
		}
		return verdict{true, v1alpha1.ReasonAwaitingReview, fmt.Sprintf(
			"the partner qualifies for tier %s; the promotion waits for an approved TierPromotion request under review path %s",
			o.pending.Name, o.pending.Spec.PromotionReviewPath)}
	}
	if t := o.waitingForPlan; t != nil {
		return verdict{true, v1alpha1.ReasonBusinessPlanRequired, fmt.Sprintf(
			"current evidence meets every requirement of tier %s, which requires an approved, current joint business plan; the partner has none, so it qualifies no higher than %s until one is approved",
			t.Name, describe(nameOf(o.qualified)))}
	}
	if o.held == nil {
		return verdict{false, v1alpha1.ReasonNotQualified, "no tier the partner qualifies for waits for review"}
	}
	return verdict{false, v1alpha1.ReasonNotQualified, fmt.Sprintf(
		"no tier above %s that the partner qualifies for waits for review", o.held.Name)}
}

func (e *evaluation) ready(o outcome) verdict {
	if e.programMissing {
		return verdict{false, v1alpha1.ReasonProgramNotFound, fmt.Sprintf(
			"program %q does not exist: no evidence can be judged, so nothing new is decided; grants still expire and running demotion deadlines still apply; the partner holds %s",
			e.partner.Spec.Program, describe(nameOf(o.held)))}
	}
	if e.partner.Spec.Suspended {
		return verdict{true, v1alpha1.ReasonPartnerSuspended, fmt.Sprintf(
			"the partner is suspended: every entitlement is withdrawn while it holds %s", describe(nameOf(o.held)))}
	}
	return verdict{true, v1alpha1.ReasonReconciled, "the partner holds " + describe(nameOf(o.held))}
}

// decision builds the record of a move from tier from to o.held (rule 9). The tier
// that decided is the new one when the partner moved up and the lost one when it
// moved down; its requirements select the evidence recorded.
func (e *evaluation) decision(from string, o outcome) v1alpha1.TierDecision {
	lost := e.ladder.byName[from]
	decider := o.held
	if rank(o.held) <= rank(lost) {
		decider = lost
	}
	d := v1alpha1.TierDecision{
		Time:              metav1.NewTime(e.now),
		From:              from,
		To:                nameOf(o.held),
		Reason:            o.reason,
		Message:           truncate(e.decisionMessage(from, o), maxDecisionMessage),
		ProgramGeneration: e.programGeneration(),
		Request:           o.request,
	}
	if decider != nil {
		d.Evidence = e.evidence.valuesFor(decider.Spec.Requirements)
		d.TierGeneration = decider.Generation
	}
	return d
}

// programGeneration is the applied catalog's generation; 0 without a program.
func (e *evaluation) programGeneration() int64 {
	if e.program == nil {
		return 0
	}
	return e.program.Generation
}

// decisionMessage explains a move for people.
func (e *evaluation) decisionMessage(from string, o outcome) string {
	to := nameOf(o.held)
	switch o.reason {
	case v1alpha1.ReasonPromoted:
		msg := fmt.Sprintf("Promoted from %s to %s: current, trusted evidence meets every requirement of tier %s.",
			describe(from), describe(to), to)
		if o.request != "" {
			msg += fmt.Sprintf(" The promotion was approved by request %s.", o.request)
		}
		return msg
	case v1alpha1.ReasonDemoted:
		return fmt.Sprintf("Demoted from %s to %s: evidence stopped meeting the requirements of tier %s and did not recover by the demotion deadline %s.",
			describe(from), describe(to), from, stamp(o.demotedAt.Time))
	case v1alpha1.ReasonUnexplainedTier:
		return fmt.Sprintf("Tier %s was stored without a sealed decision that gave it (written past the admission webhooks); recomputed from current evidence without a grace period: %s.",
			describe(from), describe(to))
	case v1alpha1.ReasonStatusBehindRecords:
		return fmt.Sprintf("The stored status (tier %s) is older than the partner's records: its newest recorded tier decision is missing from status.history, so newer decisions were cut from it (written past the admission webhooks). Recomputed from current evidence without a grace period: %s.",
			describe(from), describe(to))
	case v1alpha1.ReasonTierRemoved:
		return fmt.Sprintf("Tier %s no longer exists in program %s; moved to %s, as current evidence allows.",
			from, e.partner.Spec.Program, describe(to))
	case v1alpha1.ReasonExceptionExpired:
		return fmt.Sprintf("Moved from %s to %s: exception request %s, which held tier %s, is no longer in force; the partner drops at once to what its current evidence gives.",
			describe(from), describe(to), o.request, from)
	case v1alpha1.ReasonTierException:
		return fmt.Sprintf("Moved from %s to %s: exception request %s grants tier %s%s, above what current evidence supports.",
			describe(from), describe(to), o.request, to, until(o.floorGrant.Expires))
	default:
		return fmt.Sprintf("Moved from %s to %s.", describe(from), describe(to))
	}
}

// describe names a tier in a sentence.
func describe(tier string) string {
	if tier == "" {
		return "no tier"
	}
	return "tier " + tier
}

// until describes an optional expiry.
func until(expires *time.Time) string {
	if expires == nil {
		return ""
	}
	return " until " + stamp(*expires)
}

// stamp formats an instant for messages.
func stamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// truncate shortens s to at most n bytes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
