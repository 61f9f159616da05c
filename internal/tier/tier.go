// Package tier computes a partner's tier, entitlements and conditions from its
// reported evidence, its program's metric catalog, the program's tiers and the
// approved exceptions in force. It is pure: it reads no cluster state and changes
// none of its input, so the controller, the webhooks and tests share one answer.
package tier

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/partnergov/partnergov/api/v1alpha1"
	"github.com/partnergov/partnergov/internal/seal"
)

// Grant is an approved exception request in force for the partner; the controller
// builds these from approved ExceptionRequests.
type Grant struct {
	// Request is the ExceptionRequest's name.
	Request string
	// Type is TierException, IncentiveException or TierPromotion; other types are ignored.
	Type v1alpha1.RequestType
	// Tier is the tier granted, for TierException and TierPromotion.
	Tier string
	// Entitlements are the entitlements added, for IncentiveException.
	Entitlements []v1alpha1.EntitlementName
	// Expires is when the grant lapses (it is ignored from then on); nil for never.
	Expires *time.Time
}

// Input is everything one evaluation depends on.
type Input struct {
	// Now is the evaluation time.
	Now time.Time
	// Program is the partner's program; nil when it does not exist.
	Program *v1alpha1.PartnerProgram
	// Tiers are the program's tiers, in any order.
	Tiers []v1alpha1.PartnerTier
	// Partner is the partner with its currently stored status.
	Partner *v1alpha1.Partner
	// Grants are the approved exceptions for the partner.
	Grants []Grant
	// Promotions are the partner's TierPromotion requests in every phase
	// (PromotionsFrom), so a denial is not asked again at once and a new request
	// never reuses an old name.
	Promotions []Promotion
	// Computed are the partner's Deals metrics, computed from its won deals
	// (deal.Metrics): they count as current evidence; stored entries of those
	// metrics never do.
	Computed []v1alpha1.EvidenceEntry
	// CurrentPlan names the partner's approved JointBusinessPlan whose period
	// contains Now (plan.Current); "" when it has none. A tier with
	// requiresBusinessPlan qualifies nobody without one.
	CurrentPlan string
	// Recorded names the partner's newest recorded tier decision, from its
	// RecordChain (sealed); nil when unknown. A history that holds neither it
	// nor a sealed decision after it was rolled back past its records
	// (StatusBehindRecords), and the tier it claims is recomputed at once.
	Recorded *v1alpha1.RecordedDecision
	// NewestRecorded names the partner's newest recorded tier decision as its
	// RecordChain head names it (sealed), whether or not the history is behind
	// it (the cached head will do: a head never names a decision before its
	// record is written ahead); nil when unknown. The decisions before it are
	// recorded: status.history drops them (Present).
	NewestRecorded *v1alpha1.RecordedDecision
	// Seals verify evidence seals and seal tier decisions; nil when sealing is off.
	// With sealing on, unsealed evidence does not count, and a stored tier that no
	// sealed decision explains is recomputed from evidence at once.
	Seals *seal.Keys
}

// Result is the outcome of one evaluation.
type Result struct {
	// Status is the partner's full desired status. Evidence, Funds and
	// ReadinessClaims are copied unchanged from the stored status.
	Status v1alpha1.PartnerStatus
	// NextDeadline is the earliest instant after Now at which the result could change
	// without any input changing (evidence going stale, the demotion deadline, a
	// grant expiring); nil if there is none.
	NextDeadline *time.Time
	// Decision is the tier change made by this evaluation (also appended to
	// Status.History); nil when the tier did not change.
	Decision *v1alpha1.TierDecision
	// PromotionRequest names the tier for which a TierPromotion request should be
	// opened: the partner qualifies for it, it has a promotion review path and no
	// approved TierPromotion grant. Empty otherwise.
	PromotionRequest string
	// Promotion is the TierPromotion request to create now: none is under review
	// for PromotionRequest, and no recent denial on the same evidence holds one
	// back. Nil otherwise.
	Promotion *PromotionToOpen
}

// evaluation holds what one Evaluate call derives from its Input.
type evaluation struct {
	now        time.Time
	program    *v1alpha1.PartnerProgram
	partner    *v1alpha1.Partner
	evidence   evidence
	ladder     ladder
	grants     grants
	promotions []Promotion
	// programMissing: the partner's program does not exist. Nothing new is
	// decided from evidence, but grants still expire and running deadlines fire.
	programMissing bool
	seals          *seal.Keys
	// recorded is the partner's newest recorded tier decision; nil when unknown.
	recorded *v1alpha1.RecordedDecision
}

