package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PlanPeriodKind is how long a joint business plan runs.
// +kubebuilder:validation:Enum=Quarter;Year
type PlanPeriodKind string

const (
	// PlanQuarter runs for one calendar quarter.
	PlanQuarter PlanPeriodKind = "Quarter"
	// PlanYear runs for one calendar year.
	PlanYear PlanPeriodKind = "Year"
)

// PlanPeriod is the calendar quarter or year a plan covers, in UTC.
// +kubebuilder:validation:XValidation:rule="self.start.getHours() == 0 && self.start.getMinutes() == 0 && self.start.getSeconds() == 0 && self.start.getDayOfMonth() == 0 && (self.kind == 'Year' ? self.start.getMonth() == 0 : self.start.getMonth() % 3 == 0)",message="start must be the first instant (UTC) of a calendar quarter for a Quarter plan, such as 2026-10-01T00:00:00Z, or of a calendar year for a Year plan, such as 2027-01-01T00:00:00Z",fieldPath=.start
type PlanPeriod struct {
	// kind is Quarter or Year.
	// +required
	Kind PlanPeriodKind `json:"kind"`

	// start is the first instant of the period, in UTC: midnight on the first day
	// of a calendar quarter (January, April, July or October) for a Quarter plan,
	// of January for a Year plan. The period ends where the next one starts.
	// +required
	Start metav1.Time `json:"start"`
}

