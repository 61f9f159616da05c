// Package review is the pure state machine that moves an ExceptionRequest along
// its ReviewPath: it resolves the path, counts the reviewers' decisions stage by
// stage, applies stage SLAs, the Funds cap and the grant's expiry, and reports the
// desired status with the transitions it made.
//
// The package makes no Kubernetes client calls. The controller gathers the inputs
// (the request, the ReviewPaths, the program owner and the partner's remaining
// Funds cap), calls Evaluate and writes Result.Status back; the admission webhook
// calls ValidateDecisions and Added on status updates by reviewers.
package review

import (
	"time"

	"github.com/partnergov/partnergov/internal/seal"

	"github.com/partnergov/partnergov/api/v1alpha1"
)

// EscalationStage is the stage name under which a path's escalation owner (or the
// program owner, when no path governs the request) decides. The API reserves it:
// no ReviewPath stage may use it.
const EscalationStage = "escalation"

// MaxHistory is how many transitions status.history keeps; older ones are dropped.
const MaxHistory = 64

// DefaultEscalationSLA is how long the escalation owner may take when the path
// sets no escalationSLA (the API default), or when no path governs the request.
const DefaultEscalationSLA = 72 * time.Hour

// History and event reasons for transitions that are not also condition reasons.
// Resolution transitions use the condition reasons (v1alpha1.ReasonPathResolved,
// ReasonNoMatchingPath, ReasonAmbiguousPath, ReasonPathNotFound).
const (
	ReasonStageEntered  = "StageEntered"
	ReasonStageApproved = "StageApproved"
	ReasonEscalated     = "Escalated"
	ReasonApproved      = "Approved"
	ReasonDenied        = "Denied"
	ReasonExpired       = "Expired"
	ReasonWithdrawn     = "Withdrawn"
	// ReasonNoReviewStage is the Escalated reason when a request's path has no
	// stage outside escalation (the API forbids such paths; this fails closed).
	ReasonNoReviewStage = "NoReviewStage"
)

// Input is everything Evaluate needs; it is not modified.
type Input struct {
	// Now is the evaluation instant.
	Now time.Time
	// Request carries the spec and the currently stored status.
	Request *v1alpha1.ExceptionRequest
	// Paths are all ReviewPaths in the cluster; used only while status.reviewPath is nil.
	Paths []v1alpha1.ReviewPath
	// ProgramOwner is the owner of the partner's PartnerProgram ("" if unknown); it
	// decides requests that no path governs.
	ProgramOwner string
	// PartnerOwner is the partner's relationship owner (Partner.spec.owner): the
	// person closest to the partner, whose decisions on its requests never count.
	PartnerOwner string
	// FundsRemaining, for Funds requests only, is the partner's remaining cap this
	// quarter, not counting this request itself; nil means the partner has no Funds
	// entitlement. It is checked when the path is resolved and again when the
	// request would be approved.
	FundsRemaining *v1alpha1.Money
	// Budget, for Funds requests only, is the program's budget of the quarter
	// the request's approval counts in, with what is committed against it; nil
	// when no budget applies (no limit beyond the partner's cap). It is checked
	// when the request would be approved.
	Budget *Budget
	// PartnerSuspended: the partner is suspended, so a Funds request is denied
	// NotEntitled whatever the cap or allowOverCap say.
	PartnerSuspended bool
	// Withdraw, when not empty, withdraws a pending request with this message: its
	// subject is gone (a TierPromotion whose partner no longer qualifies, a request
	// whose partner no longer exists). WithdrawReason is the condition reason
	// (default NoLongerQualifies).
	Withdraw, WithdrawReason string
	// Seals verify decision seals; nil when sealing is off. A decision whose seal
	// does not verify was written past the webhook and never counts.
	Seals *seal.Keys
	// Partner is the request's partner, nil when unknown. Once its
	// spec.offboarding takes effect a pending request is withdrawn
	// (PartnerOffboarded); until then that instant is a deadline.
	Partner *v1alpha1.Partner
	// Used, when not empty, ends an Approved grant that has been used up (a
	// TierPromotion whose partner dropped below the tier again) with this message.
	Used string
}

// Event is one transition, for the controller to record as a Kubernetes event.
type Event struct {
	Warning         bool
	Reason, Message string
}

// Result is the outcome of one evaluation.
type Result struct {
	// Status is the full desired status; Decisions are copied unchanged.
	Status v1alpha1.ExceptionRequestStatus
	// NextDeadline is the earliest future instant the result can change on its own
	// (the stage deadline or the grant's expiry); nil if none.
	NextDeadline *time.Time
	// Events has one entry per transition made in this evaluation, in order.
	Events []Event
}

// final reports whether a phase is settled: only Approved can still change (to Expired).
func final(p v1alpha1.RequestPhase) bool {
	return p == v1alpha1.PhaseApproved || p == v1alpha1.PhaseDenied || p == v1alpha1.PhaseExpired || p == v1alpha1.PhaseWithdrawn
}