// Evaluate computes the partner's desired status from in. It does not modify in:
// everything it returns is freshly allocated. Evaluating again with the returned
// Status stored (and nothing else changed) returns the same Status and no Decision.
func Evaluate(in Input) Result {
	if in.Partner == nil {
		return Result{}
	}
	now := in.Now.Round(0) // drop the monotonic reading: status times must compare as stored
	status := in.Partner.Status.DeepCopy()
	status.ObservedGeneration = in.Partner.Generation

	e := newEvaluation(in, now)
	o := e.decide()
	decision := e.applyTier(status, o)
	status.QualifiedTier = nameOf(o.qualified)
	status.DemotionDeadline = o.deadline
	status.Entitlements = entitlements(o.held, e.grants.ofType(v1alpha1.RequestIncentiveException), in.Partner.Spec.Suspended)
	status.Grants = e.grants.status(o, e.ladder, metav1.NewTime(now), in.Seals, string(in.Partner.UID))
	status.Enablement = requiredEnablement(o.held, e.ladder)
	if decision != nil {
		// Only with a decision: dropping what is recorded is never a write of
		// its own (it would double the status writes of every decision, the
		// cost issue 28 is about); the history sheds it with the next one.
		status.History = Present(in.Seals, in.Partner, status.History, in.NewestRecorded, e.grants.ofType(v1alpha1.RequestTierPromotion))
	}
	e.setConditions(&status.Conditions, o)

	return Result{
		Status:           *status,
		NextDeadline:     e.nextDeadline(o),
		Decision:         decision,
		PromotionRequest: nameOf(o.pending),
		Promotion:        o.promotion.toOpen,
	}
}

// newEvaluation sorts the evidence, orders the tiers and filters the grants. A
// missing program leaves an empty catalog: no evidence counts.
func newEvaluation(in Input, now time.Time) *evaluation {
	var catalog map[string]v1alpha1.MetricDefinition
	program := in.Partner.Spec.Program
	if in.Program != nil {
		catalog, program = catalogOf(in.Program), in.Program.Name
	}
	uid := string(in.Partner.UID)
	ev := sortEvidence(in.Partner.Status.Evidence, in.Computed, catalog, now, func(e v1alpha1.EvidenceEntry) bool {
		return in.Seals.Verify(e.Seal, seal.Evidence(uid, e)...)
	})
	l := newLadder(in.Tiers, program, catalog, ev, in.CurrentPlan != "")
	return &evaluation{
		now:            now,
		program:        in.Program,
		partner:        in.Partner,
		evidence:       ev,
		ladder:         l,
		grants:         activeGrants(in.Grants, in.Partner, in.Seals, l, now),
		promotions:     in.Promotions,
		programMissing: in.Program == nil,
		seals:          in.Seals,
		recorded:       in.Recorded,
	}
}

// applyTier writes the held tier into status and, when it changed, records the
// decision in the history and returns a copy of it.
func (e *evaluation) applyTier(status *v1alpha1.PartnerStatus, o outcome) *v1alpha1.TierDecision {
	from := status.Tier
	status.TierRank = nil
	if o.held != nil {
		r := o.held.Spec.Rank
		status.TierRank = &r
	}
	if nameOf(o.held) == from && o.reason != v1alpha1.ReasonUnexplainedTier && o.reason != v1alpha1.ReasonStatusBehindRecords {
		return nil
	}
	d := e.decision(from, o)
	e.seals.NextTier(string(e.partner.UID), status.History, &d)
	status.Tier = nameOf(o.held)
	since := metav1.NewTime(e.now)
	status.TierSince = &since
	status.History = appendHistory(status.History, d)
	return d.DeepCopy()
}

// appendHistory appends d and keeps the newest v1alpha1.MaxHistory decisions.
func appendHistory(history []v1alpha1.TierDecision, d v1alpha1.TierDecision) []v1alpha1.TierDecision {
	history = append(history, d)
	if n := len(history); n > v1alpha1.MaxHistory {
		history = append([]v1alpha1.TierDecision(nil), history[n-v1alpha1.MaxHistory:]...)
	}
	return history
}

// nextDeadline is rule 11: the earliest instant after now at which a counted entry
// goes stale, the demotion deadline passes or a grant expires.
func (e *evaluation) nextDeadline(o outcome) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(e.now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	for _, c := range e.evidence.counted {
		consider(c.staleAt) // zero for computed entries: never stale
	}
	if o.deadline != nil {
		consider(o.deadline.Time)
	}
	for _, g := range e.grants {
		if g.Expires != nil {
			consider(*g.Expires)
		}
	}
	if o.promotion.retryAt != nil {
		consider(*o.promotion.retryAt)
	}
	return next
}

// CurrentValues are the partner's values that count now, by metric: fresh,
// reported by a trusted identity (and sealed, with sealing on), or computed from
// won deals (in.Computed), exactly as the tier rules count them; with the
// earliest instant after in.Now at which one of them goes stale (nil for none).
// Nil without a partner or program.
func CurrentValues(in Input) (map[string]v1alpha1.Decimal, *time.Time) {
	if in.Partner == nil || in.Program == nil {
		return nil, nil
	}
	now := in.Now.Round(0)
	e := newEvaluation(in, now)
	out := make(map[string]v1alpha1.Decimal, len(e.evidence.counted))
	var next *time.Time
	for m, c := range e.evidence.counted {
		out[m] = c.Value
		if t := c.staleAt; t.After(now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	return out, next
}