// PlanGoal is one goal of a plan: a metric of the partner's program catalog and
// the value the partner means to reach by the end of the period.
// +kubebuilder:validation:XValidation:rule="!self.target.startsWith('-') && self.target.matches('[1-9]')",message="target must be greater than zero: a goal is a value to reach",fieldPath=.target
type PlanGoal struct {
	// metric is the name of an Outcome or Enablement metric in the catalog of the
	// partner's program (checked at admission). Progress is measured with the
	// partner's current, trusted evidence of it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`

	// target is the value of the metric the partner means to reach by the end of
	// the period, in the metric's unit, for example "500000". A goal is met when
	// the current value is at least the target.
	// +required
	Target Decimal `json:"target"`

	// description says what the goal stands for, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// PlannedInvestment is the market development funds the company plans to put into
// the plan in one quarter of its period.
type PlannedInvestment struct {
	// quarter is a calendar quarter of the plan's period, such as "2026-Q4".
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-Q[1-4]$`
	Quarter string `json:"quarter"`

	// amount planned for the quarter, in the currency of the partner's funds cap
	// (checked at admission when the partner has one). The funds themselves are
	// still asked for with Funds requests, counted against the cap.
	// +required
	Amount Money `json:"amount"`

	// purpose of the investment, such as "two joint webinars".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Purpose string `json:"purpose,omitempty"`
}

// PlanOwners are the people accountable for a plan on both sides.
type PlanOwners struct {
	// company are the company's owners of the plan (user names or e-mail addresses),
	// such as the partner manager.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Company []string `json:"company"`

	// partner are the partner's owners of the plan (user names or e-mail addresses).
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Partner []string `json:"partner"`
}

// PlanReview records a quarterly business review (QBR) the owners held.
type PlanReview struct {
	// quarter the review covers, such as "2026-Q4"; a quarter of the plan's period.
	// +required
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-Q[1-4]$`
	Quarter string `json:"quarter"`

	// heldAt is when the review took place.
	// +required
	HeldAt metav1.Time `json:"heldAt"`

	// summary of what the review concluded.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Summary string `json:"summary,omitempty"`
}

// JointBusinessPlanSpec is what the company and one partner plan together for a
// quarter or a year. Its partner and period never change; its goals, investments
// and owners are what an approval approves: changing them after approval opens a
// new BusinessPlan request, and the plan counts as approved again only once that
// request is approved.
type JointBusinessPlanSpec struct {
	// partner is the name of the Partner, in the same namespace, the plan is with.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="partner cannot change: write a new plan for another partner"
	Partner string `json:"partner"`

	// period is the calendar quarter or year the plan covers.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="period cannot change: write a new plan for another period"
	Period PlanPeriod `json:"period"`

	// goals are the metrics and targets the plan commits to, one per metric.
	// +required
	// +listType=map
	// +listMapKey=metric
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Goals []PlanGoal `json:"goals"`

	// investments are the funds planned by quarter, one entry per quarter, all in
	// one currency.
	// +optional
	// +listType=map
	// +listMapKey=quarter
	// +kubebuilder:validation:MaxItems=4
	// +kubebuilder:validation:XValidation:rule="self.all(i, i.amount.currency == self[0].amount.currency)",message="every investment must be in the same currency (the partner's funds cap currency): amounts in different currencies are never added"
	Investments []PlannedInvestment `json:"investments,omitempty"`

	// owners are the people accountable for the plan on both sides.
	// +required
	Owners PlanOwners `json:"owners"`

	// reviews are the quarterly business reviews the owners held, one per
	// quarter of the period. The review of a quarter is due at the quarter's end
	// and overdue once the program's businessPlans.reviewSLA has passed after it.
	// Recording a review needs no new approval.
	// +optional
	// +listType=map
	// +listMapKey=quarter
	// +kubebuilder:validation:MaxItems=4
	Reviews []PlanReview `json:"reviews,omitempty"`

	// author is who wrote the plan's current goals, investments and owners: the
	// server sets it from the authenticated identity when the plan is created and
	// whenever they change (a value written by the user is replaced; recording a
	// review keeps it). The author, like the owners, is on the requester side of
	// the plan's BusinessPlan request and may decide none of its stages.
	// +optional
	Author *UserInfo `json:"author,omitempty"`
}

// PlanPhase is where a plan is.
// +kubebuilder:validation:Enum=PendingApproval;Approved;Denied;Ended
type PlanPhase string

const (
	// PlanPendingApproval: the BusinessPlan request for the plan's current goals,
	// investments and owners waits for review (or is about to be opened).
	PlanPendingApproval PlanPhase = "PendingApproval"
	// PlanApproved: the request for the current content was approved.
	PlanApproved PlanPhase = "Approved"
	// PlanDenied: the request for the current content was denied, expired or was
	// withdrawn; change the plan to ask again.
	PlanDenied PlanPhase = "Denied"
	// PlanEnded: the period is over.
	PlanEnded PlanPhase = "Ended"
)

// GoalState is how a goal stands against current evidence.
// +kubebuilder:validation:Enum=Met;OnTrack;Behind
type GoalState string

const (
	// GoalMet: the current value is at least the target.
	GoalMet GoalState = "Met"
	// GoalOnTrack: not met, but the current value is at least the target's pro-rata
	// share of the period elapsed (expected).
	GoalOnTrack GoalState = "OnTrack"
	// GoalBehind: the current value is below expected (no current, trusted
	// evidence counts as zero).
	GoalBehind GoalState = "Behind"
)

// GoalProgress is one goal measured against the partner's current evidence.
type GoalProgress struct {
	// metric of the goal.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Metric string `json:"metric"`

	// target of the goal.
	// +required
	Target Decimal `json:"target"`

	// current is the partner's current, trusted value of the metric (fresh, from a
	// trusted reporter, or computed from won deals); absent when there is none,
	// which counts as zero.
	// +optional
	Current Decimal `json:"current,omitempty"`

	// expected is the value a linear path to the target has reached by now: the
	// target times the share of the period elapsed, rounded to 9 fractional digits.
	// +required
	Expected Decimal `json:"expected"`

	// state is Met (current >= target), OnTrack (current >= expected) or Behind.
	// +required
	State GoalState `json:"state"`
}

// PlanAttainment counts a plan's goals by state.
type PlanAttainment struct {
	// met counts the goals met.
	// +optional
	Met int32 `json:"met,omitempty"`
	// onTrack counts the goals on track.
	// +optional
	OnTrack int32 `json:"onTrack,omitempty"`
	// behind counts the goals behind.
	// +optional
	Behind int32 `json:"behind,omitempty"`
}

// JointBusinessPlanStatus is the plan's approval, its goals' progress and its reviews.
type JointBusinessPlanStatus struct {
	// observedGeneration is the generation the controller last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase is PendingApproval, Approved, Denied or Ended.
	// +optional
	Phase PlanPhase `json:"phase,omitempty"`

	// request is the BusinessPlan ExceptionRequest that reviews the plan's
	// current goals, investments and owners.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Request string `json:"request,omitempty"`

	// approvedAt is when that request was approved.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`

	// goals are the plan's goals measured against current evidence, in spec order.
	// +optional
	// +listType=map
	// +listMapKey=metric
	// +kubebuilder:validation:MaxItems=16
	Goals []GoalProgress `json:"goals,omitempty"`

	// attainment counts goals by state.
	// +optional
	Attainment *PlanAttainment `json:"attainment,omitempty"`

	// nextReviewDue is the end of the earliest quarter of the period, up to now,
	// whose review is not recorded (or of the current quarter when all are):
	// when its QBR is due.
	// +optional
	NextReviewDue *metav1.Time `json:"nextReviewDue,omitempty"`

	// reviewOverdueSince is when the missing review became overdue: nextReviewDue
	// plus the program's businessPlans.reviewSLA. Absent while no review is overdue.
	// +optional
	ReviewOverdueSince *metav1.Time `json:"reviewOverdueSince,omitempty"`

	// conditions: Approved, ReviewOverdue and Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// JointBusinessPlan is what the company and a partner plan together for a quarter
// or a year: goals on catalog metrics, planned investments and owners on both
// sides. It is approved through a review path (an ExceptionRequest of type
// BusinessPlan the controller opens); a tier may require an approved, current plan.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=jbp;plan,categories=partnergov
// +kubebuilder:selectablefield:JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Partner",type=string,JSONPath=`.spec.partner`
// +kubebuilder:printcolumn:name="Period",type=string,JSONPath=`.spec.period.kind`
// +kubebuilder:printcolumn:name="Start",type=string,JSONPath=`.spec.period.start`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Met",type=integer,JSONPath=`.status.attainment.met`
// +kubebuilder:printcolumn:name="Behind",type=integer,JSONPath=`.status.attainment.behind`
// +kubebuilder:printcolumn:name="Review Due",type=string,JSONPath=`.status.nextReviewDue`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type JointBusinessPlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the plan.
	// +required
	Spec JointBusinessPlanSpec `json:"spec"`

	// status is written by the controller.
	// +optional
	Status JointBusinessPlanStatus `json:"status,omitempty"`
}

// JointBusinessPlanList is a list of JointBusinessPlans.
// +kubebuilder:object:root=true
type JointBusinessPlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JointBusinessPlan `json:"items"`
}

// BusinessPlanRules are how a program reviews joint business plans.
// +kubebuilder:validation:XValidation:rule="!has(self.reviewSLA) || duration(self.reviewSLA) > duration('0s')",message="reviewSLA must be a positive duration such as 336h",fieldPath=.reviewSLA
type BusinessPlanRules struct {
	// reviewPath names the ReviewPath BusinessPlan requests are reviewed through;
	// when empty, the path whose appliesTo matches BusinessPlan, or the program
	// owner by escalation.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ReviewPath string `json:"reviewPath,omitempty"`

	// reviewSLA is how long after a quarter ends its business review may still be
	// recorded before it is overdue, for example "336h" (14 days).
	// +optional
	// +kubebuilder:default="336h"
	ReviewSLA *metav1.Duration `json:"reviewSLA,omitempty"`
}

// Conditions and reasons of joint business plans, and the partner condition
// reason of a tier that waits for one.
const (
	// ConditionReviewOverdue: a quarterly business review of an approved plan was
	// not recorded within the program's reviewSLA after its quarter ended.
	ConditionReviewOverdue = "ReviewOverdue"

	// ReasonPlanApproved: the request for the plan's current content was approved.
	ReasonPlanApproved = "PlanApproved"
	// ReasonPlanAwaiting: the request for the plan's current content waits for review.
	ReasonPlanAwaiting = "AwaitingApproval"
	// ReasonPlanDenied: the request for the plan's current content was not approved.
	ReasonPlanDenied = "PlanDenied"
	// ReasonPlanEnded: the plan's period is over.
	ReasonPlanEnded = "PlanEnded"
	// ReasonReviewMissed: a quarter's business review is overdue.
	ReasonReviewMissed = "ReviewMissed"
	// ReasonReviewsRecorded: no business review is overdue.
	ReasonReviewsRecorded = "ReviewsRecorded"
	// ReasonPlanNotApproved: reviews are only due for an approved plan.
	ReasonPlanNotApproved = "NotApproved"
	// ReasonBusinessPlanRequired on a partner's PromotionPending (or TierAtRisk)
	// condition: current evidence meets a tier that requires an approved, current
	// JointBusinessPlan, and the partner has none, so it qualifies no higher than
	// the tier below.
	ReasonBusinessPlanRequired = "BusinessPlanRequired"
)

// DefaultPlanReviewSLA is BusinessPlanRules.ReviewSLA's default: 14 days.
const DefaultPlanReviewSLA = 14 * 24 * time.Hour

// PlanReviewSLA is how long after a quarter ends program p still accepts its review.
func PlanReviewSLA(p *PartnerProgram) time.Duration {
	if p == nil || p.Spec.BusinessPlans == nil || p.Spec.BusinessPlans.ReviewSLA == nil || p.Spec.BusinessPlans.ReviewSLA.Duration <= 0 {
		return DefaultPlanReviewSLA
	}
	return p.Spec.BusinessPlans.ReviewSLA.Duration
}

// PlanRequestName is the name of the BusinessPlan request that reviews plan
// content with the given digest (internal/plan.Digest): a change of the content
// asks for a new approval under a new name.
func PlanRequestName(plan, digest string) string {
	if len(digest) > 10 {
		digest = digest[:10]
	}
	return shortName(plan + "-plan-" + digest)
}

func init() {
	SchemeBuilder.Register(&JointBusinessPlan{}, &JointBusinessPlanList{})
}
